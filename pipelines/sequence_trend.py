"""A small LSTM sequence task: do the last three values of a window rise or fall together?

The tutorial builds its own data: windows of a trending, noisy series, each step described by
a feature set, and a label saying whether the window's last three values move in one direction
(all rising or all falling). It asks which features the model needs: ``[x3, x2, state]`` (the
current and previous value plus the hidden trend state), ``[x3, x2, x1]`` (the last three
values) or just ``[x3, x2]``. Two stacked LSTM(50) layers with dropout 0.2 and a sigmoid output.

Data: ``sequence_trend.npz`` in a data directory (``values`` and ``state``, both windows x
steps), else a generated series. There is no Keras loader: this task is synthetic by design.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import sweeps.pipeline as sp
from sweeps.pipeline import Hyperparameter, choice, integer, optimization, real, split, training

if TYPE_CHECKING:
    import keras

FEATURE_SETS = {"x3_x2_state": ("x3", "x2", "state"), "x3_x2_x1": ("x3", "x2", "x1"), "x3_x2": ("x3", "x2")}
HYPERPARAMETERS: dict[str, Hyperparameter] = {
    "feature_set": choice("x3_x2_state", tuple(FEATURE_SETS), help="what each time step shows the model"),
    "lstm_units": integer(50, high=4_096, help="units per LSTM layer"),
    "lstm_layers": integer(2, high=8, help="stacked LSTM layers"),
    "dropout": real(0.2, high=1.0, high_exclusive=True, help="dropout after each LSTM layer"),
    **optimization("binary_crossentropy", ("binary_crossentropy", "mse")),
    **training(epochs=20, batch_size=64),
    **split(1_000),
}
OBJECTIVES = {"val_accuracy": "maximize", "val_loss": "minimize"}
# Preferred first. JAX: its LSTM replicates fuse as fast as on TensorFlow, without starting it (measured: benchmarks/backends.py).
BACKENDS = ("jax", "tensorflow", "torch")

_TEST_SHARE = 0.2
_COLUMNS = ("x3", "x2", "state", "x1")  # the order ``windows`` stacks them in


def load_data(hp: Mapping[str, Any], options: sp.DataOptions) -> sp.Dataset:
    """Windows from the data dir or a generated series; every feature set is kept, the trial picks."""
    raw = sp.RawSource(
        task="sequence_trend", filename="sequence_trend.npz", read_file=read_file, keras_load=None, generate=generate_contents
    )
    return sp.load_dataset(raw, options, hp, windows, "training windows")


def for_trial(dataset: sp.Dataset, hp: Mapping[str, Any]) -> sp.Dataset:
    """Keep only the columns of the trial's feature set."""
    columns = [_COLUMNS.index(name) for name in FEATURE_SETS[hp["feature_set"]]]
    return replace(
        dataset, x_train=dataset.x_train[..., columns], x_val=dataset.x_val[..., columns], x_test=dataset.x_test[..., columns]
    )


def build_model(hp: Mapping[str, Any], dataset: sp.Dataset) -> keras.Model:
    """``lstm_layers`` stacked LSTMs with dropout, a sigmoid unit."""
    import keras

    inputs = keras.Input(shape=dataset.x_train.shape[1:], name="steps")
    x = inputs
    for index in range(hp["lstm_layers"]):
        last = index == hp["lstm_layers"] - 1
        x = keras.layers.LSTM(hp["lstm_units"], return_sequences=not last, name=f"lstm_{index + 1}")(x)
        x = keras.layers.Dropout(hp["dropout"], name=f"dropout_{index + 1}")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="together")(x)
    return sp.compile_model(inputs, outputs, hp, [sp.accuracy(hp["loss"])], name="sequence_trend")


def windows(contents: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Features per step (x3, x2, state, x1) and labels, split into train and test.

    ``x3`` is the value at a step, ``x2`` and ``x1`` the one and two before it (the window's
    first value repeated before its start), ``state`` the series' trend state.
    """
    values, state = contents["values"].astype(np.float32), contents["state"].astype(np.float32)
    x2 = np.concatenate([values[:, :1], values[:, :-1]], axis=1)
    x1 = np.concatenate([x2[:, :1], x2[:, :-1]], axis=1)
    features = np.stack([values, x2, state, x1], axis=-1)
    rising = (values[:, -1] > values[:, -2]) & (values[:, -2] > values[:, -3])
    falling = (values[:, -1] < values[:, -2]) & (values[:, -2] < values[:, -3])
    labels = (rising | falling).astype(np.float32)
    cut = int(len(values) * (1 - _TEST_SHARE))
    return {"x_train": features[:cut], "y_train": labels[:cut], "x_test": features[cut:], "y_test": labels[cut:]}


def read_file(path: Path) -> dict[str, np.ndarray]:
    """Read ``sequence_trend.npz``: ``values`` and ``state``, numeric, windows x steps (>= 3)."""
    contents = sp.read_npz(path, ("values", "state"))
    values, state = contents["values"], contents["state"]
    if values.ndim != 2 or values.shape[1] < 3 or values.dtype.kind not in "fiu":
        raise sp.DataError(
            f"{path}: values must be numeric windows x steps with at least 3 steps, got {values.dtype} with shape {values.shape}"
        )
    if state.shape != values.shape or state.dtype.kind not in "fiub":
        raise sp.DataError(f"{path}: state must be numeric with the shape of values {values.shape}, got {state.shape}")
    return contents


def generate_contents(windows_count: int = 5_000, steps: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """A trending series: a hidden up/down state that flips now and then drives the drift."""
    rng = np.random.default_rng(seed)
    flips = rng.random((windows_count, steps)) < 0.15
    start = rng.integers(0, 2, (windows_count, 1))
    state = (start + np.cumsum(flips, axis=1)) % 2
    drift = np.where(state == 1, 0.6, -0.6)
    values = np.cumsum(drift + rng.normal(0, 1.0, (windows_count, steps)), axis=1)
    return {"values": values.astype(np.float32), "state": state.astype(np.float32)}
