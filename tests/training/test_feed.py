"""How arrays reach Keras, sparse or dense: one seeded tf.data pipeline per fit on TensorFlow,
numpy batches on JAX (this suite runs on both: tests/test_backends.py)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import scipy.sparse as sp

from sweeps.training import feed

ON_TENSORFLOW = keras.backend.backend() == "tensorflow"
tensorflow_only = pytest.mark.skipif(not ON_TENSORFLOW, reason="TensorFlow's tf.data feed: tests/test_backends.py runs it there")


def _matrix(rows: int = 50) -> tuple[sp.csr_matrix, np.ndarray]:
    """Row i has a 1 in column i % 7 and i % 11 (and its label is i), so rows can be told apart."""
    cols = np.stack([np.arange(rows) % 7, 7 + np.arange(rows) % 11], axis=1).ravel()
    x = sp.csr_matrix((np.ones(2 * rows, np.float32), (np.repeat(np.arange(rows), 2), cols)), shape=(rows, 20))
    return x, np.arange(rows, dtype=np.float32)


def _epochs(dataset, steps: int) -> list[tuple[list[float], list[np.ndarray], list[int]]]:
    """The dataset's batches cut into epochs of ``steps`` batches, as ``model.fit`` reads them."""
    batches = _batches(dataset)
    return [_epoch(batches[start : start + steps]) for start in range(0, len(batches), steps)]


def _batches(fed) -> list:
    """A feed's batches: a tf.data dataset's, a generator's, or a PyDataset's by index."""
    if isinstance(fed, keras.utils.PyDataset):
        return [fed[index] for index in range(len(fed))]
    return list(fed)


def _epoch(batches) -> tuple[list[float], list[np.ndarray], list[int]]:
    """One epoch's labels, rows (dense) and batch sizes."""
    labels, rows, sizes = [], [], []
    for x, y in batches:
        sizes.append(int(y.shape[0]))
        labels.extend(np.asarray(y).tolist())
        rows.extend(_dense(x))
    return labels, rows, sizes


def _dense(x) -> np.ndarray:
    if ON_TENSORFLOW:
        import tensorflow as tf

        return tf.sparse.to_dense(x).numpy() if isinstance(x, tf.SparseTensor) else x.numpy()
    return np.asarray(x)


@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "dense"])
def test_training_data_is_every_row_once_per_epoch_reshuffled_and_seeded(sparse: bool) -> None:
    x, y = _matrix()
    x = x if sparse else x.toarray()
    fed = feed.feed(x, y, batch_size=16, shuffle_seed=3, epochs=3)
    assert set(fed) == {"x", "steps_per_epoch", "shuffle"} and fed["shuffle"] is False  # the feed shuffles itself
    assert fed["steps_per_epoch"] == feed.steps(x, 16) == 4
    epochs = _epochs(fed["x"], 4)
    assert len(epochs) == 3 and all(sizes == [16, 16, 16, 2] for _, _, sizes in epochs)  # no batch spans two epochs
    (first, rows, _), (second, _, _), _ = epochs
    assert sorted(first) == sorted(second) == list(range(50))
    assert first != second  # a new order every epoch
    again = _epochs(feed.feed(x, y, 16, shuffle_seed=3, epochs=2)["x"], 4)
    assert [e[0] for e in again] == [first, second]  # each epoch's order follows from the seed and the epoch alone
    assert _epochs(feed.feed(x, y, 16, shuffle_seed=4, epochs=1)["x"], 4)[0][0] != first
    dense = x.toarray() if sparse else x
    for label, row in zip(first, rows, strict=True):  # rows travel with their labels
        np.testing.assert_array_equal(row, dense[int(label)])


def test_validation_keeps_the_order_in_float32() -> None:
    x, y = _matrix(20)
    for rows in (x, x.toarray().astype(np.float64)):
        labels, dense, sizes = _epoch(feed.validation(rows, y, batch_size=8))
        assert labels == list(range(20)) and sizes == [8, 8, 4]
        np.testing.assert_array_equal(np.array(dense), x.toarray())
    (batch, _), *_ = _batches(feed.validation(x.toarray().astype(np.float64), y, 8))
    assert str(batch.dtype) in ("float32", "<dtype: 'float32'>")  # what Keras's own adapter hands the model


def test_unsorted_sparse_indices_are_accepted() -> None:
    x = sp.csr_matrix((np.ones(3, np.float32), np.array([5, 1, 3]), np.array([0, 3])), shape=(1, 6))
    assert not x.has_sorted_indices
    (label,), (row,), _ = _epoch(feed.validation(x, np.zeros(1, np.float32), 4))
    np.testing.assert_array_equal(row, [0, 1, 0, 1, 0, 1])


@tensorflow_only
def test_a_matrix_is_converted_once_and_forgotten_with_it() -> None:
    x, y = _matrix()
    first = feed._ragged(x)
    assert feed._ragged(x) is first  # the next trial reuses the conversion
    assert _epoch(feed.validation(x, y, 16))[0] == list(range(50))
    key = id(x)
    del x, first
    import gc

    gc.collect()
    assert key not in feed._ragged_rows


@tensorflow_only
def test_pipelines_are_not_autotuned() -> None:
    """Autotuned pipelines competed with training for the cores, and freeing one waited for its
    autotuning thread (up to a minute each: five fused replicates ran 145 s for 38 s of CPU)."""
    x, y = _matrix()
    for dataset in (feed.dataset(x, y, 16, shuffle_seed=1, epochs=2), feed.validation(x.toarray(), y, 16)):
        assert dataset.options().autotune.enabled is False
