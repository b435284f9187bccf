"""The arrays a pipeline returns: how many rows the validation split holds out."""

from __future__ import annotations

import numpy as np
import pytest

from sweeps.data.dataset import DataSource, hold_out, split_validation
from sweeps.errors import DataError

SOURCE = DataSource("data-dir", "/data/tiny.npz", "0" * 16, "tiny")


def test_hold_out_uses_the_fixed_size_when_there_is_enough() -> None:
    assert hold_out(25_000, 10_000, "reviews") == (10_000, [])
    held, notes = hold_out(19_999, 10_000, "reviews")
    assert held == 8_000 and "40%" in notes[0]


def test_the_validation_rows_are_the_first_training_rows() -> None:
    arrays = {"x_train": np.arange(10) * 10, "y_train": np.arange(10), "x_test": np.arange(3), "y_test": np.arange(3)}
    dataset = split_validation(arrays, 2, SOURCE, "rows")
    assert list(dataset.y_val) == [0, 1] and list(dataset.x_val) == [0, 10] and list(dataset.y_train) == list(range(2, 10))
    assert dataset.sizes() == "8 train, 2 validation, 3 test" and dataset.notes == []


def test_too_few_rows_to_train_validate_and_test_is_one_line() -> None:
    arrays = {"x_train": np.zeros(1), "y_train": np.zeros(1), "x_test": np.zeros(0), "y_test": np.zeros(0)}
    with pytest.raises(DataError, match=r"^/data/tiny\.npz: 1 training and 0 test rows; at least 2 and 1 are needed"):
        split_validation(arrays, 100, SOURCE, "rows")
