"""Where a sweep keeps its records: MLflow runs, the Optuna study, and the data cache.

Defaults live under ``mlruns/`` in the working directory; each can be pointed elsewhere
(PostgreSQL, an MLflow server). Passwords in URLs are masked wherever a URL is shown.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from sweeps.defaults import STORE_ROOT, STUDY_FILE, TRACKING_FILE, UI_PORT
from sweeps.errors import ConfigError, StoreError
from sweeps.faults import crash_point
from sweeps.tracking.schemes import check_store_urls

T = TypeVar("T")
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&;](?:password|passwd|pwd)=)[^&;\s'\"]*", re.IGNORECASE)


@dataclass(frozen=True)
class Stores:
    """The locations one invocation uses."""

    tracking_uri: str  # MLflow
    storage: str  # Optuna
    cache_dir: Path  # encoded datasets
    tuner_dir: Path  # keras-tuner oracle state of this storage, one folder per study
    # Relative sqlite paths (sqlite:///mlruns/...) resolve against the working directory,
    # which is what `mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db` expects too.

    @classmethod
    def resolve(cls, tracking_uri: str | None = None, storage: str | None = None, root: Path = STORE_ROOT) -> Stores:
        """Apply the precedence: option, then environment (``MLFLOW_TRACKING_URI``), then ``mlruns/``."""
        storage = storage or os.environ.get("SWEEPS_STORAGE") or f"sqlite:///{root / STUDY_FILE}"
        tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / TRACKING_FILE}"
        return cls(tracking_uri, storage, cache_dir=root / "cache", tuner_dir=_tuner_dir(storage, root))

    @property
    def earlier_tuner_dir(self) -> Path | None:
        """Where earlier versions kept keras-tuner's state of a sqlite store: one folder shared
        by every sqlite file beside it (so two stores there collided); ``None`` for a server store."""
        path = sqlite_path(self.storage)
        return None if path is None else path.parent / "keras_tuner"

    @property
    def log_dir(self) -> Path:
        """Where worker and nightly logs go."""
        return self.cache_dir.parent / "logs"

    def check(self, timeout: float, reading: bool = False, studies: bool = True) -> None:
        """Refuse stores that cannot work, before anything is written to either; for a command
        that is ``reading``, only a server that does not answer (a local sqlite store that does
        not exist yet is the command's own business), and the study's only if it reads ``studies``.

        Raises:
            ConfigError: a URL of a kind its store cannot open, or both are the same sqlite file.
            StoreError: a store's server does not answer within ``timeout`` seconds, or a local
                store's directory cannot be written.
        """
        check_store_urls(self.tracking_uri, self.storage if studies else None)
        tracking, storage = sqlite_path(self.tracking_uri), sqlite_path(self.storage)
        if not reading and tracking is not None and storage is not None and tracking.resolve() == storage.resolve():
            raise ConfigError(f"--tracking-uri and --storage are the same file {tracking}: MLflow and Optuna each need their own")
        for option, url in (("--tracking-uri", self.tracking_uri), *([("--storage", self.storage)] if studies else [])):
            problem = None if reading and sqlite_path(url) is not None else unreachable(url, timeout)
            if problem:
                raise StoreError(f"{option} {mask(url)}: {problem}")

    def prepare(self) -> None:
        """Create the local directories sqlite needs (nothing for server URLs)."""
        for url in (self.tracking_uri, self.storage):
            path = sqlite_path(url)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)


def unreachable(url: str, timeout: float) -> str | None:
    """Why the store at ``url`` cannot be used, found within ``timeout`` seconds (``None``: it can)."""
    path = sqlite_path(url)
    if path is not None:
        existing = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
        writable = os.access(existing, os.W_OK)
        return None if writable else f"cannot write {existing} (it would hold the store)"
    address = _address(url)
    if address is None:
        return None  # a socket file, a cloud store: its own client will say
    host, port = address
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as error:
        reason = "timed out" if isinstance(error, TimeoutError) else error.strerror or str(error)
        return (
            f"no answer from {host}:{port} within {timeout:g} s ({reason}); is the server running? "
            "(--connect-timeout SECONDS waits longer)"
        )


_DEFAULT_PORTS = {"http": 80, "https": 443, "grpc": 80, "postgresql": 5432, "postgres": 5432, "mysql": 3306, "mssql": 1433}


def _address(url: str) -> tuple[str, int] | None:
    """The host and port a store's URL connects to, parsed as its own client parses it
    (SQLAlchemy's parser for databases: a password may hold ``/`` and ``:``)."""
    scheme = url.partition("://")[0].split("+")[0].lower()
    if scheme in ("http", "https", "grpc"):
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    else:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):
            return None  # not a URL SQLAlchemy reads: MLflow or Optuna will say what is wrong
        host, port = parsed.host, parsed.port
    port = port or _DEFAULT_PORTS.get(scheme)
    return (host, port) if host and port else None


def local_artifacts_warning(tracking_uri: str, artifact_location: str) -> str | None:
    """What to say when runs recorded in a shared database keep their artifacts on this machine's
    disk, where the UI and the other workers cannot read them (``None`` when they do not)."""
    scheme = urlsplit(tracking_uri).scheme.split("+")[0]
    if scheme in ("", "file", "sqlite", "http", "https") or urlsplit(artifact_location).scheme not in ("", "file"):
        return None
    return (
        f"note: the artifacts of these runs (plots, summaries, models) go to {artifact_location} on this machine, "
        "which other machines cannot read; for a team, start `sweeps server --backend-store-uri "
        f"{mask(tracking_uri)} --artifacts-destination DIR` and run workers with --tracking-uri http://SERVER:{UI_PORT}, "
        "or pass --artifact-location with a store every machine reaches (s3://..., gs://...)"
    )


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, or ``None`` for any other kind of store."""
    return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None


def absolute(url: str) -> str:
    """``url`` with a sqlite file's path made absolute, as handed to MLflow: it keeps one store
    per URL for the life of the process, so a relative one would stay bound to the directory
    it was first opened from."""
    path = sqlite_path(url)
    return f"sqlite:///{path.absolute()}" if path is not None else url


def _tuner_dir(storage: str, root: Path) -> Path:
    """Where keras-tuner keeps its studies' state: beside a sqlite study database, named after
    that file (``runs/a.db-keras_tuner``, as sqlite names its own ``-journal``), else in a folder
    named after the storage, so other stores (another file in the same folder too) never meet it."""
    path = sqlite_path(storage)
    if path is not None:
        return path.with_name(f"{path.name}-keras_tuner")
    return root / "keras_tuner" / hashlib.sha256(storage.encode()).hexdigest()[:12]


def retrying(action: Callable[[], T], attempts: int = 3, pause: float = 0.5) -> T:
    """``action()``, tried again after a pause if it raises (but not when the disk is full).

    For creating shared stores: workers started together race to create the same tables,
    experiment or study, and all but one fail once before finding them made.
    """
    for attempt in range(attempts):
        try:
            return action()
        except Exception as error:
            if attempt == attempts - 1 or disk_full(error):
                raise
            time.sleep(pause * (attempt + 1))
    raise AssertionError("unreachable")


def disk_full(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the disk is full."""
    while error is not None:
        if getattr(error, "errno", None) == errno.ENOSPC or "disk is full" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def create_sqlite_store(path: Path, create: Callable[[str], None]) -> None:
    """Make a new sqlite store at ``path`` whole or not at all: ``create`` builds its tables in
    a file of its own, which is then linked into place. A kill or a full disk half-way leaves
    that file, not a store whose tables are half made (cleared the next time).

    Raises:
        StoreError: the disk is full, or the store cannot be made.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f"{path.name}.creating-*"):
        if not _alive(stale.name.rpartition("-")[2]):
            stale.unlink(missing_ok=True)
    # A name of its own each time, absolute: MLflow keeps one store per URL for the process's life.
    building = path.absolute().with_name(f"{path.name}.creating-{secrets.token_hex(4)}-{os.getpid()}")
    try:
        create(f"sqlite:///{building}")
        crash_point("store-created")
        os.link(building, path)  # unlike a rename, never replaces a store another process just made
    except FileExistsError:
        pass
    except Exception as error:
        problem = "the disk is full" if disk_full(error) else str(error).splitlines()[0] if str(error) else type(error).__name__
        raise StoreError(f"cannot create the store {path}: {mask(problem)}") from None
    finally:
        building.unlink(missing_ok=True)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


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
