"""The IMDB pipeline: Keras-identical parsing, sparse multi-hot, sources, cache, the model."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

import sweeps.pipeline as sp
from sweeps.pipeline import Ragged, multi_hot
from sweeps.pipelines import imdb
from tests.support import write_imdb

DEFAULTS = {key: decl.default for key, decl in imdb.HYPERPARAMETERS.items()}


@pytest.fixture
def keras_reads(monkeypatch: pytest.MonkeyPatch):
    """Point Keras's own ``imdb.load_data`` at a local file instead of downloading."""

    def use(path: Path) -> None:
        monkeypatch.setattr("keras.src.datasets.imdb.get_file", lambda *args, **kwargs: str(path))

    return use


@pytest.mark.parametrize("num_words", [100, 10_000])
def test_data_dir_parsing_matches_keras_exactly(tmp_path: Path, keras_reads, num_words: int) -> None:
    path = write_imdb(tmp_path, train=120, test=80, seed=3)
    keras_reads(path)
    (kx_train, ky_train), (kx_test, ky_test) = keras.datasets.imdb.load_data(num_words=num_words)
    (x_train, y_train), (x_test, y_test) = imdb.read_file(path, num_words)
    assert x_train.rows() == [list(row) for row in kx_train]
    assert x_test.rows() == [list(row) for row in kx_test]
    np.testing.assert_array_equal(y_train, ky_train)
    np.testing.assert_array_equal(y_test, ky_test)


def test_multi_hot_equals_the_tutorials_vectorize_sequences() -> None:
    sequences = [[1, 5, 5, 9], [2], [], [3, 9, 0]]

    def vectorize_sequences(seqs, dimension=10):  # the tutorial's code
        results = np.zeros((len(seqs), dimension))
        for i, sequence in enumerate(seqs):
            results[i, sequence] = 1.0
        return results

    encoded = multi_hot(Ragged.from_sequences(sequences), 10)
    assert encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded.toarray(), vectorize_sequences(sequences))


def test_load_from_data_dir_splits_and_labels(tmp_path: Path, imdb_dir: Path) -> None:
    dataset = imdb.load_data(DEFAULTS, sp.DataOptions(imdb_dir, tmp_path / "cache"))
    assert dataset.source.kind == "data-dir" and dataset.source.location == str(imdb_dir / "imdb.npz")
    # 300 training reviews < 2 x 10,000: 40% held out, and the user is told.
    assert dataset.x_val.shape == (120, 10_000) and dataset.x_train.shape == (180, 10_000)
    assert dataset.x_test.shape == (200, 10_000)
    assert "holding out 40% (120)" in dataset.notes[0]
    assert set(np.unique(dataset.y_train)) <= {0.0, 1.0}


def test_cache_is_reused_and_invalidated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir, cache = tmp_path / "data", tmp_path / "cache"
    write_imdb(data_dir, train=50, test=40)
    options = sp.DataOptions(data_dir, cache)
    first = imdb.load_data(DEFAULTS, options)
    assert len(list(cache.glob("imdb-*.npz"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    with monkeypatch.context() as patched:
        patched.setattr(imdb, "read_file", fail)
        again = imdb.load_data(DEFAULTS, options)
    assert again.source == first.source
    assert (again.x_train != first.x_train).nnz == 0
    smaller = imdb.load_data({**DEFAULTS, "num_words": 500}, options)  # a changed setting
    assert smaller.x_train.shape[1] == 500 and smaller.source.fingerprint != first.source.fingerprint
    write_imdb(data_dir, train=50, test=40, seed=9)  # a changed source file
    assert imdb.load_data(DEFAULTS, options).source.fingerprint != first.source.fingerprint
    assert len(list(cache.glob("imdb-*.npz"))) == 3


def test_keras_cache_is_the_source_without_a_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keras_reads) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    cached = write_imdb(tmp_path / "keras" / "datasets", train=40, test=30)
    keras_reads(cached)
    dataset = imdb.load_data(DEFAULTS, sp.DataOptions(None, tmp_path / "cache"))
    assert dataset.source.kind == "keras" and dataset.source.location == str(cached)
    assert dataset.x_train.shape[0] + dataset.x_val.shape[0] == 40


def test_generated_sample_only_when_nothing_else_is_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))

    def offline(*args, **kwargs):  # what Keras's get_file raises when it cannot download
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr("keras.src.datasets.imdb.get_file", offline)
    dataset = imdb.load_data(DEFAULTS, sp.DataOptions(None, None))  # no data dir, and Keras cannot download
    assert dataset.source.kind == "generated"
    assert "GENERATED sample" in capsys.readouterr().err  # a warning: stderr, not between the results
    # The same shapes as the real dataset: 25,000 reviews per split, 10,000 held out.
    assert dataset.x_train.shape == (15_000, 10_000) and dataset.x_val.shape[0] == 10_000
    assert dataset.x_test.shape == (25_000, 10_000)
    (tmp_path / "empty").mkdir()
    with pytest.raises(sp.DataError, match=rf"--data-dir {tmp_path / 'empty'}: no imdb\.npz there; put Keras's imdb\.npz in it"):
        imdb.load_data(DEFAULTS, sp.DataOptions(tmp_path / "empty", None))  # a data dir named is the only source
    asked = imdb.load_data({**DEFAULTS, "validation_samples": 100}, sp.DataOptions(tmp_path / "empty", None, generated=True))
    assert asked.source.kind == "generated" and "GENERATED" not in capsys.readouterr().err  # asked for: no warning


