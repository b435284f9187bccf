"""``sweeps report`` and ``sweeps ui``: reading what sweeps recorded."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from sweeps.commands.common import add_project_options, add_store_options
from sweeps.defaults import UI_HOST, UI_PORT
from sweeps.errors import EXIT_OK, ConfigError, StoreError


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``report`` and ``ui`` to the command line."""
    report = commands.add_parser("report", parents=[common], help=cmd_report.__doc__, description=cmd_report.__doc__)
    report.add_argument("names", nargs="+", metavar="NAME", help="one sweep, or several sharing a parameter")
    report.add_argument("--by", nargs="+", metavar="PARAM", help="parameters to group by (default: those the sweep varied)")
    report.add_argument("--format", choices=("table", "markdown", "csv"), default="table")
    report.add_argument("--where", help="an MLflow filter, e.g. \"params.activation = 'tanh'\"")
    report.add_argument("--study", help="a study of the sweep, or 'all' (default: the sweep's own, else the latest)")
    report.add_argument("--plots", metavar="DIR", help="also write comparison plots into DIR")
    add_store_options(report)
    add_project_options(report)
    report.set_defaults(handler=cmd_report)

    ui = commands.add_parser("ui", parents=[common], help=cmd_ui.__doc__, description=cmd_ui.__doc__)
    ui.add_argument("--port", type=int, default=UI_PORT)
    ui.add_argument("--host", default=UI_HOST, help="address to listen on (default: this machine only)")
    add_store_options(ui, storage=False)
    ui.set_defaults(handler=cmd_ui)


def cmd_report(args: argparse.Namespace) -> int:
    """Compare a sweep's trials by parameter: mean +- std, best, test metric, peak epoch, significance."""
    from pathlib import Path

    from sweeps.reporting import report
    from sweeps.tracking import query

    trials = query.runs(args.names, args.tracking_uri, args.where, args.study)
    if trials.empty:
        raise ConfigError(f"no trials of {', '.join(args.names)} match" + (f" --where {args.where!r}" if args.where else ""))
    for sweep, group in trials.groupby("sweep"):
        if group["study"].nunique() == 1 and args.study is None:
            print(f"{sweep}: study {group['study'].iloc[0]}, {len(group)} trial(s)", file=sys.stderr)
    by = args.by or _swept(args, args.names) or report.varied(trials)
    samples = query.samples(args.names, args.tracking_uri, args.where, args.study)
    curves = query.curves(args.names, args.tracking_uri, args.where, args.study)
    result = report.build(trials, samples, curves, by)
    print(result.render(args.format))
    if args.plots:
        from sweeps.reporting.plots import write_sweep_plots

        study = _optuna_study(args, trials) if (trials["engine"] == "optuna").all() and len(args.names) == 1 else None
        for path in write_sweep_plots(trials, curves, by, result.metric, Path(args.plots), study):
            print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


def cmd_ui(args: argparse.Namespace) -> int:
    """Start the MLflow UI on this project's store (Ctrl-C stops it)."""
    import subprocess

    from sweeps.tracking.stores import Stores, mask

    uri = Stores.resolve(args.tracking_uri).tracking_uri
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", args.host, "--port", str(args.port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    print(f"MLflow UI for {mask(uri)} at http://{args.host}:{args.port} (Ctrl-C to stop)", flush=True)
    try:
        _, errors = server.communicate()
    except KeyboardInterrupt:
        server.terminate()
        server.wait(timeout=30)
        return EXIT_OK
    last = (errors or "").strip().splitlines()
    raise StoreError(f"the MLflow UI stopped (exit {server.returncode}): {last[-1] if last else 'no message'}")


def _swept(args: argparse.Namespace, names: Sequence[str]) -> list[str]:
    """The params the sweeps' search-space files vary, where those files are at hand."""
    import yaml

    from sweeps.spec.catalog import catalog

    known, swept = catalog(args.project, args.spaces), []
    for name in names:
        try:
            swept += list((yaml.safe_load(known[name].path.read_text()) or {}).get("params", {}))
        except (KeyError, OSError, yaml.YAMLError, AttributeError):
            return []
    return list(dict.fromkeys(swept))


def _optuna_study(args: argparse.Namespace, trials: Any) -> Any:
    from sweeps.reporting.optuna_plots import load_study
    from sweeps.tracking.stores import Stores

    return load_study(trials["study"].iloc[0], Stores.resolve(storage=args.storage).storage)
