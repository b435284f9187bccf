"""MNIST digits: 784 pixel inputs, Dense 512-512, softmax over 10 digits.

As the tutorial does it: ``mnist.load_data()``, images flattened to 784 values scaled to
[0, 1], Dense 512-512-10. The pixels stay uint8 in memory (47 MB instead of 188 MB of float32)
and a ``Rescaling`` layer divides by 255 inside the model. 10,000 of the 60,000 training
images are held out for validation; the test set is evaluated at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import sweeps.pipeline as sp
from sweeps.pipeline import CLASSIFICATION_LOSSES, Hyperparameter, dense_stack, split, training

from ._synthetic import patterns

if TYPE_CHECKING:
    import keras

CLASSES = 10
HYPERPARAMETERS: dict[str, Hyperparameter] = {
    **dense_stack(layers=2, units=512, loss="categorical_crossentropy", losses=CLASSIFICATION_LOSSES),
    **training(epochs=20, batch_size=128),
    **split(10_000),
}
OBJECTIVES = {"val_accuracy": "maximize", "val_loss": "minimize"}
# Preferred first. JAX: a Dense stack (measured: benchmarks/backends.py).
BACKENDS = ("jax", "tensorflow", "torch")

_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(hp: Mapping[str, Any], options: sp.DataOptions) -> sp.Dataset:
    """Load MNIST (data dir, Keras, or generated) as flattened uint8 rows."""
    raw = sp.keras_source("mnist", read_file, lambda: _as_raw(generate_contents()))
    return sp.load_dataset(raw, options, hp, _flatten, "training images")


def for_trial(dataset: sp.Dataset, hp: Mapping[str, Any]) -> sp.Dataset:
    """One-hot labels for categorical crossentropy, integer labels for the sparse variant."""
    return sp.labels_for_loss(dataset, hp["loss"], CLASSES)


def build_model(hp: Mapping[str, Any], dataset: sp.Dataset) -> keras.Model:
    """Rescale pixels to [0, 1], Dense stack, softmax over the ten digits."""
    import keras

    inputs = keras.Input(shape=(dataset.x_train.shape[1],), name="pixels")
    x = keras.layers.Rescaling(1.0 / 255, name="scale")(inputs)
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="digit")(sp.hidden_layers(x, hp))
    return sp.compile_model(inputs, outputs, hp, [sp.accuracy(hp["loss"])], name="mnist")


def read_file(path: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Read an ``mnist.npz`` (uint8 images 28x28, labels 0-9) as Keras does."""
    return sp.read_npz_as(path, _KEYS, _as_raw)


def _as_raw(contents: Mapping[str, np.ndarray]) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    for split_name in ("train", "test"):
        x, y = contents[f"x_{split_name}"], contents[f"y_{split_name}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8:
            raise ValueError(f"x_{split_name} must be uint8 images of 28x28, got {x.dtype} with shape {x.shape}")
        if y.shape != (len(x),) or y.dtype.kind not in "iu":
            raise ValueError(f"y_{split_name} must be {len(x)} integer labels, got {y.dtype} with shape {y.shape}")
    return (contents["x_train"], contents["y_train"]), (contents["x_test"], contents["y_test"])


def _flatten(raw: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    (x_train, y_train), (x_test, y_test) = raw
    return {
        "x_train": x_train.reshape(len(x_train), -1),
        "y_train": y_train.astype(np.int64),
        "x_test": x_test.reshape(len(x_test), -1),
        "y_test": y_test.astype(np.int64),
    }


def generate_contents(train: int = 60_000, test: int = 10_000, seed: int = 0) -> dict[str, np.ndarray]:
    """A made-up ``mnist.npz``: blurry per-class stroke patterns, shifted and noisy, as uint8
    28x28 images. Learnable, but not digits and not real data."""
    rng = np.random.default_rng(seed)
    prototypes = patterns(rng, CLASSES, 28, channels=1)[..., 0]
    contents = {}
    for split_name, count in (("train", train), ("test", test)):
        labels = rng.integers(0, CLASSES, count)
        shifts = rng.integers(-2, 3, (count, 2))
        images = np.stack(
            [np.roll(prototypes[label], tuple(shift), axis=(0, 1)) for label, shift in zip(labels, shifts, strict=True)]
        )
        noisy = images + rng.normal(0, 60, images.shape)
        contents[f"x_{split_name}"] = np.clip(noisy, 0, 255).astype(np.uint8)
        contents[f"y_{split_name}"] = labels.astype(np.uint8)
    return contents
