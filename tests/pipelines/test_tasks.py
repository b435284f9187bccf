"""Each pipeline's loader on its exact file format (against Keras's own code where Keras has a
loader), one malformed file each, and the models the tutorials describe."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

import sweeps.pipeline as sp
from sweeps.pipeline import Ragged
from sweeps.pipelines import boston_housing, cifar10, mnist, reuters, sequence_trend, text_sentiment


def defaults(module) -> dict:
    return {key: decl.default for key, decl in module.HYPERPARAMETERS.items()}


def keras_file(monkeypatch: pytest.MonkeyPatch, module: str, path: Path) -> None:
    """Make Keras's own loader read ``path`` instead of downloading."""
    monkeypatch.setattr(f"keras.src.datasets.{module}.get_file", lambda *args, **kwargs: str(path))


def test_reuters_parsing_matches_keras(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keras_file(monkeypatch, "reuters", data_dir / "reuters.npz")
    (kx_train, ky_train), (kx_test, ky_test) = keras.datasets.reuters.load_data(num_words=300)
    (x_train, y_train), (x_test, y_test) = reuters.read_file(data_dir / "reuters.npz", 300)
    assert x_train.rows() == [list(r) for r in kx_train] and x_test.rows() == [list(r) for r in kx_test]
    np.testing.assert_array_equal(y_train, ky_train)
    np.testing.assert_array_equal(y_test, ky_test)


def test_reuters_labels_follow_the_loss(data_dir: Path, tmp_path: Path) -> None:
    dataset = reuters.load_data(defaults(reuters), sp.DataOptions(data_dir, tmp_path))
    assert dataset.x_train.shape[1] == 10_000 and len(dataset.y_val) == 80  # 200 rows < 2 x 1,000: 40%
    one_hot = reuters.for_trial(dataset, {"loss": "categorical_crossentropy"})
    assert one_hot.y_train.shape == (len(dataset.y_train), 46)
    np.testing.assert_array_equal(one_hot.y_train.argmax(axis=1), dataset.y_train)
    assert reuters.for_trial(dataset, {"loss": "sparse_categorical_crossentropy"}).y_train is dataset.y_train
    model = reuters.build_model({**defaults(reuters), "units": 4}, dataset)
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [4, 4, 46]


def test_reuters_labels_out_of_range(tmp_path: Path) -> None:
    path = tmp_path / "reuters.npz"
    x = np.empty(2, dtype=object)
    x[:] = [[1, 2], [3]]
    np.savez(path, x=x, y=np.array([3, 99]))
    with pytest.raises(sp.DataError, match=rf"{path}: y must be a 1-D array of topic numbers 0-45"):
        reuters.read_file(path, 100)


def test_boston_split_matches_keras_and_normalises_with_training_statistics(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keras_file(monkeypatch, "boston_housing", data_dir / "boston_housing.npz")
    (kx_train, ky_train), (kx_test, ky_test) = keras.datasets.boston_housing.load_data()
    (x_train, y_train), (x_test, y_test) = boston_housing.read_file(data_dir / "boston_housing.npz")
    np.testing.assert_array_equal(x_train, kx_train)
    np.testing.assert_array_equal(y_test, ky_test)
    encoded = boston_housing.normalise(((x_train, y_train), (x_test, y_test)))
    np.testing.assert_allclose(encoded["x_train"].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(encoded["x_train"].std(axis=0), 1, atol=1e-4)
    expected_test = (kx_test - kx_train.mean(axis=0)) / kx_train.std(axis=0)  # training statistics only
    np.testing.assert_allclose(encoded["x_test"], expected_test, rtol=1e-4, atol=1e-5)
    model = boston_housing.build_model(
        defaults(boston_housing), boston_housing.load_data(defaults(boston_housing), sp.DataOptions(data_dir, tmp_path))
    )
    assert model.layers[-1].activation.__name__ == "linear" and model.loss == "mse"


def test_boston_wrong_shape(tmp_path: Path) -> None:
    path = tmp_path / "boston_housing.npz"
    np.savez(path, x=np.zeros(13), y=np.zeros(1))
    with pytest.raises(sp.DataError, match=rf"{path}: x must be a 2-D numeric array"):
        boston_housing.read_file(path)


def test_mnist_matches_keras_and_stays_uint8(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keras_file(monkeypatch, "mnist", data_dir / "mnist.npz")
    (kx_train, ky_train), _ = keras.datasets.mnist.load_data()
    dataset = mnist.load_data(defaults(mnist), sp.DataOptions(data_dir, tmp_path))
    assert dataset.x_train.dtype == np.uint8 and dataset.x_train.shape[1] == 784
    np.testing.assert_array_equal(np.concatenate([dataset.x_val, dataset.x_train]), kx_train.reshape(200, 784))
    np.testing.assert_array_equal(np.concatenate([dataset.y_val, dataset.y_train]), ky_train)
    model = mnist.build_model(defaults(mnist), dataset)
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [512, 512, 10]


def test_mnist_wrong_dtype(tmp_path: Path) -> None:
    path = tmp_path / "mnist.npz"
    images = np.zeros((2, 28, 28), dtype=np.float32)
    np.savez(path, x_train=images, y_train=np.zeros(2, int), x_test=images, y_test=np.zeros(2, int))
    with pytest.raises(sp.DataError, match=rf"{path}: x_train must be uint8 images of 28x28, got float32"):
        mnist.read_file(path)


def test_cifar_batches_match_keras_load_batch(data_dir: Path, tmp_path: Path) -> None:
    from keras.src.datasets.cifar import load_batch

    batches = data_dir / "cifar-10-batches-py"
    (x_train, y_train), (x_test, y_test) = cifar10.read_batches(batches)
    keras_x, keras_y = load_batch(str(batches / "data_batch_2"))
    np.testing.assert_array_equal(x_train[20:40], keras_x.transpose(0, 2, 3, 1))  # Keras: channels last
    np.testing.assert_array_equal(y_train[20:40], keras_y)
    assert x_test.shape == (20, 32, 32, 3)
    dataset = cifar10.load_data(defaults(cifar10), sp.DataOptions(data_dir, tmp_path))
    model = cifar10.build_model(defaults(cifar10), dataset)
    convs = [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs == [32, 64] and [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [512, 10]


def test_cifar_missing_and_malformed_batches(data_dir: Path, tmp_path: Path) -> None:
    batches = tmp_path / "cifar-10-batches-py"
    shutil.copytree(data_dir / "cifar-10-batches-py", batches)
    (batches / "data_batch_3").write_bytes(pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(sp.DataError, match=rf"{batches / 'data_batch_3'}: expected uint8 rows of 3072 pixels"):
        cifar10.read_batches(batches)
    (batches / "data_batch_3").unlink()
    with pytest.raises(sp.DataError, match=rf"{batches / 'data_batch_3'}: missing"):
        cifar10.read_batches(batches)


def test_sequence_features_and_labels() -> None:
    values = np.array([[1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 5.0, 1.0], [5.0, 4.0, 3.0, 2.0]])
    state = np.array([[1, 1, 1, 1], [0, 0, 1, 0], [0, 0, 0, 0]], dtype=np.float32)
    arrays = sequence_trend.windows({"values": values, "state": state})
    x = np.concatenate([arrays["x_train"], arrays["x_test"]])
    y = np.concatenate([arrays["y_train"], arrays["y_test"]])
    np.testing.assert_array_equal(y, [1.0, 0.0, 1.0])  # rising, mixed, falling
    np.testing.assert_array_equal(x[0, -1], [4.0, 3.0, 1.0, 2.0])  # x3, x2, state, x1 at the last step
    dataset = sp.Dataset(x, y, x, y, x, y, sp.DataSource("generated", "", ""))
    chosen = sequence_trend.for_trial(dataset, {"feature_set": "x3_x2"})
    assert chosen.x_train.shape[-1] == 2
    np.testing.assert_array_equal(chosen.x_train[0, -1], [4.0, 3.0])


def test_sequence_file_shape_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "sequence_trend.npz"
    np.savez(path, values=np.zeros((3, 5)), state=np.zeros((3, 4)))
    with pytest.raises(sp.DataError, match=rf"{path}: state must be numeric with the shape of values \(3, 5\)"):
        sequence_trend.read_file(path)


def test_text_corpus_labels_and_vectorisation(tmp_path: Path) -> None:
    lines = [
        f"{rating} {'good great fine' if rating >= 4 else 'bad awful poor'} movie number {i}"
        for i, rating in enumerate([1, 2, 3, 4, 5, 0] * 10)
    ]
    path = tmp_path / "text_sentiment.txt"
    path.write_text("\n".join(lines) + "\n\n")
    corpus = text_sentiment.read_corpus(path)
    assert len(corpus) == 60
    arrays = text_sentiment.vectorise(corpus, "whitespace", max_tokens=50, sequence_length=7)
    assert arrays["x_train"].shape == (32, 7) and arrays["x_test"].shape == (8, 7)  # 40 labelled (0 and 3 dropped)
    assert arrays["x_train"].dtype == np.int32 and set(np.unique(arrays["y_train"])) == {0.0, 1.0}
    assert (arrays["x_train"][:, -1] == 0).all()  # 6 words padded to 7


def test_text_chinese_segmentation_with_jieba() -> None:
    corpus = [(5, "这部电影非常好看"), (1, "这部电影非常难看")] * 10
    arrays = text_sentiment.vectorise(corpus, "jieba", max_tokens=100, sequence_length=10)
    assert (arrays["x_train"] > 0).sum(axis=1).min() >= 3  # several words, not one unsplit string


def test_text_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "text_sentiment.txt"
    path.write_text("5 great\nnine stars for this\n")
    with pytest.raises(sp.DataError, match=rf"{path}:2: expected '<rating 0-5> <text>', got 'nine stars for this'"):
        text_sentiment.read_corpus(path)


def test_ragged_take_and_rows() -> None:
    ragged = Ragged.from_sequences([[1, 2], [3], [4, 5, 6]])
    assert ragged.take(np.array([2, 0])).rows() == [[4, 5, 6], [1, 2]]
