"""``sweeps report`` and ``sweeps ui``: reading what sweeps recorded."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import yaml

from sweeps.commands.common import spaces_dir
from sweeps.errors import EXIT_OK, ConfigError, StoreError


def cmd_report(args: argparse.Namespace) -> int:
    """Compare a sweep's trials by parameter: mean +- std, best, test metric, peak epoch, significance."""
    from sweeps import query, report
    from sweeps.plots import write_sweep_plots

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
        study = _optuna_study(args, trials) if (trials["engine"] == "optuna").all() and len(args.names) == 1 else None
        for path in write_sweep_plots(trials, curves, by, result.metric, args.plots, study):
            print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


def cmd_ui(args: argparse.Namespace) -> int:
    """Start the MLflow UI on this project's store (Ctrl-C stops it)."""
    import subprocess

    from sweeps.stores import Stores, mask

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or Stores.resolve().tracking_uri
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
    swept: list[str] = []
    for name in names:
        path = spaces_dir(args) / f"{name}.yaml"
        try:
            swept += list((yaml.safe_load(path.read_text()) or {}).get("params", {}))
        except (OSError, yaml.YAMLError, AttributeError):
            return []
    return list(dict.fromkeys(swept))


def _optuna_study(args: argparse.Namespace, trials: object) -> object:
    import optuna

    from sweeps.stores import Stores

    try:
        return optuna.load_study(study_name=trials["study"].iloc[0], storage=Stores.resolve(storage=args.storage).storage)
    except Exception:  # plots of the study are a bonus: the MLflow ones are written regardless
        return None
