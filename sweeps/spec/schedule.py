"""The nightly schedule file: which sweeps run every night, with what budget and threshold."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweeps.spec.reader import Reader
from sweeps.spec.yaml_file import read_yaml


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
        trials = entry.positive("trials")
        threshold = entry.get("threshold", float)
        if not (math.isfinite(threshold) and threshold >= 0):  # NaN would call every change "unchanged"
            raise entry.error("threshold", f"must be a finite number >= 0, got {threshold}")
        entries.append(Entry(str(sweep), trials, threshold, dict(entry.section("set", default={}).data)))
    if not entries:
        raise listed.error("", "must list at least one sweep")
    return entries
