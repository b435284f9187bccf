"""New sqlite stores are copies of an empty one made once per library version: the same tables as
a store made by the libraries' own migrations, and nothing of the project that made the template."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sweeps.engines import optuna_study
from sweeps.tracking import templates
from sweeps.tracking.stores import create_sqlite_store


def schema(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as connection:
        return sorted(connection.execute("SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall())


def rows(path: Path, query: str) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        return connection.execute(query).fetchall()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "sweeps" / "stores"


@pytest.mark.parametrize("kind", ["mlflow", "optuna"])
def test_a_store_from_the_template_is_a_store_made_by_migrations(tmp_path: Path, cache: Path, kind: str) -> None:
    make = {"mlflow": templates.new_mlflow_store, "optuna": optuna_study.new_store}[kind]
    migrated, copied = tmp_path / "first" / "store.db", tmp_path / "second" / "store.db"
    create_sqlite_store(migrated, make)  # makes the template on the way
    (template,) = cache.glob(f"{kind}-*.db")
    create_sqlite_store(copied, make)
    assert schema(copied) == schema(migrated) == schema(template) and schema(copied)
    assert rows(copied, "SELECT * FROM alembic_version") == rows(migrated, "SELECT * FROM alembic_version")


def test_the_default_experiment_keeps_its_artifacts_beside_each_database(tmp_path: Path, cache: Path) -> None:
    for project in ("one", "two"):
        create_sqlite_store(tmp_path / project / "mlruns" / "mlflow.db", templates.new_mlflow_store)
    for project in ("one", "two"):
        ((name, location),) = rows(tmp_path / project / "mlruns" / "mlflow.db", "SELECT name, artifact_location FROM experiments")
        assert (name, location) == ("Default", str(tmp_path / project / "mlruns" / "0"))


def test_a_second_store_runs_no_migration(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    create_sqlite_store(tmp_path / "first.db", templates.new_mlflow_store)

    def migrations(url: str) -> None:
        raise AssertionError("the template was not used")

    monkeypatch.setattr(templates, "_mlflow_tables", migrations)
    create_sqlite_store(tmp_path / "second.db", templates.new_mlflow_store)
    assert rows(tmp_path / "second.db", "SELECT name FROM experiments") == [("Default",)]


def test_a_cache_that_cannot_be_written_makes_each_store_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "not-a-directory").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-directory"))
    create_sqlite_store(tmp_path / "optuna.db", optuna_study.new_store)
    assert ("studies",) in rows(tmp_path / "optuna.db", "SELECT name FROM sqlite_master WHERE type = 'table'")
