"""Finding sweeps: the built-in ones shipped with sweeps, and a project's own.

A project is a directory (``--project DIR``, else ``SWEEPS_PROJECT``, else the current
directory) that may hold ``search_spaces/*.yaml`` and pipeline modules. Its sweeps are added to
the built-in ones; a project sweep with a built-in's name wins. A sweep can also be run from
its file directly (``sweeps path/to/sweep.yaml``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from sweeps.defaults import SCHEDULE_FILE
from sweeps.errors import ConfigError
from sweeps.formatting import near_miss

SWEEP_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SweepFile:
    """A search-space file and where it comes from."""

    name: str
    path: Path
    builtin: bool
    replaces_builtin: bool = False  # a project sweep with a built-in's name

    @property
    def origin(self) -> str:
        """``built-in``, or the file's path (relative to the working directory where possible)."""
        if self.builtin:
            return "built-in"
        try:
            return str(self.path.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(self.path)


def project_dir(project: Path | None) -> Path:
    """The project: ``project`` if given, else ``SWEEPS_PROJECT``, else the working directory."""
    return Path(project or os.environ.get("SWEEPS_PROJECT") or ".")


def builtin_spaces() -> Path:
    """The directory of the built-in search spaces."""
    return Path(str(files("sweeps.search_spaces")))


def project_spaces(project: Path | None, spaces: Path | None = None) -> Path:
    """Where a project keeps its search spaces: ``spaces`` if given, else ``<project>/search_spaces``."""
    return spaces if spaces is not None else project_dir(project) / "search_spaces"


def sweep_files(directory: Path) -> list[Path]:
    """The search-space files in ``directory`` (the nightly schedule excluded), by name."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in SWEEP_SUFFIXES and p.name != SCHEDULE_FILE)


def catalog(project: Path | None = None, spaces: Path | None = None) -> dict[str, SweepFile]:
    """Every sweep by name: the built-in ones, then the project's (which win)."""
    builtin = builtin_spaces()
    found = {path.stem: SweepFile(path.stem, path, builtin=True) for path in sweep_files(builtin)}
    local = project_spaces(project, spaces)
    if local.is_dir() and local.resolve() != builtin.resolve():
        for path in sweep_files(local):
            found[path.stem] = SweepFile(path.stem, path, builtin=False, replaces_builtin=path.stem in found)
    return dict(sorted(found.items()))


def find_sweep(name: str, project: Path | None = None, spaces: Path | None = None) -> SweepFile:
    """The sweep ``name`` (a name, or the path of a ``.yaml`` file).

    Raises:
        ConfigError: no such file or sweep (with the closest name, if any).
    """
    if name.endswith(SWEEP_SUFFIXES):
        path = Path(name)
        try:
            found = path.is_file()
        except OSError as error:  # a name too long for the file system, say
            raise ConfigError(f"{name[:80]}: cannot read it: {error.strerror}") from None
        if not found:
            raise ConfigError(f"{name[:200]}: no such search-space file")
        return SweepFile(path.stem, path, builtin=False)
    if "/" in name or "\\" in name or name.startswith("."):
        raise ConfigError(f"sweep {name[:80]!r}: a name, or the path of a .yaml search-space file")
    known = catalog(project, spaces)
    if name in known:
        return known[name]
    close = near_miss(name, known)
    hint = f" (did you mean {close}?)" if close else ""
    raise ConfigError(f"unknown sweep {name[:80]!r}{hint}; available: {', '.join(known) or 'none'} (see `sweeps list`)")


def schedule_file(project: Path | None = None, spaces: Path | None = None) -> Path:
    """The nightly schedule: the project's if it has one, else the built-in one."""
    local = project_spaces(project, spaces) / SCHEDULE_FILE
    return local if local.is_file() else builtin_spaces() / SCHEDULE_FILE
