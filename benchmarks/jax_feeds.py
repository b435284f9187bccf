"""Sparse multi-hot rows on JAX: which way into the first Dense layer is fastest, with the same numbers?

    python benchmarks/jax_feeds.py [--rows 15000] [--words 10000] [--epochs 3] [--out FILE]

IMDB's default model (Dense 16 relu, Dense 16 relu, Dense 1 sigmoid; RMSprop; batch 512) trained
by one jitted epoch (``lax.scan`` over the batches) on IMDB-shaped multi-hot rows (generated:
review lengths as IMDB's, word ranks Zipf-like), its rows fed three ways:

- ``dense_pool``: every row dense on the device, a batch taken by index (the memory of the
  whole dense matrix: rows x words x 4 bytes);
- ``densified``: the rows' nonzeros on the device (CSR), each batch's taken one after another
  and made dense as it is taken (``sweeps.training.stacked.Pool``, for an input not declared
  sparse);
- ``sparse_batches``: the same nonzeros taken as a sparse batch (JAX's BCOO) in room for the most
  any batch holds, multiplied into the kernel by JAX's sparse product (what fused fits on JAX do
  for an input declared sparse);
- ``padded_sparse_batches``: a sparse batch from each row padded to the longest row (the way
  fused fits took them before: five times the room on IMDB's lengths);
- ``gathered``: no dense batch at all: the first layer's output as a sum of the kernel rows of
  the words present in the padded rows (an embedding bag), a hand-written model that Keras's
  layers are not.

Each is timed per epoch after its compile, and its losses compared with ``dense_pool``'s.
Results JSON in ``benchmarks/results/jax_feeds.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")  # before keras is imported
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sweeps.training.stacked import Pool  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=15_000)
    parser.add_argument("--words", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "jax_feeds.json")
    args = parser.parse_args()
    import jax
    import jax.numpy as jnp
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    lengths = np.clip(rng.lognormal(5.2, 0.7, args.rows).astype(int), 10, 2_000)
    rows = np.repeat(np.arange(args.rows), lengths)
    words = np.minimum(rng.zipf(1.2, lengths.sum()) + 3, args.words - 1)
    x = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, words)), shape=(args.rows, args.words))
    x.data[:] = 1.0  # multi-hot: duplicates summed, then set to one
    y = rng.integers(0, 2, args.rows).astype(np.float32)[:, None]
    batch, steps = 512, args.rows // 512
    key = jax.random.PRNGKey(0)
    shapes = [(args.words, 16), (16,), (16, 16), (16,), (16, 1), (1,)]
    weights = [jax.random.uniform(k, s, minval=-0.05, maxval=0.05) for k, s in zip(jax.random.split(key, 6), shapes, strict=True)]

    def rest(h, w):
        h = jax.nn.relu(h + w[1])
        h = jax.nn.relu(h @ w[2] + w[3])
        return jax.nn.sigmoid(h @ w[4] + w[5])

    def loss_of(first):
        def loss(w, inputs, labels):
            p = jnp.clip(rest(first(w, inputs), w), 1e-7, 1 - 1e-7)
            return -jnp.mean(labels * jnp.log(p) + (1 - labels) * jnp.log(1 - p))

        return loss

    y_device = jnp.asarray(y)
    orders = [np.random.default_rng(e).permutation(args.rows).astype(np.int32) for e in range(args.epochs)]
    pool, sparse_pool = Pool([x]), Pool([x], sparse_batches=True)
    room = max(pool.nonzeros(order[: steps * batch].reshape(steps, batch)) for order in orders)
    padded = _padded(x)

    def dense_layer(w, batch_x):
        return batch_x @ w[0]

    feeds = {
        "dense_pool": (jnp.asarray(x.toarray()), lambda data, idx: data[idx], dense_layer),
        "densified": (pool.data, lambda data, idx: pool.take(data, idx, room), dense_layer),
        "sparse_batches": (
            sparse_pool.data,
            lambda data, idx: sparse_pool.take(data, idx, room),
            dense_layer,
        ),
        "padded_sparse_batches": (
            padded,
            lambda data, idx: _padded_batch(data, idx, args.words),
            dense_layer,
        ),
        "gathered": (
            padded,
            lambda data, idx: (data[0][idx], data[1][idx]),
            lambda w, cv: jnp.einsum("bk,bku->bu", cv[1], jnp.take(w[0], cv[0], axis=0, mode="fill", fill_value=0)),
        ),
    }
    results = {"rows": args.rows, "words": args.words, "nonzeros": int(x.nnz), "longest_row": int(padded[0].shape[1])}
    results["batch_room"] = {"most_in_a_batch": room, "padded_to_the_longest_row": batch * int(padded[0].shape[1])}
    reference = None
    for name, (data, take, first) in feeds.items():
        loss = loss_of(first)

        @jax.jit
        def epoch(w, data, order, take=take, loss=loss):
            def body(w, i):
                idx = jax.lax.dynamic_slice_in_dim(order, i * batch, batch)
                value, grads = jax.value_and_grad(loss)(w, take(data, idx), y_device[idx])
                return [p - 0.001 * g for p, g in zip(w, grads, strict=True)], value

            return jax.lax.scan(body, w, jnp.arange(steps))

        start = time.perf_counter()
        jax.block_until_ready(epoch(weights, data, orders[0]))
        compiled = time.perf_counter() - start
        w, losses = weights, []
        start = time.perf_counter()
        for order in map(jnp.asarray, orders):
            w, values = epoch(w, data, order)
            losses.append(np.asarray(values))
        seconds = (time.perf_counter() - start) / args.epochs
        losses = np.concatenate(losses)
        reference = losses if reference is None else reference
        results[name] = {
            "seconds_per_epoch": round(seconds, 3),
            "compile_seconds": round(compiled, 2),
            "largest_loss_difference": float(np.max(np.abs(losses - reference))),
        }
        print(name, results[name], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def _padded(csr):
    """Each row's columns and values padded to the longest row (column ``width``: dropped)."""
    import jax.numpy as jnp
    import numpy as np

    lengths = np.diff(csr.indptr)
    columns = np.full((csr.shape[0], int(lengths.max())), csr.shape[1], dtype=np.int32)
    values = np.zeros(columns.shape, dtype=np.float32)
    row = np.repeat(np.arange(csr.shape[0]), lengths)
    place = np.arange(csr.nnz) - np.repeat(csr.indptr[:-1], lengths)
    columns[row, place], values[row, place] = csr.indices, csr.data
    return jnp.asarray(columns), jnp.asarray(values)


def _padded_batch(data, numbers, width):
    import jax.numpy as jnp
    from jax.experimental import sparse as jsparse

    columns, values = data[0][numbers], data[1][numbers]
    rows = jnp.broadcast_to(jnp.arange(numbers.shape[0])[:, None], columns.shape)
    where = jnp.stack([rows, columns], axis=-1).reshape(-1, 2)
    return jsparse.BCOO((values.reshape(-1), where), shape=(numbers.shape[0], width))


if __name__ == "__main__":
    sys.exit(main())
