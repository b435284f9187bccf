"""New sqlite stores copied from an empty one made once per library version.

MLflow makes a new sqlite store's tables by running every one of its schema migrations (about
1.9 s here), Optuna its own (1.0 s): every new project paid both on its first sweep, every test
that makes a project too. The first store of each kind is made that way, whole or not at all
(``create_sqlite_store``), as a template in the user's cache (``$XDG_CACHE_HOME/sweeps/stores``,
else ``~/.cache/sweeps/stores``) named by the library's version; every new store after it is a
copy of that file. Where the cache cannot be written, each store is made as before.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from sweeps.errors import StoreError
from sweeps.tracking.stores import create_sqlite_store, sqlite_path

log = logging.getLogger(__name__)


def new_mlflow_store(url: str) -> None:
    """MLflow's tables in a new sqlite store at ``url``, its Default experiment's artifacts in a
    folder beside the database (MLflow would put them under the directory it was made from)."""
    copied("mlflow", mlflow.__version__, _mlflow_tables)(url)
    path = sqlite_path(url)
    with sqlite3.connect(path) as connection:
        now = int(time.time() * 1000)
        connection.execute(
            "UPDATE experiments SET artifact_location = ?, creation_time = ?, last_update_time = ? WHERE experiment_id = 0",
            (str(path.parent.resolve() / "0"), now, now),
        )
    connection.close()


def copied(kind: str, version: str, create: Callable[[str], None]) -> Callable[[str], None]:
    """A ``create`` for ``create_sqlite_store`` that copies the template of ``kind`` (a library)
    at ``version``, made by ``create`` first."""

    def copy(url: str) -> None:
        template = _directory() / f"{kind}-{version}.db"
        try:
            if not template.exists():
                create_sqlite_store(template, create)
        except (OSError, StoreError) as error:  # a cache that cannot be written: this store made as before
            log.debug("no %s store template at %s: %s", kind, template, error)
            create(url)
            return
        shutil.copyfile(template, sqlite_path(url))

    return copy


def _directory() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "sweeps" / "stores"


def _mlflow_tables(url: str) -> None:
    """MLflow's tables in a new sqlite store (its client makes them when it first opens it)."""
    client = MlflowClient(url)
    client.search_experiments(max_results=1)
    client._tracking_client.store.engine.dispose()  # let go of the file before it is linked into place
