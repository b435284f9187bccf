"""Problems gathered instead of raised at the first, so a sweep file's every mistake is said at
once (``sweeps validate``) while ``load_spec`` still stops at the first."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sweeps.errors import ConfigError, PipelineError

T = TypeVar("T")


class Problems:
    """The configuration and pipeline errors met so far, in the order they were met."""

    def __init__(self) -> None:
        self.errors: list[ConfigError | PipelineError] = []

    def attempt(self, step: Callable[[], T]) -> T | None:
        """``step()``, or ``None`` when it raised a configuration or pipeline error (kept here):
        a step that needs a failed one's result is then skipped by its caller."""
        try:
            return step()
        except (ConfigError, PipelineError) as error:
            self.errors.append(error)
            return None

    def raise_first(self) -> None:
        """Raise the first problem met, if any."""
        if self.errors:
            raise self.errors[0]
