"""The compiled side of fused fits on JAX: rows kept on the device, and one jitted function per
epoch that steps every copy of a group through all its batches.

A group is copies of one model structure on as many rows each. Their state (weights,
non-trainable state such as dropout seeds, optimizer and metric variables) is stacked on a
leading axis and stepped by the reference model's own Keras ``train_step``/``test_step``
under ``jax.vmap``; a whole epoch of batches is one ``jax.lax.scan`` (the last, smaller batch
one more step after it, as Keras takes it), then validation the same way. Keras resets metrics
at each epoch and evaluation; so does this. A copy marked inactive (stopped early) keeps its
state unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from jax.experimental import sparse as jsparse

from sweeps.training.batches import count, floats

State = tuple[Any, ...]


class Pool:
    """Arrays' rows, one after another, on the device, taken by row number as batches.

    Sparse rows are kept as padded (column, value) lists. They are taken as a sparse batch
    (JAX's BCOO) for a model whose input is declared sparse, whose first Dense layer then sums
    the kernel rows of the columns present; else they are made dense as they are taken (the
    values ``sweeps.training.batches.rows`` gives).
    """

    def __init__(self, arrays: Sequence[Any], sparse_batches: bool = False) -> None:
        self.width: int | None = None
        self.sparse_batches = sparse_batches
        if sp.issparse(arrays[0]):
            csr = sp.vstack(arrays, format="csr")
            self.width = csr.shape[1]
            self.data = _padded(csr)
        else:
            self.data = jnp.asarray(floats(np.concatenate([np.asarray(array) for array in arrays])))

    def take(self, data: Any, numbers: Any) -> Any:
        """Rows ``numbers`` of ``data`` (this pool's ``data``, as traced) as a batch."""
        if self.width is None:
            return data[numbers]
        columns, values = data[0][numbers], data[1][numbers]
        rows = jnp.broadcast_to(jnp.arange(numbers.shape[0])[:, None], columns.shape)
        if self.sparse_batches:  # padding: value 0 at column `width`, which adds nothing
            where = jnp.stack([rows, columns], axis=-1).reshape(-1, 2)
            return jsparse.BCOO((values.reshape(-1), where), shape=(numbers.shape[0], self.width))
        return jnp.zeros((numbers.shape[0], self.width), values.dtype).at[rows, columns].add(values, mode="drop")


class Rows:
    """Pairs of arrays (inputs, labels) on the device, each pair once: row ``i`` of ``x`` goes
    with row ``i`` of ``y``, so one row number takes both."""

    def __init__(self, pairs: Sequence[tuple[Any, Any]], sparse_batches: bool = False) -> None:
        unique = list({(id(x), id(y)): (x, y) for x, y in pairs}.values())
        starts = np.cumsum([0, *(count(x) for x, _ in unique)])
        self._offsets = {(id(x), id(y)): int(start) for (x, y), start in zip(unique, starts, strict=False)}
        self.x, self.y = Pool([x for x, _ in unique], sparse_batches), Pool([y for _, y in unique])

    @property
    def data(self) -> tuple[Any, Any]:
        return self.x.data, self.y.data

    def offset(self, x: Any, y: Any) -> int:
        """Where the pair ``(x, y)``'s first row is."""
        return self._offsets[(id(x), id(y))]


def stack(states: Sequence[Sequence[Any]]) -> list[Any]:
    """Per-copy lists of arrays as one list of arrays stacked on a leading copy axis (stacked on
    the host: on the device every new shape would compile a function of its own)."""
    return [jnp.asarray(np.stack([np.asarray(value) for value in values])) for values in zip(*states, strict=True)]


def epoch_function(model: Any, reset: Any, rows: Rows, validation: Rows | None) -> Callable[..., Any]:
    """A jitted function ``(state, best, active, data, numbers) -> (state, best, logs, val_logs)``
    training every copy one epoch.

    ``state`` is (trainable, non-trainable, optimizer, metrics) stacked; ``reset`` the metric
    variables as Keras resets them; ``best`` is (the best epoch's trainable and non-trainable
    state, which copies improved last epoch), whose state is kept first; ``data`` the rows'
    data, for training and for validation; ``numbers`` the copies' (full batches, last batch)
    row numbers into them, for training and for validation; logs are every copy's last-step
    metrics.
    """
    train_step, test_step = jax.vmap(model.train_step), jax.vmap(model.test_step)

    def epoch(state, best, active, data, numbers):
        kept_best = keep_best(best[0], tuple(state[:2]), best[1])
        trained, logs = _steps(train_step, _lists((*state[:3], reset)), rows, data[0], numbers[0])
        kept = jax.tree.map(lambda new, old: jnp.where(along(active, new), new, old), trained[:3], tuple(state[:3]))
        val_logs = {}
        if validation is not None:
            val_logs = _steps(test_step, _lists((kept[0], kept[1], reset)), validation, data[1], numbers[1])[1]
        return (*kept, trained[3]), kept_best, logs, val_logs

    return jax.jit(epoch)


def evaluation_function(model: Any, rows: Rows) -> Callable[..., Any]:
    """A jitted function ``(trainable, non_trainable, reset, data, numbers) -> logs``: every
    copy's ``test_step`` metrics over its rows."""
    test_step = jax.vmap(model.test_step)
    return jax.jit(
        lambda trainable, non_trainable, reset, data, numbers: _steps(
            test_step, (trainable, non_trainable, reset), rows, data, numbers
        )[1]
    )


def keep_best(best: Any, current: Any, improved: Any) -> Any:
    """``current`` where a copy ``improved``, else ``best``."""
    return jax.tree.map(lambda kept, now: jnp.where(along(improved, now), now, kept), best, current)


def _steps(step: Callable[..., Any], state: State, rows: Rows, data: Any, numbers: Any) -> tuple[State, Any]:
    """``step`` over every batch of ``numbers`` = (full batches (copies, steps, batch), last
    batch (copies, rows)), the full ones in one scan."""
    full, last = numbers

    def batch(picked: Any) -> tuple[Any, Any]:
        return jax.vmap(rows.x.take, (None, 0))(data[0], picked), jax.vmap(rows.y.take, (None, 0))(data[1], picked)

    def body(carry: State, picked: Any) -> tuple[State, Any]:
        logs, carry = step(carry, batch(picked))
        return _lists(carry), logs

    logs = None
    if full.shape[1]:
        state, logs = jax.lax.scan(body, state, jnp.swapaxes(full, 0, 1))
        logs = jax.tree.map(lambda values: values[-1], logs)
    if last.shape[1]:
        logs, state = step(state, batch(last))
    return _lists(state), logs


def _lists(state: State) -> State:
    """Keras's steps hand back lists or tuples of variables; a scan's carry keeps one structure."""
    return tuple(list(part) for part in state)


def along(mask: Any, like: Any) -> Any:
    """A per-copy mask shaped to broadcast against ``like`` (copies first)."""
    return mask.reshape(mask.shape + (1,) * (like.ndim - 1))


def _padded(csr: sp.csr_matrix) -> tuple[Any, Any]:
    """Each row's columns and values, padded to the longest row (column ``width``: dropped)."""
    lengths = np.diff(csr.indptr)
    longest = max(int(lengths.max(initial=0)), 1)
    columns = np.full((csr.shape[0], longest), csr.shape[1], dtype=np.int32)
    values = np.zeros((csr.shape[0], longest), dtype=floats(csr.data).dtype)
    row = np.repeat(np.arange(csr.shape[0]), lengths)
    place = np.arange(csr.nnz) - np.repeat(csr.indptr[:-1], lengths)
    columns[row, place], values[row, place] = csr.indices, csr.data
    return jnp.asarray(columns), jnp.asarray(values)
