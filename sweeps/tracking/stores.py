"""Where a sweep keeps its records: MLflow runs, the Optuna study, and the data cache.

Defaults live under ``mlruns/`` in the working directory; each can be pointed elsewhere
(PostgreSQL, an MLflow server). Passwords in URLs are masked wherever a URL is shown.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sweeps.defaults import STORE_ROOT

T = TypeVar("T")
_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*):(?P<password>[^@/\s]*)@")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)[^&\s]*", re.IGNORECASE)


@dataclass(frozen=True)
class Stores:
    """The locations one invocation uses."""

    tracking_uri: str  # MLflow
    storage: str  # Optuna
    cache_dir: Path  # encoded datasets
    tuner_dir: Path  # keras-tuner oracle state, one folder per study
    # Relative sqlite paths (sqlite:///mlruns/...) resolve against the working directory,
    # which is what `mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db` expects too.

    @classmethod
    def resolve(cls, tracking_uri: str | None = None, storage: str | None = None, root: Path = STORE_ROOT) -> Stores:
        """Apply the precedence: option, then environment (``MLFLOW_TRACKING_URI``), then ``mlruns/``."""
        return cls(
            tracking_uri=tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / 'mlflow.db'}",
            storage=storage or os.environ.get("SWEEPS_STORAGE") or f"sqlite:///{root / 'optuna.db'}",
            cache_dir=root / "cache",
            tuner_dir=root / "keras_tuner",
        )

    @property
    def log_dir(self) -> Path:
        """Where worker and nightly logs go."""
        return self.cache_dir.parent / "logs"

    def prepare(self) -> None:
        """Create the local directories sqlite needs (nothing for server URLs)."""
        for url in (self.tracking_uri, self.storage):
            path = sqlite_path(url)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, or ``None`` for any other kind of store."""
    return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None


def retrying(action: Callable[[], T], attempts: int = 3, pause: float = 0.5) -> T:
    """``action()``, tried again after a pause if it raises.

    For creating shared stores: workers started together race to create the same tables,
    experiment or study, and all but one fail once before finding them made.
    """
    for attempt in range(attempts):
        try:
            return action()
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(pause * (attempt + 1))
    raise AssertionError("unreachable")


def mask(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe for logs, consoles and tags)."""
    url = _PASSWORD.sub(lambda m: f"{m['head']}:***@", url)
    return _QUERY_PASSWORD.sub(lambda m: f"{m['head']}***", url)
