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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from jax.experimental import sparse as jsparse

from sweeps.training.batches import count, floats
from sweeps.training.choices import per_copy
from sweeps.training.compiling import Program

State = tuple[Any, ...]


class Pool:
    """Arrays' rows, one after another, on the device, taken by row number as batches.

    Sparse rows are kept as their nonzeros, row after row (CSR), and a batch is taken as the
    nonzeros of its rows, one after another, in room for ``nonzeros`` of them (what the
    batches hold at most; the room left over is value 0 at column ``width``, which adds
    nothing). Padding each row to the longest would make IMDB's batches five times longer than
    what they hold (longest review 472 words, mean 88), and its epochs twice as slow. The batch
    is a sparse one (JAX's BCOO) for a model whose input is declared sparse, whose first Dense
    layer then sums the kernel rows of the columns present; else it is made dense as it is
    taken (the values ``sweeps.training.batches.rows`` gives).
    """

    def __init__(self, arrays: Sequence[Any], sparse_batches: bool = False) -> None:
        self.width: int | None = None
        self.sparse_batches = sparse_batches
        if sp.issparse(arrays[0]):
            csr = sp.vstack(arrays, format="csr")
            self.width, self.lengths = csr.shape[1], np.diff(csr.indptr)
            padding = np.zeros(1, floats(csr.data).dtype)
            self.data = tuple(
                jnp.asarray(part)
                for part in (
                    csr.indptr.astype(np.int32),
                    np.append(csr.indices, self.width).astype(np.int32),
                    np.append(floats(csr.data), padding),
                )
            )
        else:
            self.data = jnp.asarray(floats(np.concatenate([np.asarray(array) for array in arrays])))

    def nonzeros(self, numbers: np.ndarray) -> int:
        """The most nonzeros any batch of rows ``numbers`` (batches on the last axis) holds,
        rounded up to a multiple of 1,024 (0 for dense rows)."""
        if self.width is None or not numbers.size:
            return 0
        most = int(self.lengths[numbers].sum(axis=-1).max())
        return max(1024, -(-most // 1024) * 1024)

    def take(self, data: Any, numbers: Any, nonzeros: int) -> Any:
        """Rows ``numbers`` of ``data`` (this pool's ``data``, as traced) as a batch holding at
        most ``nonzeros`` nonzeros (sparse rows)."""
        if self.width is None:
            return data[numbers]
        starts, columns, values = data
        firsts = starts[numbers]
        ends = jnp.cumsum(starts[numbers + 1] - firsts)  # where each row's nonzeros end in the batch
        slot = jnp.arange(nonzeros)
        # Slot k's row: how many rows end at or before k (a count, cheaper than a search per slot).
        row = jnp.cumsum(jnp.zeros(nonzeros, ends.dtype).at[ends[:-1]].add(1, mode="drop"))
        begins = jnp.concatenate([jnp.zeros(1, ends.dtype), ends[:-1]])
        source = jnp.where(slot < ends[-1], firsts[row] + slot - begins[row], columns.shape[0] - 1)
        columns, values = columns[source], values[source]
        if self.sparse_batches:
            where = jnp.stack([row, columns], axis=-1)
            return jsparse.BCOO((values, where), shape=(numbers.shape[0], self.width))
        return jnp.zeros((numbers.shape[0], self.width), values.dtype).at[row, columns].add(values, mode="drop")


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


@dataclass(frozen=True)
class Taken:
    """Rows as a function takes them: the most nonzeros one of its full batches and its last
    batch hold (``Pool.nonzeros``; 0 for dense rows)."""

    rows: Rows
    full: int = 0
    last: int = 0


def taken(rows: Rows, numbers: Iterable[tuple[np.ndarray, np.ndarray]]) -> Taken:
    """``rows`` as taken by every (full batches, last batch) row numbers of ``numbers``."""
    numbers = list(numbers)
    most = [max((rows.x.nonzeros(batches[part]) for batches in numbers), default=0) for part in (0, 1)]
    return Taken(rows, *most)


def stack(states: Sequence[Sequence[Any]]) -> list[Any]:
    """Per-copy lists of arrays as one list of arrays stacked on a leading copy axis (stacked on
    the host: on the device every new shape would compile a function of its own)."""
    return [jnp.asarray(np.stack([np.asarray(value) for value in values])) for values in zip(*states, strict=True)]


def epoch_function(model: Any, rows: Taken, validation: Taken | None, epochs: int, picked: np.ndarray | None = None) -> Program:
    """A compiled function ``(state, best, active, data, numbers, reset) -> (state, best, logs,
    val_logs)`` training every copy one epoch (of ``epochs``, what its compiling weighs).

    ``state`` is (trainable, non-trainable, optimizer, metrics) stacked; ``reset`` the metric
    variables as Keras resets them (an argument, not a constant: XLA would fold a metric's count
    of rows into a constant and divide by it as a multiplication, an accuracy then one ulp from
    the fit's alone, enough to tip a pruner's comparison at a tie); ``best`` is (the best epoch's trainable and non-trainable
    state, which copies improved last epoch), whose state is kept first; ``data`` the rows'
    data, for training and for validation; ``numbers`` the copies' (full batches, last batch)
    row numbers into them, for training and for validation; logs are every copy's last-step
    metrics. ``picked``: each copy's choices of activations and loss (``sweeps.training.choices``).
    """
    train_step, test_step = per_copy(model.train_step, picked), per_copy(model.test_step, picked)

    def epoch(state, best, active, data, numbers, reset):
        kept_best = keep_best(best[0], tuple(state[:2]), best[1])
        trained, logs = _steps(train_step, _lists((*state[:3], reset)), rows, data[0], numbers[0])
        kept = jax.tree.map(lambda new, old: jnp.where(along(active, new), new, old), trained[:3], tuple(state[:3]))
        val_logs = {}
        if validation is not None:
            val_logs = _steps(test_step, _lists((kept[0], kept[1], reset)), validation, data[1], numbers[1])[1]
        return (*kept, trained[3]), kept_best, logs, val_logs

    return Program(jax.jit(epoch), lambda args: epochs * max(1, args[4][0][0].shape[1]))


def evaluation_function(model: Any, rows: Taken, picked: np.ndarray | None = None) -> Program:
    """A compiled function ``(trainable, non_trainable, reset, data, numbers) -> logs``: every
    copy's ``test_step`` metrics over its rows (with its ``picked`` choices)."""
    test_step = per_copy(model.test_step, picked)
    jitted = jax.jit(
        lambda trainable, non_trainable, reset, data, numbers: _steps(
            test_step, (trainable, non_trainable, reset), rows, data, numbers
        )[1]
    )
    return Program(jitted, lambda args: max(1, args[4][0].shape[1]))


def keep_best(best: Any, current: Any, improved: Any) -> Any:
    """``current`` where a copy ``improved``, else ``best``."""
    return jax.tree.map(lambda kept, now: jnp.where(along(improved, now), now, kept), best, current)


def _steps(step: Callable[..., Any], state: State, rows: Taken, data: Any, numbers: Any) -> tuple[State, Any]:
    """``step`` over every batch of ``numbers`` = (full batches (copies, steps, batch), last
    batch (copies, rows)), the full ones in one scan."""
    full, last = numbers

    def batch(picked: Any, nonzeros: int) -> tuple[Any, Any]:
        x = jax.vmap(lambda pool, numbers: rows.rows.x.take(pool, numbers, nonzeros), (None, 0))(data[0], picked)
        return x, jax.vmap(lambda pool, numbers: rows.rows.y.take(pool, numbers, 0), (None, 0))(data[1], picked)

    def body(carry: State, picked: Any) -> tuple[State, Any]:
        logs, carry = step(carry, batch(picked, rows.full))
        return _lists(carry), logs

    logs = None
    if full.shape[1]:
        state, logs = jax.lax.scan(body, state, jnp.swapaxes(full, 0, 1))
        logs = jax.tree.map(lambda values: values[-1], logs)
    if last.shape[1]:
        logs, state = step(state, batch(last, rows.last))
    return _lists(state), logs


def _lists(state: State) -> State:
    """Keras's steps hand back lists or tuples of variables; a scan's carry keeps one structure."""
    return tuple(list(part) for part in state)


def along(mask: Any, like: Any) -> Any:
    """A per-copy mask shaped to broadcast against ``like`` (copies first)."""
    return mask.reshape(mask.shape + (1,) * (like.ndim - 1))
