"""Which URLs each store can be opened at, checked before anything is loaded: a URL of the wrong
kind is a usage error naming the option and the kinds it takes, not a library's traceback
after the data was read."""

from __future__ import annotations

from urllib.parse import urlsplit

from sweeps.defaults import STORE_ROOT, STUDY_FILE, TRACKING_FILE
from sweeps.errors import ConfigError

#: SQLAlchemy's database families (``postgresql+psycopg://`` is ``postgresql``).
DATABASES = ("sqlite", "postgresql", "postgres", "mysql", "mssql", "oracle")
TRACKING = (*DATABASES, "http", "https", "databricks")  # MLflow's file store is deprecated: not offered
STORAGE = (*DATABASES, "grpc")
_EXAMPLES = {
    "--tracking-uri": f"sqlite:///{STORE_ROOT / TRACKING_FILE}, postgresql://..., or a tracking server's http(s)://HOST:PORT",
    "--storage": f"sqlite:///{STORE_ROOT / STUDY_FILE}, postgresql://..., or grpc://HOST:PORT of `sweeps server --optuna-proxy`",
    "--backend-store-uri": f"sqlite:///{STORE_ROOT / TRACKING_FILE} or postgresql://HOST/mlflow",
}


def check_scheme(option: str, url: str, allowed: tuple[str, ...]) -> None:
    """Refuse ``url`` for ``option`` unless its scheme is one of ``allowed``.

    Raises:
        ConfigError: the scheme is missing (a path) or not one the store can open.
    """
    scheme = urlsplit(url).scheme.split("+")[0].lower()
    if scheme not in allowed:  # (the command line masks a password in the URL when it says this)
        what = "a path, not a URL" if not scheme else f"{scheme}:// is not a store it can open"
        raise ConfigError(f"{option} {url[:200]}: {what}; use {_EXAMPLES[option]}")


def check_store_urls(tracking_uri: str | None = None, storage: str | None = None) -> None:
    """``check_scheme`` for a tracking URI and an Optuna storage, where given."""
    if tracking_uri is not None:
        check_scheme("--tracking-uri", tracking_uri, TRACKING)
    if storage is not None:
        check_scheme("--storage", storage, STORAGE)
