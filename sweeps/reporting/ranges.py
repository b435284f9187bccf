"""A numeric parameter with more values than a table can show, grouped into a few ranges.

A searched study (random, TPE) samples a float or int parameter at as many values as it has
trials; one table row per value would compare single trials. Its values are grouped instead:
into ranges of as many trials each (quantiles), or, for a parameter searched on a log scale,
into ranges of equal width in its logarithm, so each range spans the same factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

MOST_ROWS = 5  # values a table shows one by one; more are grouped into this many ranges
# How a parameter's values came about: searched on a log or a linear scale (ranged where many),
# or chosen (a categorical's, or a grid's points: each shown as it is).
LOG, LINEAR, CHOSEN = "log", "linear", "chosen"


def scale(kind: str, log: bool, grid: bool) -> str:
    """The scale of a parameter of type ``kind`` (categorical, variants, int, float) in a study
    searched by a grid (``grid``) or not."""
    if grid or kind in ("categorical", "variants"):
        return CHOSEN
    return LOG if log else LINEAR


@dataclass(frozen=True)
class Ranges:
    """Edges ``low = e0 < e1 < ... < en = high``: range ``i`` holds ``e_i <= v < e_(i+1)``, the
    last one ``high`` too."""

    edges: tuple[float, ...]
    integer: bool = False
    digits: int = 3  # significant digits the edges are shown (and cut) at

    @property
    def labels(self) -> list[str]:
        """Each range as a table names it, lowest first: ``[0.001, 0.01)``, the last closed."""
        shown = [str(int(edge)) if self.integer else f"{edge:.{self.digits}g}" for edge in self.edges]
        last = len(shown) - 2
        return [f"[{shown[i]}, {shown[i + 1]}{']' if i == last else ')'}" for i in range(last + 1)]

    def label(self, values: pd.Series) -> pd.Series:
        """The range each of ``values`` falls in, by its label."""
        numbers = values.astype(float).to_numpy()
        positions = np.searchsorted(np.asarray(self.edges[1:-1], dtype=float), numbers, side="right")
        labels = [None if np.isnan(n) else self.labels[p] for n, p in zip(numbers, positions, strict=True)]
        return pd.Series(labels, index=values.index)


def ranges_for(values: pd.Series, on: str = LINEAR, most: int = MOST_ROWS) -> Ranges | None:
    """The ranges ``values`` (one per trial, searched on the scale ``on``) are shown in, or
    ``None`` when they are to be shown one by one: chosen, not numbers, or at most ``most``."""
    values = values.dropna()
    if on == CHOSEN or not pd.api.types.is_numeric_dtype(values) or values.nunique() <= most:
        return None
    numbers = values.astype(float).to_numpy()
    low, high = float(numbers.min()), float(numbers.max())
    if on == LOG and low > 0:
        edges = np.exp(np.linspace(math.log(low), math.log(high), most + 1))
    else:
        edges = np.quantile(numbers, np.linspace(0, 1, most + 1))
    integer = pd.api.types.is_integer_dtype(values)
    # Inner edges as a table shows them (whole for an int, else the fewest significant digits,
    # from three, that keep them apart), so a value's range is the one its label says; they lie
    # strictly between the lowest and highest values, which are the outer edges.
    for digits in range(3, 13):
        inner = np.round(edges[1:-1]) if integer else np.array([float(f"{edge:.{digits}g}") for edge in edges[1:-1]])
        kept = sorted({float(edge) for edge in inner if low < edge < high})
        if integer or len(kept) == len(set(inner.tolist())):
            break
    if not kept:  # the values crowd at one end: shown one by one
        return None
    return Ranges((low, *kept, high), integer, digits)
