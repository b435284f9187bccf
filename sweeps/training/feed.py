"""How arrays reach ``model.fit``/``evaluate``: on TensorFlow as one seeded tf.data pipeline per
fit; on JAX and PyTorch as numpy batches (``sweeps.training.batches``), without TensorFlow.

Keras's adapter for ``scipy.sparse`` turns every batch into a ``tf.SparseTensor`` in Python;
on IMDB that was half of each epoch (0.48 s vs 0.24 s for 16 units) and, because the last
batch is smaller, traced every train step twice. Here a sparse matrix becomes one SparseTensor
and tf.data shuffles (every epoch, seeded) and batches it in C++ with an unknown batch size,
so each model traces once. Dense arrays take the same road, so the batches a fit sees depend
only on its rows, its batch size and its seed: a fit trained alone and the same fit trained
fused with others (``sweeps.training.fused``) see the same batches in the same order.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import scipy.sparse as sp

from sweeps.training import batches


def feed(x: Any, y: Any, batch_size: int, shuffle_seed: int | None = None, epochs: int = 1) -> dict[str, Any]:
    """Keyword arguments for ``model.fit``/``evaluate`` delivering ``x``, ``y`` in batches.

    ``shuffle_seed`` shuffles the rows anew each of ``epochs`` epochs (None keeps their order,
    for validation and test).
    """
    if not _on_tensorflow():
        if shuffle_seed is None:
            return {"x": batches.InOrder(x, y, batch_size)}
        shuffled = batches.shuffled(x, y, batch_size, shuffle_seed, epochs)
        return {"x": shuffled, "steps_per_epoch": steps(x, batch_size), "shuffle": False}
    if shuffle_seed is None:
        return {"x": dataset(x, y, batch_size)}
    # The dataset shuffles itself; Keras's own shuffle flag would only warn that it is ignored.
    return {"x": dataset(x, y, batch_size, shuffle_seed, epochs), "steps_per_epoch": steps(x, batch_size), "shuffle": False}


def validation(x: Any, y: Any, batch_size: int) -> Any:
    """``validation_data`` for ``model.fit``: the rows in order, in batches."""
    return dataset(x, y, batch_size) if _on_tensorflow() else batches.InOrder(x, y, batch_size)


def _on_tensorflow() -> bool:
    import keras

    return keras.backend.backend() == "tensorflow"


def dataset(x: Any, y: Any, batch_size: int, shuffle_seed: int | None = None, epochs: int = 1) -> Any:
    """``x``, ``y`` as a tf.data dataset of batches: in order, or ``epochs`` epochs one after
    another, each shuffled by ``shuffle_seed`` and its epoch number.

    Each epoch's order follows from the seed and the epoch alone (a stateless shuffle of the
    row numbers), not from how many times the dataset was iterated (``model.fit`` iterates it
    in its own way): a fit trained alone and the same fit trained fused with others see the
    same batches. ``steps(x, batch_size)`` batches make an epoch.
    """
    import tensorflow as tf  # only once a trial trains; the CLI imports TensorFlow lazily

    count = batches.count(x)
    if shuffle_seed is None:
        numbers = tf.data.Dataset.range(count).batch(batch_size)
    else:

        def epoch(number: Any) -> Any:
            seed = tf.stack([tf.constant(shuffle_seed, tf.int64), number])
            order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), seed=seed)
            return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

        numbers = tf.data.Dataset.range(epochs).flat_map(epoch)
    # One batch gathered ahead, on one thread, and no autotuning: a trial's fits each have a
    # pipeline (five replicates fused: five), and autotuned ones competed with training for the
    # cores, and freeing one waited for its autotuning thread, up to a minute per pipeline
    # (fused IMDB replicates: 145 s wall for 38 s of CPU; Boston folds: 7.0 s vs 3.2 s).
    options = tf.data.Options()
    options.autotune.enabled = False
    return numbers.map(_rows_of(x, y)).prefetch(1).with_options(options)


def steps(x: Any, batch_size: int) -> int:
    """Batches in one epoch of ``x``."""
    return -(-batches.count(x) // batch_size)


def _rows_of(x: Any, y: Any) -> Any:
    """A function from a batch of row numbers to those rows of ``x`` and ``y`` as tensors."""
    import tensorflow as tf

    labels = tf.constant(batches.floats(y))
    if not sp.issparse(x):
        features = tf.constant(batches.floats(x))
        return lambda numbers: (tf.gather(features, numbers), tf.gather(labels, numbers))
    columns, values, width = _ragged(x)

    def take(numbers: Any) -> Any:
        picked, weights = tf.gather(columns, numbers), tf.gather(values, numbers)
        where = tf.stack([picked.value_rowids(), picked.flat_values], axis=1)
        shape = tf.stack([tf.size(numbers, out_type=tf.int64), tf.constant(width, tf.int64)])
        return tf.SparseTensor(where, weights.flat_values, shape), tf.gather(labels, numbers)

    return take


_ragged_rows: dict[int, Any] = {}  # id of a matrix -> its rows as ragged tensors, dropped with the matrix


def _ragged(x: sp.spmatrix) -> tuple[Any, Any, int]:
    """``x``'s rows as ragged tensors of column numbers and values (sorted within each row, as a
    SparseTensor wants), converted once per matrix: every trial of a sweep trains on the same
    loaded matrices."""
    key = id(x)
    if key not in _ragged_rows:
        import tensorflow as tf

        csr = sp.csr_matrix(x)  # no copy when it already is one
        csr = csr if csr.has_sorted_indices else csr.sorted_indices()
        splits = csr.indptr.astype(np.int64)
        _ragged_rows[key] = (
            tf.RaggedTensor.from_row_splits(csr.indices.astype(np.int64), splits),
            tf.RaggedTensor.from_row_splits(csr.data.astype(np.float32), splits),
            csr.shape[1],
        )
        weakref.finalize(x, _ragged_rows.pop, key, None)  # ids are reused once a matrix is gone
    return _ragged_rows[key]
