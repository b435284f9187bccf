"""How values are shown to people: a hyperparameter's value, a text's headline, the name a near
miss meant. What the stores keep is never formatted here: they keep the exact value."""

from __future__ import annotations

import difflib
import math
import shutil
from collections.abc import Iterable

_ELLIPSIS = "..."


def headline(text: str, width: int | None = None) -> str:
    """The first line of ``text``, cut to ``width`` columns (default: the terminal's) with
    ``...`` where it was cut, so a long description stays one line of a terminal."""
    width = width or shutil.get_terminal_size().columns
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= width else first[: max(width - len(_ELLIPSIS), 0)] + _ELLIPSIS


def param_text(value: object) -> str:
    """A hyperparameter's value as people read it: a float without the noise that stepping or
    sampling leaves in its last bits (``0.1 * 3`` is ``0.30000000000000004``: shown ``0.3``).

    A value on a decimal step has at most six significant digits and is shown at that
    precision (every grid point stays distinct); any other float, as a sampler draws it, is
    shown to four significant digits. Everything else is ``str(value)``.
    """
    if isinstance(value, bool) or not isinstance(value, float) or not math.isfinite(value):
        return str(value)
    stepped = float(f"{value:.12g}")  # the noise is far below the twelfth digit
    if float(f"{stepped:.6g}") == stepped:
        return repr(stepped)
    return repr(float(f"{value:.4g}"))


def near_miss(value: str, allowed: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The one of ``allowed`` that ``value`` most likely meant (``keras-tuner``: ``keras_tuner``),
    for a "did you mean" hint; ``None`` when none is close."""
    close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=cutoff)
    return close[0] if close else None
