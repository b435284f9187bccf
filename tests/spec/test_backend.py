"""Which Keras backend a sweep trains on: --backend, KERAS_BACKEND, the file, the pipeline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from sweeps.errors import ConfigError, PipelineError
from sweeps.spec.backend import Choice, apply, choose
from sweeps.spec.contract import load_pipeline
from sweeps.spec.loading import load_spec
from tests.support import BASE, write_space


@pytest.fixture
def no_keras_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KERAS_BACKEND", raising=False)


@pytest.mark.usefixtures("no_keras_backend")
def test_the_command_line_then_the_environment_then_the_file_then_the_pipeline_choose(monkeypatch) -> None:
    prefers = ("jax", "tensorflow")
    assert choose(None, None, prefers, "p") == Choice("jax", "pipeline p's default")
    assert choose(None, "tensorflow", prefers, "p") == Choice("tensorflow", "the sweep file's backend:")
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert choose(None, "tensorflow", prefers, "p") == Choice("jax", "KERAS_BACKEND")
    assert choose("tensorflow", "jax", prefers, "p") == Choice("tensorflow", "--backend")


@pytest.mark.usefixtures("no_keras_backend")
def test_a_pipeline_that_says_nothing_trains_on_keras_default() -> None:
    assert choose(None, None, (), "p") == Choice("tensorflow", "Keras's default")


@pytest.mark.usefixtures("no_keras_backend")
def test_a_backend_the_pipeline_does_not_support_is_refused_with_what_it_does() -> None:
    with pytest.raises(ConfigError, match=r"--backend jax: pipeline p supports only tensorflow; choose one of them"):
        choose("jax", None, ("tensorflow",), "p")


def test_an_unknown_backend_in_the_environment_is_one_line(monkeypatch) -> None:
    monkeypatch.setenv("KERAS_BACKEND", "numpy2")
    with pytest.raises(ConfigError, match=r"KERAS_BACKEND: 'numpy2' is not a Keras backend; use one of jax, tensorflow, torch"):
        choose(None, None, (), "p")


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="PyTorch is installed here")
@pytest.mark.usefixtures("no_keras_backend")
def test_a_backend_whose_framework_is_missing_says_how_to_install_it() -> None:
    with pytest.raises(
        ConfigError, match=r"backend torch \(--backend\) is not installed here: pip install 'keras-sweeps\[torch\]'"
    ):
        choose("torch", None, (), "p")


def test_keras_started_on_another_backend_cannot_be_switched() -> None:
    import keras

    other = "jax" if keras.backend.backend() != "jax" else "tensorflow"
    with pytest.raises(ConfigError, match=f"keras was imported on {keras.backend.backend()} before backend {other}"):
        apply(Choice(other, "--backend"))


def test_the_sweep_file_names_a_backend_or_is_told_which_there_are(tmp_path: Path) -> None:
    assert load_spec(write_space(tmp_path, {**BASE, "backend": "jax"})).backend == "jax"
    assert load_spec(write_space(tmp_path, BASE)).backend is None
    with pytest.raises(ConfigError, match=r"backend: must be one of jax, tensorflow, torch, got 'jaxx' \(did you mean 'jax'\?\)"):
        load_spec(write_space(tmp_path, {**BASE, "backend": "jaxx"}))


def test_a_pipeline_declares_its_backends_as_a_tuple_of_names(tmp_path: Path) -> None:
    source = (Path(__file__).parents[2] / "sweeps" / "templates" / "tabular_pipeline.py").read_text()
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text(source + '\nBACKENDS = ("tensorflow",)\n')
    bad.write_text(source + '\nBACKENDS = ("tf",)\n')
    assert load_pipeline(str(good)).backends == ("tensorflow",)
    with pytest.raises(PipelineError, match=r"BACKENDS must be a tuple of Keras backends \(jax, tensorflow, torch\)"):
        load_pipeline(str(bad))


def test_every_built_in_pipeline_names_its_backends() -> None:
    from sweeps.spec.contract import builtin_names

    for name in builtin_names():
        assert load_pipeline(name).backends, name
