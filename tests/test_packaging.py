"""Installed from its wheel (not the checkout), sweeps lists and runs its built-in sweeps anywhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import REPO

NOT_SHIPPED = shutil.ignore_patterns(".git", ".venv", "mlruns", "build", "*.egg-info", "__pycache__", ".pytest_cache")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built now from a copy of the checkout."""
    source = tmp_path_factory.mktemp("source") / "keras-sweeps"
    shutil.copytree(REPO, source, ignore=NOT_SHIPPED)
    wheels = tmp_path_factory.mktemp("wheels")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(source)]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    (built,) = wheels.glob("keras_sweeps-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed into a directory of its own (its dependencies come from this environment)."""
    target = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    return target


def sweeps_from(installed: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m sweeps ARGS`` with only the installed wheel on the path (not the checkout)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SWEEPS_DATA_DIR", "SWEEPS_PROJECT")}
    env["PYTHONPATH"] = str(installed)
    return subprocess.run([sys.executable, "-m", "sweeps", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_wheel_holds_the_built_ins_inside_the_package_and_no_generic_top_level_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "sweeps/search_spaces/imdb_depth.yaml" in names and "sweeps/pipelines/imdb.py" in names
    assert "sweeps/templates/tabular_sweep.yaml" in names and "sweeps/templates/tabular_pipeline.py" in names
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"sweeps"}


def test_from_an_empty_directory_every_built_in_lists_and_one_runs(installed: Path, tmp_path: Path, imdb_dir: Path) -> None:
    user = tmp_path / "empty"
    (user / "pipelines").mkdir(parents=True)
    (user / "pipelines" / "__init__.py").write_text("")  # a user's own package of that name shadows nothing
    located = subprocess.run(
        [sys.executable, "-c", "import sweeps; print(sweeps.__file__)"],
        cwd=user,
        env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
    )
    assert located.stdout.strip().startswith(str(installed)), located.stdout
    listed = sweeps_from(installed, "list", cwd=user)
    assert listed.returncode == 0, listed.stderr
    for path in (REPO / "search_spaces").glob("*.yaml"):
        if path.name != "nightly.yaml":
            assert f"{path.stem} " in listed.stdout and "built-in" in listed.stdout
    done = sweeps_from(installed, "imdb_depth", "--trials", "1", "--epochs", "1", "--data-dir", str(imdb_dir), cwd=user)
    assert done.returncode == 0, done.stderr
    assert "study imdb_depth[epochs=1]: 1 trial(s), 1 run now" in done.stdout
    assert (user / "mlruns" / "mlflow.db").is_file()
