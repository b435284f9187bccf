"""Boston housing prices: 13 features normalised with the training mean/std, Dense 64-64-1.

As the tutorial does it: ``boston_housing.load_data()`` (404 training / 102 test rows after a
seeded shuffle), features normalised with the TRAINING mean and standard deviation only, a
linear output trained with mse and watched with mae, and K=4 fold cross-validation on the 404
training rows (``folds: 4`` in the search space) because a fixed validation split of ~100 rows
would be too noisy to compare configurations.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import sweeps.pipeline as sp
from sweeps.pipeline import Hyperparameter, dense_stack, split, training

if TYPE_CHECKING:
    import keras

HYPERPARAMETERS: dict[str, Hyperparameter] = {
    **dense_stack(layers=2, units=64, loss="mse", losses=("mse", "mae", "huber")),
    **training(epochs=100, batch_size=16),
    **split(101),  # one fold's worth, used only when a sweep does not cross-validate
}
OBJECTIVES = {"val_mae": "minimize", "val_loss": "minimize"}
# Preferred first. JAX: its fused folds step 4-24 copies of a small model (measured: benchmarks/backends.py).
BACKENDS = ("jax", "tensorflow", "torch")

Raw = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def load_data(hp: Mapping[str, Any], options: sp.DataOptions) -> sp.Dataset:
    """Load the prices (data dir, Keras, or generated) and normalise with training statistics."""
    raw = sp.keras_source("boston_housing", read_file, lambda: postprocess(generate_contents()))
    return sp.load_dataset(raw, options, hp, normalise, "training rows")


def normalise(raw: Raw) -> dict[str, np.ndarray]:
    """Centre and scale every feature with the training split's mean and std (test included)."""
    (x_train, y_train), (x_test, y_test) = raw
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # a constant column stays constant instead of dividing by 0
    return {
        "x_train": ((x_train - mean) / std).astype(np.float32),
        "y_train": y_train.astype(np.float32),
        "x_test": ((x_test - mean) / std).astype(np.float32),
        "y_test": y_test.astype(np.float32),
    }


def build_model(hp: Mapping[str, Any], dataset: sp.Dataset) -> keras.Model:
    """Dense stack on the 13 features, one linear output, mae as the metric."""
    import keras

    inputs = keras.Input(shape=(dataset.x_train.shape[1],), name="features")
    outputs = keras.layers.Dense(1, name="price")(sp.hidden_layers(inputs, hp))
    return sp.compile_model(inputs, outputs, hp, ["mae"], name="boston_housing")


def read_file(path: Path) -> Raw:
    """Read a ``boston_housing.npz`` (keys x, y) and split it exactly as Keras does."""
    return sp.read_npz_as(path, ("x", "y"), postprocess)


def postprocess(contents: Mapping[str, np.ndarray]) -> Raw:
    """Keras's ``boston_housing.load_data``: shuffle (seed 113), then 80/20 train/test.

    Raises:
        ValueError: shapes or dtypes are not those of the Keras file.
    """
    x, y = np.asarray(contents["x"]), np.asarray(contents["y"])
    if x.ndim != 2 or x.dtype.kind not in "fiu":
        raise ValueError(f"x must be a 2-D numeric array (rows x 13 features), got {x.dtype} with shape {x.shape}")
    if y.shape != (len(x),) or y.dtype.kind not in "fiu":
        raise ValueError(f"y must be {len(x)} numeric prices, got {y.dtype} with shape {y.shape}")
    train, test = sp.keras_split(len(x))
    return (x[train], y[train]), (x[test], y[test])


def generate_contents(count: int = 506, seed: int = 0) -> dict[str, np.ndarray]:
    """A made-up ``boston_housing.npz``: 506 rows of 13 features on the real columns' scales,
    prices in $1000s from a noisy non-linear function of them. Not real data."""
    rng = np.random.default_rng(seed)
    scale = np.array([3.6, 11.4, 6.9, 0.25, 0.12, 0.7, 28.0, 2.1, 8.7, 168.0, 2.2, 91.0, 7.1])
    centre = np.array([3.6, 11.4, 11.1, 0.07, 0.55, 6.3, 68.6, 3.8, 9.5, 408.0, 18.5, 356.0, 12.7])
    x = np.abs(centre + scale * rng.standard_normal((count, 13)))
    z = (x - centre) / scale
    price = 22.5 + 6.0 * z[:, 5] - 5.0 * z[:, 12] - 2.0 * z[:, 10] - 1.5 * z[:, 4] + 1.5 * np.tanh(z[:, 0] * z[:, 7])
    return {"x": x, "y": np.clip(price + rng.normal(0, 2.5, count), 5.0, 50.0)}
