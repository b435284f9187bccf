"""A store's password never shows: not on the console, not in the closing hint, not in any
MLflow tag, param or note, not in the logs, whatever characters it holds."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import psycopg
import psycopg.sql
import pytest
from mlflow import MlflowClient

from sweeps.tracking.stores import mask
from tests.support import BASE, write_space

# '/', ':', '@' and '%' each ended a password early for some URL pattern; '@' and '%' must be
# written %40 and %25 in a URL, '/' and ':' may be written as they are or %2F and %3A.
PASSWORD = "s/e:c@r%et9"
AS_TYPED = PASSWORD.replace("%", "%25").replace("@", "%40")  # s/e:c%40r%25et9
ENCODED = quote(PASSWORD, safe="")  # s%2Fe%3Ac%40r%25et9


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://bob:hun/ter2x@db:5432/optuna", "postgresql://bob:***@db:5432/optuna"),
        (f"postgresql://bob:{AS_TYPED}@db/optuna", "postgresql://bob:***@db/optuna"),
        (f"postgresql://bob:{ENCODED}@db/optuna", "postgresql://bob:***@db/optuna"),
        ("mysql://bob:a:b:c@db/x and http://u:p@host:5000", "mysql://bob:***@db/x and http://u:***@host:5000"),
        (
            "postgresql://bob@db/optuna?sslmode=require&password=hunter2",
            "postgresql://bob@db/optuna?sslmode=require&password=***",
        ),
        ("--storage 'postgresql://bob:x@y@db/o': no answer", "--storage 'postgresql://bob:***@db/o': no answer"),
        ("postgresql://bob@db/optuna", "postgresql://bob@db/optuna"),  # no password, nothing to hide
        ("sqlite:///mlruns/optuna.db", "sqlite:///mlruns/optuna.db"),
    ],
)
def test_mask(text: str, shown: str) -> None:
    assert mask(text) == shown


@pytest.fixture
def bob(pg: tuple[str, str]) -> str:
    """A PostgreSQL role whose password holds every awkward character, owning two databases:
    the URL prefix to reach them."""
    url, _ = pg
    with psycopg.connect(f"{url}/postgres", autocommit=True) as admin:
        for statement in ("DROP DATABASE IF EXISTS bob_optuna", "DROP DATABASE IF EXISTS bob_mlflow", "DROP ROLE IF EXISTS bob"):
            admin.execute(statement)
        admin.execute(psycopg.sql.SQL("CREATE ROLE bob LOGIN PASSWORD {}").format(psycopg.sql.Literal(PASSWORD)))
        admin.execute("CREATE DATABASE bob_optuna OWNER bob")
        admin.execute("CREATE DATABASE bob_mlflow OWNER bob")
    return url.replace(url[url.index("://") + 3 : url.rindex("@")], "bob:{password}")


def test_a_password_with_slash_colon_at_and_percent_never_shows(bob: str, tmp_path: Path, imdb_dir: Path, sweeps_here) -> None:
    storage = bob.format(password=AS_TYPED) + "/bob_optuna"
    tracking = bob.format(password=ENCODED) + "/bob_mlflow"
    (tmp_path / "spaces").mkdir()
    write_space(tmp_path / "spaces", {**BASE, "trials": 1, "fixed": {"epochs": 1}})
    args = ("--spaces", str(tmp_path / "spaces"), "--data-dir", str(imdb_dir), "--storage", storage, "--tracking-uri", tracking)
    done = sweeps_here("run", "s", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr  # it connected, so the URLs carry the real password
    report = sweeps_here("report", "s", "--by", "layers", "--tracking-uri", tracking, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert f"sweeps ui s --tracking-uri {bob.format(password='***')}/bob_mlflow" in done.stdout + done.stderr

    client = MlflowClient(tracking)
    experiment = client.get_experiment_by_name("s")
    runs = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.data.tags["storage"] == bob.format(password="***") + "/bob_optuna"
    assert "--storage " + bob.format(password="***") in parent.data.tags["worker.command"]
    seen = [done.stdout, done.stderr, report.stdout, report.stderr, *experiment.tags.values()]
    for run in runs:
        seen += [*run.data.tags.values(), *run.data.params.values()]
    seen += [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".log", ".txt", ".md")]
    for form in (PASSWORD, AS_TYPED, ENCODED, "c%40r", "c@r"):
        assert not [text for text in seen if form in text], form
