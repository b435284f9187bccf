"""Finding named sweeps: the search-space files of a directory, by name."""

from __future__ import annotations

import difflib
from pathlib import Path

from sweeps.defaults import SCHEDULE_FILE
from sweeps.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # holds the shipped search_spaces/


def spaces_dir(spaces: Path | None) -> Path:
    """``spaces`` if given, else ``./search_spaces`` if there is one, else the shipped sweeps."""
    if spaces is not None:
        return spaces
    local = Path("search_spaces")
    return local if local.is_dir() else PROJECT_ROOT / "search_spaces"


def sweep_files(directory: Path) -> list[Path]:
    """The search-space files in ``directory`` (the nightly schedule excluded), by name."""
    return sorted(p for p in directory.glob("*.yaml") if p.name != SCHEDULE_FILE)


def find_space(name: str, spaces: Path | None) -> Path:
    """The search-space file of the sweep ``name``.

    Raises:
        ConfigError: ``name`` is a path, or no such sweep (with the closest name, if any).
    """
    directory = spaces_dir(spaces)
    if "/" in name or "\\" in name or name.startswith("."):
        raise ConfigError(f"sweep name {name!r}: a name, not a path; sweeps live in {directory}/ as NAME.yaml")
    path = directory / f"{name.removesuffix('.yaml')}.yaml"
    if path.is_file() and path.name != SCHEDULE_FILE:
        return path
    known = [p.stem for p in sweep_files(directory)]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ConfigError(f"unknown sweep {name!r}{hint}; available: {', '.join(known) or f'none in {directory}'}")
