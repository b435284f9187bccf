"""Keras's backends and fused fits, whole sweeps, in one run: how far from the machine's floor?

    python benchmarks/backends.py [--data-dir DIR] [--only NAME ...] [--out FILE]

Each side is ``python -m sweeps NAME ...`` in its own empty project, working directory and
process (peak RSS from wait4), with JAX's compilation cache empty (a first run):

- ``tensorflow_sequential``: ``--backend tensorflow`` and ``fuse: false``, one fit after another;
- ``tensorflow_fused``: ``--backend tensorflow``, a trial's fits fused;
- ``jax_fused``: ``--backend jax``, a trial's fits and up to ``fuse_trials`` trials fused;
- ``default``: the side of the backend the sweep trains on by default (its file's ``backend:``,
  else its pipeline's first ``BACKENDS``), named in the results rather than measured twice.

for ``boston_kfold --set epochs=80``, ``sequence_features``, ``imdb_activation --repeats 5``
and ``imdb_further_experiments``; plus a floor for Boston (``--side floor``: N copies of its
model stepped by one jitted function per epoch, no product), and the tutorial's own loop over
the 36 IMDB configurations (``benchmarks/imdb_speed.py``'s). Real Boston and IMDB where
``--data-dir`` or Keras's cache has them, else generated samples (said in the results).

Goals: boston default <= 0.10x TensorFlow sequential, its training <= 3x the floor per
fit-epoch (its compiled epochs once running, as the floor is timed; the trials' whole span,
building and compiling and recording included, is reported beside it); imdb_activation
default <= 0.30x; imdb_further_experiments default <= 0.10x the tutorial loop; on every
backend the same best configuration and significance verdict; peak memory <= 1.5x sequential.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fused import REPO, data_args, imdb_dir, measure, values, verdict

from sweeps.tracking.records import ROLE

SWEEPS = {  # name -> its options
    "boston_kfold": ["--set", "epochs=80"],
    "sequence_features": [],
    "imdb_activation": ["--repeats", "5"],
    "imdb_further_experiments": [],
}
SIDES = {"tensorflow_sequential": ("tensorflow", False), "tensorflow_fused": ("tensorflow", True), "jax_fused": ("jax", True)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="real boston_housing.npz / imdb.npz in Keras's format")
    parser.add_argument("--only", nargs="*", choices=sorted(SWEEPS), help="these sweeps only (quick runs)")
    parser.add_argument("--imdb-reviews", type=int, default=25_000, help="generated reviews per split, without real data")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "backends.json")
    parser.add_argument("--side", help=argparse.SUPPRESS)  # internal: "floor N EPOCHS"
    args = parser.parse_args()
    if args.side:
        return _floor(*map(int, args.side.split()[1:]))
    work = Path(tempfile.mkdtemp(prefix="sweeps-backends-"))
    imdb = ["--data-dir", str(imdb_dir(args, work))]
    data = {"boston_kfold": data_args(args, "boston_housing.npz"), "sequence_features": ["--generated-data"]}
    results = {}
    for name in args.only or SWEEPS:
        results[name] = _sweep(work / name, name, [*SWEEPS[name], *data.get(name, imdb)])
    if "boston_kfold" in results:
        results["boston_floor"] = _floor_run(work)
    if "imdb_further_experiments" in results:
        results["tutorial_loop"] = measure(
            [sys.executable, str(REPO / "benchmarks" / "imdb_speed.py"), "--side", "tutorial", "--configs", "36", *imdb], work
        )
    results["data"] = {"boston": data_args(args, "boston_housing.npz"), "imdb": imdb}
    results["goals"] = _goals(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["goals"], indent=2))
    return 0 if all(value is True for value in results["goals"].values() if isinstance(value, bool)) else 1


def _sweep(work: Path, name: str, options: list[str]) -> dict:
    """One sweep on every side, each in a project of its own."""
    found = {}
    for side, (backend, fuse) in SIDES.items():
        project = work / side
        (project / "search_spaces").mkdir(parents=True)
        document = yaml.safe_load((REPO / "search_spaces" / f"{name}.yaml").read_text())
        (project / "search_spaces" / f"{name}.yaml").write_text(yaml.safe_dump({**document, "fuse": fuse}, sort_keys=False))
        measured = measure([sys.executable, "-m", "sweeps", name, "--backend", backend, *options], project, KERAS_BACKEND="")
        report = subprocess.run([sys.executable, "-m", "sweeps", "report", name], cwd=project, capture_output=True, text=True)
        found[side] = {**measured, **values(project, name), "verdict": verdict(report.stdout), **_spans(project, name)}
        print(f"{name} {side}: {found[side]['seconds']} s, peak {found[side]['peak_rss_mb']} MB", file=sys.stderr, flush=True)
    found["default"] = default_side(name)
    base = found["tensorflow_sequential"]
    for side in ("tensorflow_fused", "jax_fused"):
        found[side]["ratio"] = round(found[side]["seconds"] / base["seconds"], 3)
        found[side]["memory_ratio"] = round(found[side]["peak_rss_mb"] / base["peak_rss_mb"], 3)
    return found


def default_side(name: str) -> str:
    """The side that is the sweep's default: the backend it trains on unless told (its file's
    ``backend:``, else its pipeline's first), fused."""
    from sweeps.spec.loading import load_spec

    spec = load_spec(REPO / "search_spaces" / f"{name}.yaml")
    return f"{spec.backend or spec.pipeline.backends[0]}_fused"


