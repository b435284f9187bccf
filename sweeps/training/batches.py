"""How arrays reach ``model.fit``/``evaluate`` on JAX and PyTorch: numpy batches, without TensorFlow.

Each epoch's order follows from the fit's seed and the epoch number alone (``epoch_order``), so
a fit trained alone and the same fit in a fused set (``sweeps.training.fused_jax``, which
shuffles its rows with the same function) see the same batches. Sparse rows become dense
batches as they are taken: Keras's sparse path on JAX (BCOO) trained IMDB 28x slower than dense
batches of the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
import scipy.sparse as sp


def epoch_order(count: int, seed: int, epoch: int) -> np.ndarray:
    """The row numbers of one epoch of ``count`` rows shuffled by ``seed``."""
    return np.random.default_rng((seed, epoch)).permutation(count)


def rows(x: Any, numbers: Any) -> np.ndarray:
    """Rows ``numbers`` of ``x`` (an array or a sparse matrix) as a dense array, float64 as
    Keras's float32."""
    return floats(x[numbers].toarray() if sp.issparse(x) else x[numbers])


def floats(values: Any) -> np.ndarray:
    """Float64 arrays as Keras's float32 (what its own array adapter hands the model)."""
    array = np.asarray(values)
    return array.astype(np.float32) if array.dtype == np.float64 else array


def count(x: Any) -> int:
    """Rows of ``x``, an array or a sparse matrix."""
    return x.shape[0] if sp.issparse(x) else len(x)


def shuffled(x: Any, y: Any, batch_size: int, seed: int, epochs: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every epoch's batches, one epoch after another, each epoch in ``epoch_order``."""
    for epoch in range(epochs):
        order = epoch_order(count(x), seed, epoch)
        for start in range(0, len(order), batch_size):
            numbers = order[start : start + batch_size]
            yield rows(x, numbers), rows(y, numbers)


class InOrder(keras.utils.PyDataset):
    """``x``, ``y`` in row order, in batches (validation and test sets)."""

    def __init__(self, x: Any, y: Any, batch_size: int) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self) -> int:
        return math.ceil(count(self.x) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        numbers = np.arange(index * self.batch_size, min((index + 1) * self.batch_size, count(self.x)))
        return rows(self.x, numbers), rows(self.y, numbers)
