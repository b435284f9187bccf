"""``python -m sweeps``: parse, call the command, map failures to one line and an exit code.

Exit codes: 0 success; 2 bad usage, configuration, data or pipeline; 1 anything else (a store
that cannot be reached, a sweep stopped by failures); 3 a nightly regression; 130 interrupted.
``--debug`` shows tracebacks. Each command imports what it needs when it runs, so ``list``,
``--help`` and usage errors answer at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from sweeps.commands import nightly, project, report, run, serve
from sweeps.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    ConfigError,
    DataError,
    Interrupted,
    PipelineError,
    ServiceError,
    StoreError,
    SweepAborted,
    first_line,
)

MAX_LINE = 600  # characters of an error line
COMMANDS = ("run", "list", "init", "check", "report", "ui", "server", "nightly", "schedule", "history")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        argv.insert(0, "run")  # `python -m sweeps imdb_depth` is `run imdb_depth`
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said against the command, whose --help lists what it takes
        where = f"sweeps {args.command}" if args.command else "sweeps"
        parser.exit(EXIT_USAGE, f"error: unrecognized arguments: {' '.join(unknown)}; see `{where} --help`\n")
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
    except KeyboardInterrupt as stop:
        if args.debug:
            raise
        what = stop.what if isinstance(stop, Interrupted) else "no trial was running"
        print(f"interrupted: {what}; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if args.debug:
            raise
        return _report(error)


def _report(error: Exception) -> int:
    print(_line(error), file=sys.stderr)
    if isinstance(error, (ConfigError, DataError, PipelineError)):
        return EXIT_USAGE
    return EXIT_FAILURE


def _line(error: Exception) -> str:
    """The one line a failure is said in: masked, and cut short (a bad value is named, not pasted)."""
    from sweeps.tracking.stores import mask

    known = isinstance(error, (ConfigError, DataError, PipelineError, StoreError, SweepAborted, ServiceError))
    text = mask(first_line(error, with_type=not known))
    text = text if len(text) <= MAX_LINE else text[: MAX_LINE - 3] + "..."
    return f"error: {text}" if known else f"error: {text} (run again with --debug for the traceback)"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM closes runs exactly as Ctrl-C does


class _Parser(argparse.ArgumentParser):
    """A usage error is one line and where to read more, not argparse's usage block first."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message}; see `{self.prog} --help`\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"sweeps {version('keras-sweeps')}"
    except PackageNotFoundError:  # a source checkout on the path, not installed
        return "sweeps (not installed: run `pip install -e .`)"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sweeps",
        description="Declarative, tracked hyperparameter sweeps for Keras tasks.",
        epilog="`sweeps NAME` is short for `sweeps run NAME`, e.g. `python -m sweeps imdb_depth`; "
        "`sweeps COMMAND --help` tells more.",
    )
    parser.add_argument("--version", action="version", version=_version())
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (run, project, report, serve, nightly):
        module.register(commands, common)
    return parser