def _spans(project: Path, name: str) -> dict:
    """From MLflow: how long the trials took (first trial run's start to the last one's end),
    how many epochs their fits trained, and how long those epochs took once running: from the
    end of the first fit-epoch to the end of the last (each epoch's metrics carry the time it
    ended), over the fit-epochs after each fit's first. That last span is what the floor
    measures: compiled epochs stepping, their metrics read, no building or compiling."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id], max_results=5000)
    trials = [r for r in runs if r.data.tags.get(ROLE) == "trial"]
    fits = [r for r in runs if r.data.tags.get(ROLE) in ("fold", "repeat")] or trials
    span = (max(r.info.end_time for r in trials) - min(r.info.start_time for r in trials)) / 1000
    curves = [client.get_metric_history(r.info.run_id, "loss") for r in fits]
    ends = [m.timestamp for curve in curves for m in curve]
    return {
        "training_seconds": round(span, 2),
        "fit_epochs": sum(len(curve) for curve in curves),
        "epochs_seconds": round((max(ends) - min(ends)) / 1000, 3),
        "epochs_after_first": sum(len(curve) - 1 for curve in curves),
    }


def _floor_run(work: Path) -> dict:
    """The floor for Boston's fits, as many copies as one fused set of boston_kfold (24)."""
    out = subprocess.run(
        [sys.executable, __file__, "--side", "floor 24 80"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _floor(copies: int, epochs: int) -> int:
    """N copies of Boston's 64x64x1 model on 303 rows, batch 16, stepped by one jitted function
    per epoch (lax.scan over the batches, vmap over the copies, Keras's stateless_call and the
    optimizer's stateless_apply), validation MAE read once per epoch. No product, no callbacks."""
    os.environ["KERAS_BACKEND"] = "jax"  # before keras is imported
    import jax
    import jax.numpy as jnp
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(404, 13)).astype("float32")
    y = (x @ rng.normal(size=13) + rng.normal(size=404)).astype("float32")[:, None]
    (xt, yt), (xv, yv), steps, batch = (x[:303], y[:303]), (x[303:], y[303:]), 303 // 16, 16

    def build(seed: int):
        keras.utils.set_random_seed(seed)
        layers = [keras.Input((13,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(64, activation="relu")]
        model = keras.Sequential([*layers, keras.layers.Dense(1)])
        optimizer = keras.optimizers.RMSprop()
        optimizer.build(model.trainable_variables)
        return model, optimizer

    built = [build(seed) for seed in range(copies)]
    model, optimizer = built[0]
    trainable = jax.tree.map(lambda *a: jnp.stack(a), *[[v.value for v in m.trainable_variables] for m, _ in built])
    slots = jax.tree.map(lambda *a: jnp.stack(a), *[[v.value for v in o.variables] for _, o in built])
    fixed = [v.value for v in model.non_trainable_variables]

    def step(t, o, xb, yb):
        loss = lambda t: jnp.mean((model.stateless_call(t, fixed, xb, training=True)[0] - yb) ** 2)
        grads = jax.grad(loss)(t)
        return optimizer.stateless_apply(o, grads, t)

    @jax.jit
    def epoch(t, o, order):
        def body(carry, i):
            rows = jax.lax.dynamic_slice_in_dim(order, i * batch, batch, axis=1)
            return jax.vmap(step)(*carry, xt[rows], yt[rows]), None

        (t, o), _ = jax.lax.scan(body, (t, o), jnp.arange(steps))
        mae = jax.vmap(lambda t: jnp.mean(jnp.abs(model.stateless_call(t, fixed, xv)[0] - yv)))(t)
        return t, o, mae

    xt, yt, xv, yv = map(jnp.asarray, (xt, yt, xv, yv))
    orders = [
        jnp.asarray(np.stack([np.random.default_rng((k, e)).permutation(303) for k in range(copies)])) for e in range(epochs)
    ]
    start = time.perf_counter()
    epoch(trainable, slots, orders[0])[2].block_until_ready()
    compiled = time.perf_counter() - start
    start = time.perf_counter()
    for order in orders:
        trainable, slots, mae = epoch(trainable, slots, order)
        float(mae[0])  # read each epoch's metric, as callbacks would
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "copies": copies,
                "epochs": epochs,
                "compile_seconds": round(compiled, 2),
                "seconds": round(seconds, 3),
                "ms_per_fit_epoch": round(seconds / copies / epochs * 1000, 3),
            }
        )
    )
    return 0


