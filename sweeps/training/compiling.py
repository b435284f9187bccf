"""The fused loop's programs compiled at the optimization their work pays for.

XLA's CPU compiler at its default optimization takes about twice as long as at level 0 (one
Boston epoch program: 1.05 s against 0.5 s); what the time buys is speed when the program runs,
which matters only where it runs long (IMDB's epochs ran 2x slower at level 0). Most of a sweep's
fused programs are small and run for a second or less, so each is compiled at level 0 unless its
estimated work is large: XLA's cost analysis of one pass (a loop's body counted once), times the
passes it will make.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# Work above which a program is worth XLA's full optimization: ~1 s of this machine's run time
# for a small model's steps, about what compiling it fully costs over level 0.
FULL_OPTIMIZATION_FLOPS = 4e9


class Program:
    """A jitted function compiled for its first call's arguments, then called as compiled (every
    call must then take arguments of the same shapes)."""

    def __init__(self, jitted: Any, passes: Callable[[tuple[Any, ...]], int]) -> None:
        self._jitted, self._passes = jitted, passes
        self._compiled: Any = None

    def __call__(self, *args: Any) -> Any:
        if self._compiled is None:
            self._compiled = compiled(self._jitted, args, self._passes(args))
        return self._compiled(*args)


def compiled(jitted: Any, args: tuple[Any, ...], passes: int) -> Any:
    """``jitted`` compiled for ``args``: fully optimized where ``passes`` runs of it are much work."""
    lowered = jitted.lower(*args)
    flops = float((lowered.cost_analysis() or {}).get("flops", 0.0)) * passes
    full = flops > FULL_OPTIMIZATION_FLOPS
    log.debug("compiling %s: %.3g flops estimated, %s optimization", lowered, flops, "full" if full else "level 0")
    return lowered.compile() if full else lowered.compile(compiler_options={"xla_backend_optimization_level": 0})
