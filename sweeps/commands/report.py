"""``sweeps report``: the answer to a sweep's question, from what it recorded."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sweeps.commands.common import add_command, add_project_options, add_store_options, check_readable
from sweeps.errors import EXIT_OK, ConfigError


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``report`` to the command line."""
    report = add_command(commands, common, "report", cmd_report)
    report.add_argument("names", nargs="+", metavar="NAME", help="one sweep, or several sharing a parameter")
    report.add_argument("--by", nargs="+", metavar="PARAM", help="parameters to group by (default: those the sweep varied)")
    report.add_argument("--format", choices=("table", "markdown", "csv"), default="table")
    report.add_argument("--where", help="an MLflow filter, e.g. \"params.activation = 'tanh'\"")
    report.add_argument("--study", help="a study of the sweep, or 'all' (default: the sweep's own, else the latest)")
    report.add_argument("--plots", metavar="DIR", help="also write comparison plots into DIR")
    add_store_options(report)
    add_project_options(report)


def cmd_report(args: argparse.Namespace) -> int:
    """Compare a sweep's trials by parameter: mean +- std, best, test metric, peak epoch, significance."""
    from sweeps.reporting import report
    from sweeps.reporting.study import StudyRecords
    from sweeps.tracking import query

    check_readable(args, reads_studies=bool(args.plots))  # Optuna's own plots read the study
    trials = query.runs(args.names, args.tracking_uri, args.where, args.study)
    if trials.empty:
        raise ConfigError(f"no trials of {', '.join(args.names)} match" + (f" --where {args.where!r}" if args.where else ""))
    if args.study is None:
        for sweep in args.names:
            print(_which_study(sweep, query.studies(sweep, args.tracking_uri, args.where)), file=sys.stderr)
    by = args.by or _swept(args, args.names) or report.varied(trials)
    samples = query.samples(args.names, args.tracking_uri, args.where, args.study)
    curves = query.curves(args.names, args.tracking_uri, args.where, args.study)
    plots = _writable(Path(args.plots)) if args.plots else None  # said before the report, not after it
    records = StudyRecords(trials, samples, curves, by, _scales(args, args.names))
    print(records.report.render(args.format))
    if args.plots:
        from sweeps.reporting.dashboard import write_study_plots

        study = _optuna_study(args, trials) if (trials["engine"] == "optuna").all() and len(args.names) == 1 else None
        grid = study is not None and _sampler(args, args.names[0]) == "grid"
        for path in write_study_plots(records, plots, study, grid):
            print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


def _which_study(sweep: str, studies: dict[str, int]) -> str:
    """Which study of ``sweep`` the report is about, and how to choose another."""
    if not studies:
        return f"{sweep}: no trial matches"
    (main, trials), others = next(iter(studies.items())), len(studies) - 1
    if not others:
        return f"{sweep}: study {main}, {trials} trial(s)"
    return (
        f"{sweep}: study {main}, {trials} trial(s); {others} other stud{'y' if others == 1 else 'ies'} "
        f"({', '.join(list(studies)[1:4])}{', ...' if others > 3 else ''}): choose with --study NAME, or --study all"
    )


def _writable(directory: Path) -> Path:
    """``directory``, made if need be.

    Raises:
        ConfigError: it cannot be made or written to.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise ConfigError(
            f"--plots {directory}: cannot write there ({error.strerror}); name a directory you can write to"
        ) from None
    return directory


def _swept(args: argparse.Namespace, names: Sequence[str]) -> list[str]:
    """The params the sweeps' search-space files vary, where those files are at hand."""
    swept: list[str] = []
    for name in names:
        document = _document(args, name)
        if not isinstance(document.get("params"), dict):
            return []
        swept += list(document["params"])
    return list(dict.fromkeys(swept))


def _scales(args: argparse.Namespace, names: Sequence[str]) -> dict[str, str]:
    """How each swept param's values came, as the sweeps' search-space files say (searched on
    a log or linear scale, or chosen), where those files are at hand."""
    from sweeps.reporting.ranges import scale

    found = {}
    for name in names:
        document = _document(args, name)
        params, grid = document.get("params"), _sampler(args, name) == "grid"
        for key, body in (params if isinstance(params, dict) else {}).items():
            if isinstance(body, dict):
                found[key] = scale(str(body.get("type")), body.get("log") is True, grid)
    return found


def _sampler(args: argparse.Namespace, name: str) -> str | None:
    sampler = _document(args, name).get("sampler")
    return sampler.get("type") if isinstance(sampler, dict) else None


def _document(args: argparse.Namespace, name: str) -> dict:
    """The sweep's search-space file as read (empty when it is not at hand or not readable)."""
    from sweeps.spec.catalog import catalog
    from sweeps.spec.yaml_file import read_yaml

    try:
        document = read_yaml(catalog(args.project, args.spaces)[name].path, "the search space")[1]
    except (KeyError, ConfigError):
        return {}
    return document if isinstance(document, dict) else {}


def _optuna_study(args: argparse.Namespace, trials: Any) -> Any:
    from sweeps.reporting.optuna_plots import load_study
    from sweeps.tracking.stores import Stores

    return load_study(trials["study"].iloc[0], Stores.resolve(storage=args.storage).storage)
