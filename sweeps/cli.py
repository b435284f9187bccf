"""``python -m sweeps``: parse, call the command, map failures to one line and an exit code.

Exit codes: 0 success; 2 bad usage, configuration, data or pipeline; 1 anything else (a store
that cannot be reached, a sweep stopped by failures); 3 a nightly regression; 130 interrupted.
``--debug`` shows tracebacks. Each command imports what it needs when it runs, so ``list``,
``--help`` and usage errors answer at once.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from sweeps.commands import COMMANDS, nightly, project, report, run, schedule, serve
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
from sweeps.formatting import near_miss
from sweeps.runner.signals import install_interrupt_handlers, interrupt_heard

MAX_LINE = 600  # characters of an error line


def command() -> int:
    """The ``sweeps`` command (and ``python -m sweeps``): ``main``, in a process that then ends.

    Python's last act is a full garbage collection of every object still alive, which after a
    sweep (JAX's and Keras's objects, every model built) took 1.7 s of a 14 s Boston sweep.
    The process is ending, so its memory goes back whole: its objects are frozen out of that
    collection (each finalizer and ``atexit`` handler still runs).
    """
    try:
        return main()
    finally:
        gc.freeze()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    argv = command_first(list(sys.argv[1:] if argv is None else argv), parser)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said against the command, whose --help lists what it takes
        where = f"sweeps {args.command}" if args.command else "sweeps"
        hint = _closest_option(unknown, command_parsers(parser).get(args.command, parser))
        parser.exit(EXIT_USAGE, f"error: unrecognized arguments: {' '.join(unknown)}{hint}; see `{where} --help`\n")
    args.argv = argv[1:]  # the command's own arguments, for --jobs workers
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ banners say nothing useful here
    install_interrupt_handlers()
    try:
        return args.handler(args)
    except BrokenPipeError:  # `sweeps list | head`: the reader left, nothing went wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt as stop:
        interrupt_heard()
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


def command_first(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """``argv`` with the command first: options given before it move after it, where the
    command's parser checks them (``sweeps --debug list`` is ``sweeps list --debug``), and a
    sweep's name alone is ``run NAME`` (``python -m sweeps imdb_depth``). ``--help`` and
    ``--version`` before any command stay the program's own."""
    taking_values = _options_taking_values(parser)
    before: list[str] = []  # each option whole (`--storage=URL`): a command without it names it whole
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        if argv[index] in ("-h", "--help", "--version"):
            return argv
        takes_value = argv[index] in taking_values and index + 1 < len(argv)
        before.append(f"{argv[index]}={argv[index + 1]}" if takes_value else argv[index])
        index += 2 if takes_value else 1
    if index >= len(argv):
        return argv
    command = argv[index]
    if command not in COMMANDS:
        return ["run", *before, *argv[index:]]
    return [command, *before, *argv[index + 1 :]]


def command_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each command's own parser, by name."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def _options_taking_values(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of every command that is followed by a value (``--storage URL``)."""
    return {
        flag
        for command in command_parsers(parser).values()
        for action in command._actions
        if action.option_strings and action.nargs != 0
        for flag in action.option_strings
    }


def _closest_option(unknown: Sequence[str], command: argparse.ArgumentParser) -> str:
    """`` (did you mean --epochs?)`` for the first unknown option that is near one the command takes."""
    known = [flag for action in command._actions for flag in action.option_strings if action.help != argparse.SUPPRESS]
    for item in unknown:
        close = near_miss(item.split("=")[0], known, cutoff=0.75) if item.startswith("--") else None
        if close:
            return f" (did you mean {close}?)"
    return ""


class _Parser(argparse.ArgumentParser):
    """A usage error is one line and where to read more, not argparse's usage block first; an
    option is spelled whole (``--epoch`` is not taken for ``--epochs``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{"allow_abbrev": False, **kwargs})

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message}; see `{self.prog} --help`\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"sweeps {version('keras-sweeps')}"
    except PackageNotFoundError:  # a source checkout on the path, not installed
        return "sweeps (not installed: run `pip install -e .`)"


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the program and each command's parser."""
    parser = _Parser(
        prog="sweeps",
        description="Declarative, tracked hyperparameter sweeps for Keras tasks.",
        epilog="`sweeps NAME` is short for `sweeps run NAME`, e.g. `python -m sweeps imdb_depth`; "
        "options may come before or after the command; `sweeps COMMAND --help` tells more.",
    )
    parser.add_argument("--version", action="version", version=_version())
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (run, project, report, serve, nightly, schedule):
        module.register(commands, common)
    return parser
