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
from urllib.parse import urlsplit

from sweeps.defaults import STORE_ROOT

T = TypeVar("T")
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&;](?:password|passwd|pwd)=)[^&;\s'\"]*", re.IGNORECASE)


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


def local_artifacts_warning(tracking_uri: str, artifact_location: str) -> str | None:
    """What to say when runs recorded in a shared database keep their artifacts on this machine's
    disk, where the UI and the other workers cannot read them (``None`` when they do not)."""
    scheme = urlsplit(tracking_uri).scheme.split("+")[0]
    if scheme in ("", "file", "sqlite", "http", "https") or urlsplit(artifact_location).scheme not in ("", "file"):
        return None
    return (
        f"note: the artifacts of these runs (plots, summaries, models) go to {artifact_location} on this machine, "
        "which other machines cannot read; for a team, start `sweeps server --backend-store-uri "
        f"{mask(tracking_uri)} --artifacts-destination DIR` and run workers with --tracking-uri http://SERVER:5000, "
        "or pass --artifact-location with a store every machine reaches (s3://..., gs://...)"
    )


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


def mask(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***`` (safe for consoles,
    logs and tags), and ``password=`` values of query strings too.

    A URL's user information is everything between ``://`` and its *last* ``@``, the password
    whatever follows the first ``:`` there. That covers what SQLAlchemy's and urllib's parsers
    call the password and more: a password holding ``/``, ``:`` or ``%2F`` connects, and one
    holding ``@`` would make either parser stop at the wrong place and show the rest.
    """
    return _URL.sub(lambda found: _masked_url(found.group(0)), text)


def _masked_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    at = rest.rfind("@")
    if at > 0 and ":" in rest[:at]:
        rest = f"{rest[: rest.index(':')]}:***{rest[at:]}"
    return f"{scheme}://" + _QUERY_PASSWORD.sub(lambda m: m["head"] + "***", rest)
