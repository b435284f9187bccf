"""``python -m sweeps``: parse, call, map failures to one line and an exit code (STYLE.md §7).

Exit codes: 0 success; 2 bad usage, configuration or data; 1 anything else (a store that
cannot be reached, a sweep stopped by failures); 130 interrupted. ``--debug`` shows tracebacks.
Heavy imports (TensorFlow, MLflow) happen inside the commands, so ``list`` and usage errors
answer at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from sweeps.commands.nightly import DEFAULT_TIME, cmd_history, cmd_nightly, cmd_schedule
from sweeps.commands.report import cmd_report, cmd_ui
from sweeps.commands.run import cmd_list, cmd_run
from sweeps.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, ConfigError, StoreError, SweepAborted

COMMANDS = ("run", "list", "report", "ui", "nightly", "schedule", "history")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        argv.insert(0, "run")  # `python -m sweeps imdb_depth` is `run imdb_depth`
    parser = _parser()
    args = parser.parse_args(argv)
    args.argv = argv[1:]  # the command's own arguments, for --jobs workers
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ banners say nothing useful here
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return args.handler(args)
    except BrokenPipeError:  # `sweeps list | head`: the reader left, nothing went wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted: the running trial was marked FAIL and its run KILLED; "
              "run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if args.debug:
            raise
        return _report(error)


def _report(error: Exception) -> int:
    from pipelines._data import DataError
    from sweeps.stores import mask

    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, (ConfigError, DataError)):
        print(f"error: {mask(text)}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(error, (StoreError, SweepAborted)):
        print(f"error: {mask(text)}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"error: {type(error).__name__}: {mask(text)} (run again with --debug for the traceback)", file=sys.stderr)
    return EXIT_FAILURE


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM closes runs exactly as Ctrl-C does


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sweeps", description="Declarative, tracked hyperparameter sweeps for Keras tasks.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    common.add_argument("--spaces", type=Path, default=None, metavar="DIR",
                        help="directory of search-space files (default: ./search_spaces)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", parents=[common], help=cmd_run.__doc__, description=cmd_run.__doc__)
    run.add_argument("name", help="a sweep in search_spaces/ (see `sweeps list`)")
    run.add_argument("--trials", type=int, help="the study's trial budget (default: the file's `trials`)")
    run.add_argument("--epochs", type=int, help="override the fixed epochs (for quick runs)")
    run.add_argument("--repeats", type=int, help="seeds per configuration (default: the file's `repeats`, or 1)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override one fixed value, validated like the file (repeatable)")
    run.add_argument("--data-dir", type=Path, default=os.environ.get("SWEEPS_DATA_DIR"),
                     help="directory with data files in Keras's format (env SWEEPS_DATA_DIR)")
    run.add_argument("--tracking-uri", help="MLflow store (env MLFLOW_TRACKING_URI; default sqlite:///mlruns/mlflow.db)")
    run.add_argument("--storage", help="Optuna storage URL (default sqlite:///mlruns/optuna.db)")
    run.add_argument("--study", help="study name (default: the sweep's name, plus any overrides)")
    run.add_argument("--jobs", type=int, default=1, help="worker processes on this machine (TensorFlow's threads divided)")
    run.add_argument("--heartbeat", type=int, default=60, metavar="SECONDS",
                     help="a running trial's heartbeat; a worker silent for twice this is presumed dead (default 60)")
    run.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # started by --jobs
    run.add_argument("--threads", type=int, help=argparse.SUPPRESS)  # TensorFlow threads of a --jobs worker
    run.set_defaults(handler=cmd_run)

    listing = commands.add_parser("list", parents=[common], help=cmd_list.__doc__, description=cmd_list.__doc__)
    listing.set_defaults(handler=cmd_list)

    report = commands.add_parser("report", parents=[common], help=cmd_report.__doc__, description=cmd_report.__doc__)
    report.add_argument("names", nargs="+", metavar="NAME", help="one sweep, or several sharing a parameter")
    report.add_argument("--by", nargs="+", metavar="PARAM", help="parameters to group by (default: those the sweep varied)")
    report.add_argument("--format", choices=("table", "markdown", "csv"), default="table")
    report.add_argument("--where", help="an MLflow filter, e.g. \"params.activation = 'tanh'\"")
    report.add_argument("--study", help="a study of the sweep, or 'all' (default: the sweep's own, else the latest)")
    report.add_argument("--plots", type=Path, metavar="DIR", help="also write comparison plots into DIR")
    report.add_argument("--tracking-uri", help="MLflow store (env MLFLOW_TRACKING_URI; default sqlite:///mlruns/mlflow.db)")
    report.add_argument("--storage", help="Optuna storage, for Optuna's plots (default sqlite:///mlruns/optuna.db)")
    report.set_defaults(handler=cmd_report)

    ui = commands.add_parser("ui", parents=[common], help=cmd_ui.__doc__, description=cmd_ui.__doc__)
    ui.add_argument("--port", type=int, default=5000)
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    ui.add_argument("--tracking-uri", help="MLflow store (env MLFLOW_TRACKING_URI; default sqlite:///mlruns/mlflow.db)")
    ui.set_defaults(handler=cmd_ui)

    night = commands.add_parser("nightly", parents=[common], help=cmd_nightly.__doc__.splitlines()[0], description=cmd_nightly.__doc__)
    night.add_argument("--date", help="the night to run, YYYY-MM-DD (default: today)")
    night.add_argument("--schedule", type=Path, help="schedule file (default: search_spaces/nightly.yaml)")
    night.add_argument("--data-dir", type=Path, default=os.environ.get("SWEEPS_DATA_DIR"), help="as for run")
    night.add_argument("--tracking-uri", help="as for run")
    night.add_argument("--storage", help="as for run")
    night.set_defaults(handler=cmd_nightly)

    schedule = commands.add_parser("schedule", parents=[common], help=cmd_schedule.__doc__, description=cmd_schedule.__doc__)
    kind = schedule.add_mutually_exclusive_group(required=True)
    kind.add_argument("--cron", action="store_true", help="a crontab line")
    kind.add_argument("--systemd", action="store_true", help="a systemd service and timer")
    schedule.add_argument("--at", default=DEFAULT_TIME, metavar="HH:MM", help=f"time of day (default {DEFAULT_TIME})")
    schedule.set_defaults(handler=cmd_schedule)

    hist = commands.add_parser("history", parents=[common], help=cmd_history.__doc__, description=cmd_history.__doc__)
    hist.add_argument("name", help="a sweep listed in the nightly schedule")
    hist.add_argument("--tracking-uri", help="as for run")
    hist.set_defaults(handler=cmd_history)
    return parser


