"""Tables for people: aligned text or markdown, and the table of a study's trials."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sweeps.engines.base import TrialRecord
from sweeps.formatting import param_text


def trials_table(
    records: Sequence[TrialRecord],
    params: Sequence[str],
    metric: str,
    test_metric: str,
    best: TrialRecord | None,
    markdown: bool = False,
) -> str:
    """A fixed-width (or markdown) table: trial, swept params, objective, test metric, epochs, state."""
    header = ["trial", *params, metric, test_metric, "best epoch", "state"]
    rows = [
        [
            f"{r.number}{' *' if best is not None and r.number == best.number else ''}",
            *[cell(None) if r.params.get(name) is None else param_text(r.params[name]) for name in params],
            cell(r.value),
            cell(r.attrs.get(test_metric)),
            cell(r.attrs.get("best_epoch")),
            r.state,
        ]
        for r in sorted(records, key=lambda r: r.number)
    ]
    return render_table(header, rows, markdown)


def render_table(header: Sequence[str], rows: Sequence[Sequence[Any]], markdown: bool = False) -> str:
    """Rows under a header, as left-aligned columns or as a markdown table."""
    lines = [[str(value) for value in row] for row in [header, *rows]]
    if markdown:
        lines.insert(1, ["---"] * len(header))
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=False)).rstrip() for line in lines)


def cell(value: Any) -> str:
    """A value as shown in a table: ``-`` for nothing (or NaN), four decimals for a finite float."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    return str(value)
