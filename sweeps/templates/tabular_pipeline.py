"""__NAME__: predict one column of a CSV file from the others, with a Dense network.

Written by `sweeps init __NAME__` as a starting point: change it to fit your data.

Data: ``__NAME__.csv`` in the data directory (``python -m sweeps __NAME__ --data-dir DIR``), one
row per example. ``target`` names the column to predict and ``task`` says what it is: a
``classification`` (two values, e.g. yes/no or 0/1) or a ``regression`` (a number). Numeric
columns are standardised with the training rows' mean and deviation, text columns become one-hot
columns. Without a CSV, a GENERATED one with a ``target`` column stands in, so the sweep runs at
once; every run then says so (``data.source=generated``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import sweeps.pipeline as sp

if TYPE_CHECKING:
    import keras
    import pandas as pd

TASKS = ("classification", "regression")
HYPERPARAMETERS = {
    "target": sp.text("target", affects_data=True, help="the column to predict"),
    "task": sp.choice("classification", TASKS, affects_data=True, help="classification (two values) or regression"),
    "test_fraction": sp.real(0.2, low=0.05, high=0.5, affects_data=True, help="rows kept apart as the test set"),
    **sp.dense_stack(layers=2, units=32, loss="binary_crossentropy", losses=("binary_crossentropy", "mse", "mae", "huber")),
    **sp.training(epochs=20, batch_size=32),
    **sp.split(200),
}
OBJECTIVES = {"val_loss": "minimize", "val_accuracy": "maximize", "val_mae": "minimize"}

_SHUFFLE_SEED = 0


def load_data(hp: Mapping[str, Any], options: sp.DataOptions) -> sp.Dataset:
    """Read ``__NAME__.csv`` (or generate one), encode it, hold out test and validation rows."""
    settings = {key: hp[key] for key in ("target", "task", "test_fraction")}
    raw = sp.RawSource(task="__NAME__", filename="__NAME__.csv", read_file=read_csv, keras_load=None, generate=generate_csv)
    return sp.load_dataset(raw, options, hp, partial(encode_table, **settings), "training rows", **settings)


def build_model(hp: Mapping[str, Any], dataset: sp.Dataset) -> keras.Model:
    """The Dense stack on the encoded columns; a sigmoid unit for classification, linear otherwise."""
    import keras

    inputs = keras.Input(shape=(dataset.x_train.shape[1],), name="columns")
    classification = hp["task"] == "classification"
    outputs = keras.layers.Dense(1, activation="sigmoid" if classification else None, name="target")(sp.hidden_layers(inputs, hp))
    metrics = [sp.accuracy(hp["loss"])] if classification else ["mae"]
    return sp.compile_model(inputs, outputs, hp, metrics, name="__NAME__")


def read_csv(path: Path) -> pd.DataFrame:
    """The CSV file as a table."""
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise sp.DataError(f"{path}: not a readable CSV file: {error}") from None


def encode_table(frame: pd.DataFrame, target: str, task: str, test_fraction: float) -> dict[str, Any]:
    """Features and labels as float32 arrays, shuffled and split into train and test rows."""
    import pandas as pd

    if target not in frame.columns:
        raise sp.DataError(f"no column {target!r} to predict; the columns are {', '.join(map(str, frame.columns))} (set target)")
    frame = frame.dropna(subset=[target])
    labels = _labels(frame[target], task)
    features = pd.get_dummies(frame.drop(columns=[target]), dummy_na=True, dtype=np.float32).fillna(0.0)
    order = np.random.RandomState(_SHUFFLE_SEED).permutation(len(frame))
    cut = int(len(frame) * (1 - test_fraction))
    x = features.to_numpy(np.float32)[order]
    mean, std = x[:cut].mean(axis=0), x[:cut].std(axis=0)
    x = (x - mean) / np.where(std > 0, std, 1.0)  # the training rows' statistics, test rows included
    y = labels[order]
    return {"x_train": x[:cut], "y_train": y[:cut], "x_test": x[cut:], "y_test": y[cut:]}


def _labels(column: pd.Series, task: str) -> np.ndarray:
    if task == "regression":
        try:
            return column.astype(np.float32).to_numpy()
        except ValueError:
            raise sp.DataError(f"column {column.name!r} is not numeric; a regression needs numbers (or set task)") from None
    values = sorted(column.unique(), key=str)
    if len(values) != 2:
        raise sp.DataError(f"column {column.name!r} has {len(values)} distinct values; a classification needs two (or set task)")
    return (column == values[1]).to_numpy(np.float32)  # the second value, in sorted order, is the positive class


def generate_csv(rows: int = 2_000, seed: int = 0) -> pd.DataFrame:
    """A made-up table of customers: numbers, a category, and a ``target`` that depends on them
    noisily. Not real data."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    tenure, spend = rng.integers(1, 72, rows), rng.gamma(2.0, 40.0, rows)
    plan = rng.choice(["basic", "plus", "pro"], rows)
    score = 1.5 - 0.05 * tenure + 0.01 * spend + np.where(plan == "basic", 0.8, -0.3) + rng.normal(0, 1.0, rows)
    target = np.where(score > 0, "yes", "no")
    return pd.DataFrame({"tenure_months": tenure, "monthly_spend": spend.round(2), "plan": plan, "target": target})
