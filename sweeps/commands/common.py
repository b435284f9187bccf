"""Helpers the commands share: finding search spaces, reading overrides, importing TensorFlow."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from sweeps.errors import ConfigError

SCHEDULE_FILE = "nightly.yaml"  # lives with the sweeps but is not one


def sweep_files(directory: Path) -> list[Path]:
    """The search-space files in ``directory`` (the nightly schedule excluded), by name."""
    return sorted(p for p in directory.glob("*.yaml") if p.name != SCHEDULE_FILE)


def spaces_dir(args: argparse.Namespace) -> Path:
    if args.spaces is not None:
        return args.spaces
    local = Path("search_spaces")
    return local if local.is_dir() else Path(__file__).resolve().parents[2] / "search_spaces"  # the project root


def find_space(args: argparse.Namespace) -> Path:
    name, directory = args.name, spaces_dir(args)
    if "/" in name or "\\" in name or name.startswith("."):
        raise ConfigError(f"sweep name {name!r}: a name, not a path; sweeps live in {directory}/ as NAME.yaml")
    path = directory / f"{name.removesuffix('.yaml')}.yaml"
    if path.is_file() and path.name != SCHEDULE_FILE:
        return path
    known = [p.stem for p in sweep_files(directory)]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ConfigError(f"unknown sweep {name!r}{hint}; available: {', '.join(known) or f'none in {directory}'}")


def parse_overrides(items: Sequence[str]) -> dict[str, object]:
    overrides: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item}: expected KEY=VALUE, e.g. --set units=32")
        try:
            overrides[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"--set {item}: cannot read the value {value!r}") from None
    return overrides


def import_tensorflow(quietly: bool) -> None:
    """Import TensorFlow with its native start-up banners (oneDNN, CPU features) silenced.

    They are written straight to file descriptor 2 before TensorFlow's logging is set up, so
    ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them; a Python import error still surfaces normally.
    """
    if not quietly:
        import tensorflow  # noqa: F401
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
