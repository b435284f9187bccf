"""How values are shown to people: a hyperparameter's value, a text's headline. What the
stores keep is never formatted here: they keep the exact value."""

from __future__ import annotations

import shutil

_ELLIPSIS = "..."


def headline(text: str, width: int | None = None) -> str:
    """The first line of ``text``, cut to ``width`` columns (default: the terminal's) with
    ``...`` where it was cut, so a long description stays one line of a terminal."""
    width = width or shutil.get_terminal_size().columns
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= width else first[: max(width - len(_ELLIPSIS), 0)] + _ELLIPSIS
