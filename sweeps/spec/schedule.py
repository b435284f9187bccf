"""The nightly schedule file: which sweeps run every night, with what budget and threshold."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweeps.spec.reader import Reader, read_yaml


@dataclass(frozen=True)
class Entry:
    """One scheduled sweep: its budget, its regression threshold and any overrides."""

    sweep: str
    trials: int
    threshold: float
    overrides: Mapping[str, Any] = field(default_factory=dict)


def load_schedule(path: Path) -> list[Entry]:
    """Read the schedule file.

    Raises:
        ConfigError: a missing or malformed file, or an entry breaking a rule (named).
    """
    _, document = read_yaml(path, "the schedule")
    top = Reader(str(path), document, "")
    top.only(("sweeps",))
    listed = top.section("sweeps")
    entries = []
    for sweep in listed.data:
        entry = listed.section(str(sweep))
        entry.only(("trials", "threshold", "set"))
        trials = entry.get("trials", int)
        threshold = entry.get("threshold", float)
        if trials < 1 or threshold < 0:
            raise entry.error("trials" if trials < 1 else "threshold", "must be >= 1 trials and a threshold >= 0")
        entries.append(Entry(str(sweep), trials, threshold, dict(entry.section("set", default={}).data)))
    if not entries:
        raise listed.error("", "must list at least one sweep")
    return entries
