"""How arrays reach Keras: sparse matrices as a shuffled, batched tf.data pipeline."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import tensorflow as tf

from sweeps.training import feed


def _matrix(rows: int = 50) -> tuple[sp.csr_matrix, np.ndarray]:
    """Row i has a 1 in column i % 7 and i % 11 (and its label is i), so rows can be told apart."""
    cols = np.stack([np.arange(rows) % 7, 7 + np.arange(rows) % 11], axis=1).ravel()
    x = sp.csr_matrix((np.ones(2 * rows, np.float32), (np.repeat(np.arange(rows), 2), cols)), shape=(rows, 20))
    return x, np.arange(rows, dtype=np.float32)


def _epoch(dataset) -> tuple[list[float], list[np.ndarray], list[int]]:
    labels, dense, sizes = [], [], []
    for x, y in dataset:
        sizes.append(int(y.shape[0]))
        labels.extend(y.numpy().tolist())
        dense.extend(tf.sparse.to_dense(x).numpy())
    return labels, dense, sizes


def test_sparse_training_data_is_every_row_once_per_epoch_reshuffled_and_seeded() -> None:
    x, y = _matrix()
    fed = feed.feed(x, y, batch_size=16, shuffle_seed=3)
    assert set(fed) == {"x", "shuffle"} and fed["shuffle"] is False  # the dataset shuffles itself
    first, dense, sizes = _epoch(fed["x"])
    second, _, _ = _epoch(fed["x"])
    assert sizes == [16, 16, 16, 2]
    assert sorted(first) == sorted(second) == list(range(50))
    assert first != second  # a new order every epoch
    assert first == _epoch(feed.feed(x, y, 16, shuffle_seed=3)["x"])[0]  # the same seed, the same orders
    for label, row in zip(first, dense, strict=False):  # rows travel with their labels
        np.testing.assert_array_equal(row, x[int(label)].toarray()[0])


def test_sparse_validation_keeps_the_order_and_dense_arrays_go_to_keras_as_they_are() -> None:
    x, y = _matrix(20)
    labels, dense, _ = _epoch(feed.validation(x, y, batch_size=8))
    assert labels == list(range(20))
    np.testing.assert_array_equal(np.array(dense), x.toarray())
    array = x.toarray()
    fed = feed.feed(array, y, 8)
    assert set(fed) == {"x", "y", "batch_size"} and fed["x"] is array and fed["y"] is y and fed["batch_size"] == 8
    assert feed.feed(array, y, 8, shuffle_seed=1)["shuffle"] is True  # Keras shuffles dense arrays itself
    held = feed.validation(array, y, 8)
    assert held[0] is array and held[1] is y


def test_unsorted_sparse_indices_are_accepted() -> None:
    x = sp.csr_matrix((np.ones(3, np.float32), np.array([5, 1, 3]), np.array([0, 3])), shape=(1, 6))
    assert not x.has_sorted_indices
    (label,), (row,), _ = _epoch(feed.validation(x, np.zeros(1, np.float32), 4))
    np.testing.assert_array_equal(row, [0, 1, 0, 1, 0, 1])


def test_a_matrix_is_converted_once_and_forgotten_with_it() -> None:
    x, y = _matrix()
    first = feed._sparse_tensor(x)
    assert feed._sparse_tensor(x) is first  # the next trial reuses the conversion
    assert _epoch(feed.validation(x, y, 16))[0] == list(range(50))
    key = id(x)
    del x, first
    import gc

    gc.collect()
    assert key not in feed._tensors