def _goals(results: dict) -> dict:
    goals: dict = {}
    boston = results.get("boston_kfold")
    if boston:
        default = boston[boston["default"]]
        goals["boston default / tensorflow sequential (<= 0.10)"] = default["ratio"]
        goals["boston default <= 0.10x"] = default["ratio"] <= 0.10
        floor = results["boston_floor"]["ms_per_fit_epoch"]
        stepping = default["epochs_seconds"] / default["epochs_after_first"] * 1000
        goals["boston training ms per fit-epoch, default / floor (<= 3)"] = round(stepping / floor, 2)
        goals["boston training <= 3x floor"] = goals["boston training ms per fit-epoch, default / floor (<= 3)"] <= 3
        whole = default["training_seconds"] / default["fit_epochs"] * 1000  # building, compiling, recording too
        goals["boston trials' whole span ms per fit-epoch / floor (not a goal)"] = round(whole / floor, 2)
    if "imdb_activation" in results:
        ratio = results["imdb_activation"][results["imdb_activation"]["default"]]["ratio"]
        goals["imdb_activation default / tensorflow sequential (<= 0.30)"] = ratio
        goals["imdb_activation <= 0.30x"] = ratio <= 0.30
    if "imdb_further_experiments" in results:
        further = results["imdb_further_experiments"]
        ratio = round(further[further["default"]]["seconds"] / results["tutorial_loop"]["seconds"], 3)
        goals["imdb_further_experiments default / tutorial loop (<= 0.10)"] = ratio
        goals["imdb_further_experiments <= 0.10x"] = ratio <= 0.10
    for name in SWEEPS:
        if name in results:
            sides = [results[name][side] for side in SIDES]
            goals[f"{name}: same best on every side"] = len({side["best"] for side in sides}) == 1
            goals[f"{name}: same verdict on every side"] = len({side["verdict"] for side in sides}) == 1
            goals[f"{name}: memory <= 1.5x sequential"] = all(
                results[name][s]["memory_ratio"] <= 1.5 for s in ("tensorflow_fused", "jax_fused")
            )
    return goals


if __name__ == "__main__":
    sys.exit(main())
