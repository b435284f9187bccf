"""Sparse multi-hot rows on JAX: which way into the first Dense layer is fastest, with the same numbers?

    python benchmarks/jax_feeds.py [--rows 15000] [--words 10000] [--epochs 3] [--out FILE]

IMDB's default model (Dense 16 relu, Dense 16 relu, Dense 1 sigmoid; RMSprop; batch 512) trained
by one jitted epoch (``lax.scan`` over the batches) on IMDB-shaped multi-hot rows (generated:
review lengths as IMDB's, word ranks Zipf-like), its rows fed three ways:

- ``dense_pool``: every row dense on the device, a batch taken by index (the memory of the
  whole dense matrix: rows x words x 4 bytes);
- ``densified``: each row's (column, value) pairs padded on the device and each batch made
  dense as it is taken (``sweeps.training.stacked.Pool``, for an input not declared sparse);
- ``sparse_batches``: the same padded pairs taken as a sparse batch (JAX's BCOO), multiplied
  into the kernel by JAX's sparse product (what fused fits on JAX do for an input declared
  sparse);
- ``gathered``: no dense batch at all: the first layer's output as a sum of the kernel rows of
  the words present (an embedding bag), a hand-written model that Keras's layers are not.

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
    pool, sparse_pool = Pool([x]), Pool([x], sparse_batches=True)
    lengths_max = pool.data[0].shape[1]
    feeds = {
        "dense_pool": (jnp.asarray(x.toarray()), lambda data, idx: data[idx], lambda w, batch_x: batch_x @ w[0]),
        "densified": (pool.data, pool.take, lambda w, batch_x: batch_x @ w[0]),
        "sparse_batches": (sparse_pool.data, sparse_pool.take, lambda w, batch_x: batch_x @ w[0]),
        "gathered": (
            pool.data,
            lambda data, idx: (data[0][idx], data[1][idx]),
            lambda w, cv: jnp.einsum("bk,bku->bu", cv[1], jnp.take(w[0], cv[0], axis=0, mode="fill", fill_value=0)),
        ),
    }
    results = {"rows": args.rows, "words": args.words, "nonzeros": int(x.nnz), "longest_row": int(lengths_max)}
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

        orders = [jnp.asarray(np.random.default_rng(e).permutation(args.rows).astype(np.int32)) for e in range(args.epochs)]
        start = time.perf_counter()
        jax.block_until_ready(epoch(weights, data, orders[0]))
        compiled = time.perf_counter() - start
        w, losses = weights, []
        start = time.perf_counter()
        for order in orders:
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


if __name__ == "__main__":
    sys.exit(main())