def test_truncated_file_is_one_clear_error(tmp_path: Path) -> None:
    path = write_imdb(tmp_path, train=40, test=30)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(sp.DataError, match=rf"{path}: not a readable Keras \.npz file \(truncated or corrupt\?\)"):
        imdb.read_file(path, 100)


def test_missing_keys_are_named(tmp_path: Path) -> None:
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=np.zeros(3), y_train=np.zeros(3))
    with pytest.raises(sp.DataError, match=rf"{path}: missing key\(s\) x_test, y_test; a Keras imdb\.npz holds"):
        imdb.read_file(path, 100)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x_train": np.array([[0.5, 1.5]]), "y_train": np.array([1])}, r"x_train must hold integer word indices, got float64"),
        ({"y_train": np.array([[1, 0]])}, r"y_train must be a 1-D array of 0/1 labels"),
        ({"y_train": np.array([1, 0, 1])}, r"x_train has 2 reviews but y_train has 3 labels"),
    ],
)
def test_wrong_shapes_and_dtypes_name_the_file(tmp_path: Path, arrays: dict, message: str) -> None:
    good = {
        "x_train": np.array([[1, 2], [3, 4]]),
        "y_train": np.array([0, 1]),
        "x_test": np.array([[1, 2]]),
        "y_test": np.array([1]),
    }
    path = tmp_path / "imdb.npz"
    np.savez(path, **{**good, **arrays})
    with pytest.raises(sp.DataError, match=rf"{path}: {message}"):
        imdb.read_file(path, 100)


def test_a_file_that_would_run_code_is_refused(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "imdb.npz"
    evil = np.empty(1, dtype=object)
    evil[0] = Payload()
    np.savez(path, x_train=evil, y_train=np.array([1]), x_test=evil, y_test=np.array([1]))
    with pytest.raises(sp.DataError, match="refusing to load builtins.print"):
        imdb.read_file(path, 100)


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_model_has_the_requested_depth(imdb_dir: Path, tmp_path: Path, layers: int) -> None:
    dataset = imdb.load_data(DEFAULTS, sp.DataOptions(imdb_dir, tmp_path))
    model = imdb.build_model({**DEFAULTS, "layers": layers, "units": 32, "activation": "tanh"}, dataset)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [32] * layers + [1]
    assert all(layer.activation.__name__ == "tanh" for layer in dense[:-1])
    assert dense[-1].activation.__name__ == "sigmoid"
    assert model.loss == "binary_crossentropy" and isinstance(model.optimizer, keras.optimizers.RMSprop)


def test_model_regularisation_dropout_and_loss(imdb_dir: Path, tmp_path: Path) -> None:
    dataset = imdb.load_data(DEFAULTS, sp.DataOptions(imdb_dir, tmp_path))
    hp = {**DEFAULTS, "dropout": 0.5, "l1": 0.001, "l2": 0.002, "loss": "mse", "optimizer": "adam", "learning_rate": 0.01}
    model = imdb.build_model(hp, dataset)
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [0.5, 0.5]
    regularizer = model.get_layer("hidden_1").kernel_regularizer
    assert isinstance(regularizer, keras.regularizers.L1L2)
    assert regularizer.l1 == pytest.approx(0.001) and regularizer.l2 == pytest.approx(0.002)
    assert model.loss == "mse" and isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
