"""The arrays a pipeline hands to training, with where they came from, and common splits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sweeps.errors import DataError

KERAS_SEED = 113  # what Keras's dataset loaders shuffle with (their seed=113), so splits match Keras's
KERAS_TEST_SPLIT = 0.2  # the share of rows Keras's loaders keep for testing where a file holds one split


@dataclass(frozen=True)
class DataSource:
    """Which data a dataset was made from.

    Attributes:
        kind: ``data-dir``, ``keras`` or ``generated``.
        location: the file it was read from (or a description of the generator).
        fingerprint: sha256 over the source bytes and the encoding settings (16 hex digits).
        task: the task the data is for (``imdb``), to name it in records.
    """

    kind: str
    location: str
    fingerprint: str
    task: str = ""

    def describe(self) -> str:
        """``data-dir /data/imdb.npz``, or ``GENERATED sample of imdb`` (never mistaken for real data)."""
        if self.kind == "generated":
            return f"GENERATED {self.location.removeprefix('generated ')}"
        return f"{self.kind} {self.location}"


@dataclass
class Dataset:
    """Arrays ready for ``model.fit``: train / validation / test, plus provenance.

    ``x_*`` may be dense arrays or ``scipy.sparse`` CSR matrices (fed to Keras as sparse
    tensors). ``notes`` are things the user should read, e.g. a changed split.
    """

    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    x_test: Any
    y_test: Any
    source: DataSource
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def sizes(self) -> str:
        """``15000 train, 10000 validation, 25000 test``, for the console."""
        return ", ".join(f"{v} {k.removesuffix('_samples')}" for k, v in self.info.items() if k.endswith("_samples"))


def keras_split(rows: int, test_split: float = KERAS_TEST_SPLIT) -> tuple[np.ndarray, np.ndarray]:
    """The rows Keras's loaders train and test on (``boston_housing``, ``reuters``): all of them
    shuffled with ``KERAS_SEED``, the first ``1 - test_split`` for training."""
    order = np.arange(rows)
    np.random.RandomState(KERAS_SEED).shuffle(order)
    cut = int(rows * (1 - test_split))
    return order[:cut], order[cut:]


def hold_out(rows: int, wanted: int, what: str) -> tuple[int, list[str]]:
    """Rows to hold out for validation: ``wanted``, or 40% when there are fewer than twice that.

    Returns the count and a note for the user when the 40% rule applied.
    """
    if rows >= 2 * wanted:
        return wanted, []
    held_out = max(1, round(0.4 * rows))
    return held_out, [f"only {rows} {what} (< 2 x validation_samples={wanted}): holding out 40% ({held_out}) for validation"]


def split_validation(arrays: Mapping[str, Any], wanted: int, source: DataSource, what: str) -> Dataset:
    """A Dataset holding out the first ``wanted`` training rows for validation (see ``hold_out``)."""
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    if len(y_train) < 2 or len(arrays["y_test"]) < 1:
        raise DataError(
            f"{source.location}: {len(y_train)} training and {len(arrays['y_test'])} test {what.split()[-1]}; "
            "at least 2 and 1 are needed (to train, validate and test)"
        )
    held_out, notes = hold_out(len(y_train), wanted, what)
    return Dataset(
        x_train=x_train[held_out:],
        y_train=y_train[held_out:],
        x_val=x_train[:held_out],
        y_val=y_train[:held_out],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
        source=source,
        notes=notes,
        info={"train_samples": len(y_train) - held_out, "validation_samples": held_out, "test_samples": len(arrays["y_test"])},
    )


def labels_for_loss(dataset: Dataset, loss: str, classes: int) -> Dataset:
    """The dataset with one-hot labels for ``categorical_crossentropy``, integer labels otherwise.

    Datasets keep integer labels; this per-trial view costs one small array per split.
    """
    if loss != "categorical_crossentropy":
        return dataset
    eye = np.eye(classes, dtype=np.float32)
    return replace(dataset, y_train=eye[dataset.y_train], y_val=eye[dataset.y_val], y_test=eye[dataset.y_test])
