"""Rows on the device taken as batches: the rows asked for, in their order, sparse or dense."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import scipy.sparse as sp

from sweeps.training.stacked import Pool, Rows, taken


def ragged(rows: int, width: int, seed: int) -> sp.csr_matrix:
    """Rows of very different lengths (some empty), as IMDB's reviews are."""
    rng = np.random.default_rng(seed)
    dense = (rng.random((rows, width)) < rng.random((rows, 1)) ** 3).astype(np.float32) * rng.random((rows, width))
    dense[::7] = 0.0
    return sp.csr_matrix(dense.astype(np.float32))


@pytest.mark.parametrize("sparse_batches", [False, True], ids=["made_dense", "bcoo"])
def test_a_batch_of_sparse_rows_is_those_rows(sparse_batches: bool) -> None:
    first, second = ragged(40, 30, 0), ragged(25, 30, 1)
    pool = Pool([first, second], sparse_batches)
    numbers = np.random.default_rng(2).permutation(65)[:24].reshape(3, 8).astype(np.int32)  # three batches of 8
    nonzeros = pool.nonzeros(numbers)
    expected = sp.vstack([first, second]).toarray()
    assert nonzeros >= max(np.count_nonzero(expected[batch]) for batch in numbers)
    for batch in numbers:
        got = jax.jit(pool.take, static_argnums=2)(pool.data, batch, nonzeros)
        got = np.asarray(got.todense() if sparse_batches else got)
        np.testing.assert_array_equal(got, expected[batch])


def test_dense_rows_are_taken_as_they_are() -> None:
    x = np.arange(12.0).reshape(6, 2)
    pool = Pool([x[:4], x[4:]])
    assert pool.nonzeros(np.array([[0, 1]])) == 0
    np.testing.assert_array_equal(np.asarray(pool.take(pool.data, np.array([5, 0]), 0)), x[[5, 0]])


def test_a_batch_gets_room_for_the_most_nonzeros_any_batch_holds() -> None:
    x = sp.csr_matrix(np.tril(np.ones((2048, 2048), np.float32)))  # row i holds i + 1 nonzeros
    y = np.zeros((2048, 1), np.float32)
    rows = Rows([(x, y)])
    full, last = np.array([[[0, 1], [2047, 2046]]]), np.array([[3]])  # one copy: two full batches, a last of one row
    room = taken(rows, [(full, last)])
    assert (room.full, room.last) == (4096, 1024)  # 2048 + 2047 rounded up to 1,024s; 4 rounded up
    assert taken(rows, []).full == 0
