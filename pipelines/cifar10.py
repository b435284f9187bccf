"""CIFAR-10 images: Conv2D 32 -> pool -> dropout -> Conv2D 64 -> pool -> dropout -> Dense 512 -> softmax.

As the Keras CIFAR-10 CNN example does it: ``cifar10.load_data()`` (the pickled
``cifar-10-batches-py`` batches), pixels scaled to [0, 1] (here by a ``Rescaling`` layer, so
the 50,000 images stay uint8: 150 MB instead of 600 MB), two convolution blocks whose second
has twice the filters, a Dense head with dropout. 5,000 training images are held out for
validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import sweeps.pipeline as sp
from sweeps.pipeline import CLASSIFICATION_LOSSES, Hyperparameter, dense_stack, integer, real, split, training

from ._synthetic import patterns

if TYPE_CHECKING:
    import keras

CLASSES = 10
HYPERPARAMETERS: dict[str, Hyperparameter] = {
    **dense_stack(layers=1, units=512, loss="categorical_crossentropy", losses=CLASSIFICATION_LOSSES),
    "dropout": real(0.5, high=1.0, high_exclusive=True, help="dropout in the Dense head"),
    "filters": integer(32, high=1_024, help="filters of the first convolution block (the second has twice as many)"),
    "conv_dropout": real(0.25, high=1.0, high_exclusive=True, help="dropout after each convolution block"),
    **training(epochs=20, batch_size=32),
    **split(5_000),
}
OBJECTIVES = {"val_accuracy": "maximize", "val_loss": "minimize"}
# Preferred first. TensorFlow: its convolutions train 1.5x faster there than on JAX on a CPU.
BACKENDS = ("tensorflow", "jax", "torch")

_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


def load_data(hp: Mapping[str, Any], options: sp.DataOptions) -> sp.Dataset:
    """Load CIFAR-10 (data dir, Keras, or generated) as uint8 32x32x3 images."""
    raw = sp.RawSource(
        task="cifar10",
        filename="cifar-10-batches-py",
        keras_filename="cifar-10-batches-py-target",
        read_file=read_batches,
        keras_load=sp.keras_loader("cifar10"),
        generate=generate,
    )
    return sp.load_dataset(raw, options, hp, _as_arrays, "training images")


def for_trial(dataset: sp.Dataset, hp: Mapping[str, Any]) -> sp.Dataset:
    """One-hot labels for categorical crossentropy, integer labels for the sparse variant."""
    return sp.labels_for_loss(dataset, hp["loss"], CLASSES)


def build_model(hp: Mapping[str, Any], dataset: sp.Dataset) -> keras.Model:
    """Two Conv2D/MaxPool/Dropout blocks, then the Dense head and a softmax."""
    import keras

    inputs = keras.Input(shape=dataset.x_train.shape[1:], name="image")
    x = keras.layers.Rescaling(1.0 / 255, name="scale")(inputs)
    for block, filters in enumerate((hp["filters"], 2 * hp["filters"]), start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation=hp["activation"], name=f"conv_{block}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool_{block}")(x)
        x = keras.layers.Dropout(hp["conv_dropout"], name=f"conv_dropout_{block}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="label")(sp.hidden_layers(x, hp))
    return sp.compile_model(inputs, outputs, hp, [sp.accuracy(hp["loss"])], name="cifar10")


def read_batches(path: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Read ``cifar-10-batches-py/`` (pickled ``data_batch_1..5`` and ``test_batch``) as Keras does.

    Raises:
        DataError: a batch is missing, unreadable, or not 3072-byte rows with one label each.
    """
    train = [_read_batch(path / name) for name in _BATCHES]
    x_test, y_test = _read_batch(path / "test_batch")
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])), (x_test, y_test)


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = sp.read_pickle(path)
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise sp.DataError(f"{path}: not a CIFAR-10 batch (a dict with b'data' and b'labels')")
    data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.dtype != np.uint8 or labels.shape != (len(data),):
        raise sp.DataError(
            f"{path}: expected uint8 rows of 3072 pixels and one label each, "
            f"got data {data.dtype} {data.shape}, labels {labels.shape}"
        )
    # Stored channels first (N, 3, 32, 32); Keras hands out channels last.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.int64)


def _as_arrays(raw: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    (x_train, y_train), (x_test, y_test) = raw
    return {
        "x_train": x_train,
        "y_train": y_train.reshape(-1).astype(np.int64),
        "x_test": x_test,
        "y_test": y_test.reshape(-1).astype(np.int64),
    }


Raw = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def generate(train: int = 50_000, test: int = 10_000, seed: int = 0) -> Raw:
    """Made-up CIFAR-10-shaped data: per-class colour patterns, shifted and noisy. Not real data."""
    rng = np.random.default_rng(seed)
    prototypes = patterns(rng, CLASSES, 32, channels=3)
    splits = []
    for count in (train, test):
        labels = rng.integers(0, CLASSES, count)
        images = np.empty((count, 32, 32, 3), dtype=np.uint8)
        for start in range(0, count, 5_000):  # in chunks: the float noise for 50,000 images is 1.2 GB
            chunk = labels[start : start + 5_000]
            noisy = prototypes[chunk] + rng.normal(0, 70, (len(chunk), 32, 32, 3))
            images[start : start + 5_000] = np.clip(noisy, 0, 255).astype(np.uint8)
        splits.append((images, labels))
    return splits[0], splits[1]


def batch_file(images: np.ndarray, labels: np.ndarray) -> dict[bytes, Any]:
    """One batch in CIFAR-10's pickled layout (channels first, flattened rows)."""
    return {b"data": images.transpose(0, 3, 1, 2).reshape(len(images), -1), b"labels": labels.tolist()}
