"""How much faster is a sweep than the tutorial's way, on IMDB-sized data? Ratios from one run.

    python benchmarks/imdb_speed.py [--data-dir DIR] [--configs 36] [--epochs 20] [--out FILE]

Real IMDB when ``--data-dir`` or Keras's cache (``~/.keras/datasets``) holds ``imdb.npz``,
otherwise a generated sample with IMDB's shape and sequence lengths. Each measured side runs
in its own process, so its peak memory (ru_maxrss from wait4) is its own:

a) the tutorial's loop over the imdb_further_experiments configurations (float64 multi-hot
   rebuilt per trial, 20 epochs, no early stopping) against ``python -m sweeps
   imdb_further_experiments`` with the product's defaults, started in an empty project (its
   stores and data cache created on the way): wall time, best val accuracy, peak RSS;
b) one trial of the sweep's first configuration through the product against a bare
   ``model.fit`` + ``evaluate`` of it (same data feed, seed and early stopping): per trial
   (the MLflow run's span against the bare fit's) and per command (both start Python,
   import TensorFlow and read the cached encoding; the product also opens its stores); and,
   steadier, per trial over c)'s fixed work: the --jobs 1 sweep from its first trial's start
   to its last one's end against the same fits untracked in one process;
c) trials per hour with ``--jobs 1`` and ``--jobs 2`` on fixed work (no pruning or early
   stopping), while trials run (first start to last end, from MLflow) and for the whole
   command; and the ceiling this machine sets: the same fits without the product, every other
   one each in two processes side by side against all in one.

Prints a table and writes it as JSON. Goals (issue 8): a) time <= 0.10, accuracy within 0.5 pt,
memory <= 0.25 of the tutorial's; b) overhead <= 1.05; c) >= 1.7x with 2 jobs on 2 cores.
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

REPO = Path(__file__).resolve().parents[1]
SPACE = REPO / "search_spaces" / "imdb_further_experiments.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="directory with imdb.npz (default: Keras's cache, else generated)")
    parser.add_argument("--configs", type=int, default=36, help="how many of the 36 grid configurations (for quick runs)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--train", type=int, default=25_000, help="reviews per split of the generated sample")
    parser.add_argument("--jobs-trials", type=int, default=16, help="trials for the --jobs comparison")
    parser.add_argument("--jobs-epochs", type=int, default=4, help="epochs of each of those trials")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "imdb_speed.json")
    parser.add_argument("--side", help=argparse.SUPPRESS)  # internal: run one measured side in this process
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)  # internal: the product's data cache
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)  # internal: TensorFlow threads of a side
    parser.add_argument("--patience", type=int, help=argparse.SUPPRESS)  # internal: the bare side's early stopping
    parser.add_argument("--grid-slice", default="0:1:1", help=argparse.SUPPRESS)  # internal: the bare side's configurations
    parser.add_argument("--barrier", nargs=2, help=argparse.SUPPRESS)  # internal: DIR PARTIES, start fitting together
    args = parser.parse_args()
    if args.side:
        return _side(args)
    if args.jobs_trials < 2 or args.jobs_trials % 2:
        parser.error("--jobs-trials must be even and at least 2 (the ceiling splits them between two processes)")
    work = Path(tempfile.mkdtemp(prefix="sweeps-bench-"))
    data_dir = args.data_dir or _keras_cached() or _generated(work, args.train)
    data = ["--data-dir", str(data_dir)]
    space = _space(work, "bench", trials=args.configs)
    product = work / "product"
    results = {
        "tutorial_loop": _measure(
            [*_me(), "--side", "tutorial", "--configs", str(args.configs), "--epochs", str(args.epochs), *data], work
        ),
        "product_sweep": _measure(
            _sweeps("run", "bench", "--spaces", str(space.parent), "--epochs", str(args.epochs), *data), product
        ),
        # b) after the sweep, so both sides find the encoding cached and the stores exist.
        "bare_fit": _measure(
            [*_me(), "--side", "bare", "--epochs", str(args.epochs), "--cache", str(product / "mlruns" / "cache"), *data], work
        ),
        # What bounds a): every configuration built, traced and trained for one epoch, untracked.
        "one_epoch_each": _measure(
            [
                *_me(),
                "--side",
                "one_epoch_each",
                "--configs",
                str(args.configs),
                "--cache",
                str(product / "mlruns" / "cache"),
                *data,
            ],
            work,
        ),
        "product_one_trial": _measure(
            _sweeps(
                "run",
                "bench",
                "--spaces",
                str(space.parent),
                "--trials",
                "1",
                "--study",
                "one",
                "--epochs",
                str(args.epochs),
                *data,
            ),
            product,
        ),
    }
    results["product_one_trial"]["trial_seconds"] = _trial_spans(product, "one")[0]
    results.update(_jobs(work, args, data))
    table = _ratios(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"settings": vars(args) | {"out": str(args.out), "data_dir": str(data_dir)}, "results": results, "ratios": table},
            indent=1,
            default=str,
        )
    )
    width = max(map(len, table))
    for name, value in table.items():
        print(f"{name.ljust(width)}  {value}")
    print(f"written to {args.out}")
    return 0


def _jobs(work: Path, args: argparse.Namespace, data: list[str]) -> dict:
    """c): the same fixed work with 1 and 2 jobs in one project, and the machine's ceiling."""
    space = _space(work, "jobs", trials=args.jobs_trials, prune=False, epochs=args.jobs_epochs, early_stopping_patience=0)
    project, run = work / "jobs", _sweeps("run", "jobs", "--spaces", str(space.parent), *data)
    _measure([*run, "--trials", "1", "--epochs", "1", "--study", "warm-up"], project)  # stores and cache for both
    results = {}
    for jobs in (1, 2):
        measured = _measure([*run, "--jobs", str(jobs), "--study", f"jobs{jobs}"], project)
        measured["trial_seconds"], spans = _trial_spans(project, f"jobs{jobs}")
        training = max(end for _, end in spans) - min(start for start, _ in spans)
        measured["trials_per_hour"] = len(spans) / measured["seconds"] * 3600
        measured["trials_per_hour_while_training"] = len(spans) / training * 3600
        measured["trials"] = len(spans)
        results[f"jobs_{jobs}"] = measured
    # The same fits without the product: all in one process, then half each in two side by side.
    bare = [
        *_me(),
        "--side",
        "bare",
        "--epochs",
        str(args.jobs_epochs),
        "--cache",
        str(project / "mlruns" / "cache"),
        "--patience",
        "0",
        *data,
    ]
    # Every other configuration each, so both halves hold as many deep and wide models.
    count, barrier = args.jobs_trials, str(work / "barrier")
    alone = _measure([*bare, "--grid-slice", f"0:{count}:1"], work)
    pair = _measure_together(
        [[*bare, "--grid-slice", f"{k}:{count}:2", "--threads", "1", "--barrier", barrier, "2"] for k in range(2)], work
    )
    results["ceiling"] = {
        "alone_fit_seconds": alone["fit_seconds"],
        "pair_fit_seconds": [p["fit_seconds"] for p in pair],
        "speed_up": alone["fit_seconds"] / max(p["fit_seconds"] for p in pair),
    }
    return results


def _ratios(results: dict) -> dict:
    tutorial, product = results["tutorial_loop"], results["product_sweep"]
    one, bare = results["product_one_trial"], results["bare_fit"]
    jobs1, jobs2 = results["jobs_1"], results["jobs_2"]
    return {
        "a) wall time s, tutorial loop": tutorial["seconds"],
        "a) wall time s, product sweep": product["seconds"],
        "a) wall time, product / tutorial (goal <= 0.10)": round(product["seconds"] / tutorial["seconds"], 3),
        "a) best val accuracy, tutorial": tutorial.get("best_val_accuracy"),
        "a) best val accuracy, product": product.get("best_val_accuracy"),
        "a) accuracy gap, points (goal <= 0.5)": round(100 * (tutorial["best_val_accuracy"] - product["best_val_accuracy"]), 2),
        "a) floor: one epoch of every configuration, untracked / tutorial": round(
            results["one_epoch_each"]["seconds"] / tutorial["seconds"], 3
        ),
        "a) peak RSS MB, tutorial / product": f"{tutorial['peak_rss_mb']} / {product['peak_rss_mb']}",
        "a) peak RSS, product / tutorial (goal <= 0.25)": round(product["peak_rss_mb"] / tutorial["peak_rss_mb"], 3),
        "b) one trial s, product run / bare fit+evaluate": f"{one['trial_seconds']:.2f} / {bare['fit_seconds']:.2f}",
        "b) one trial, product / bare": round(one["trial_seconds"] / bare["fit_seconds"], 3),
        # One trial varies by +-15% run to run here; c)'s fixed work gives the same comparison
        # over many trials, counting the time between them (asking for the next) as overhead.
        f"b) per trial over {jobs1['trials']} trials, product / bare (goal <= 1.05)": round(
            3600 / jobs1["trials_per_hour_while_training"] / (results["ceiling"]["alone_fit_seconds"] / jobs1["trials"]), 3
        ),
        "b) whole command, product / bare script": round(one["seconds"] / bare["seconds"], 3),
        "c) trials per hour while training, --jobs 1 / 2": (
            f"{jobs1['trials_per_hour_while_training']:.0f} / {jobs2['trials_per_hour_while_training']:.0f}"
        ),
        "c) speed-up with 2 jobs while training (goal >= 1.7)": round(
            jobs2["trials_per_hour_while_training"] / jobs1["trials_per_hour_while_training"], 3
        ),
        "c) speed-up with 2 jobs, whole command": round(jobs2["trials_per_hour"] / jobs1["trials_per_hour"], 3),
        "c) ceiling: the same fits untracked, 2 processes / 1": round(results["ceiling"]["speed_up"], 3),
    }


def _measure(command: list[str], cwd: Path) -> dict:
    """Run ``command``; its wall time, its own peak RSS, and what it reports (see ``_read``)."""
    return _measure_together([command], cwd)[0]


def _measure_together(commands: list[list[str]], cwd: Path) -> list[dict]:
    """Run ``commands`` side by side; for each, as ``_measure``."""
    cwd.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    start = time.perf_counter()
    children = [
        subprocess.Popen(c, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env) for c in commands
    ]
    found = []
    for command, child in zip(commands, children, strict=False):
        out = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"benchmark step failed: {' '.join(command)}\n{out[-2000:]}")
        found.append(
            {"seconds": round(time.perf_counter() - start, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), **_read(out)}
        )
    return found


def _read(out: str) -> dict:
    """The numbers a side prints as ``key=value`` lines, and the product's best val accuracy."""
    found = {}
    for line in out.splitlines():
        if line.startswith(("best_val_accuracy=", "fit_seconds=")):  # the measured sides print them
            key, value = line.split("=", 1)
            found[key] = float(value)
        elif line.startswith("best: trial"):  # the product's closing line
            found["best_val_accuracy"] = float(line.split("val_accuracy=")[1].split()[0])
    return found


def _trial_spans(project: Path, study: str) -> tuple[float, list[tuple[float, float]]]:
    """The mean length of the study's trial runs in seconds, and each one's (start, end)."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    runs = client.search_runs(
        [client.get_experiment_by_name("bench" if study == "one" else "jobs").experiment_id],
        f"tags.study = '{study}' and tags.`sweeps.role` = 'trial'",
    )
    spans = [(r.info.start_time / 1000, r.info.end_time / 1000) for r in runs]
    return sum(end - start for start, end in spans) / len(spans), spans


def _side(args: argparse.Namespace) -> int:
    """One measured side, in this (child) process."""
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    import numpy as np

    import sweeps.pipeline as sp
    from sweeps.pipelines import imdb
    from sweeps.training import feed

    document = yaml.safe_load(SPACE.read_text())
    points = document["params"]
    grid = [
        {"layers": depth, "units": width, "loss": loss, "activation": activation}
        for depth in points["layers"]["choices"]
        for width in points["units"]["choices"]
        for loss in points["loss"]["choices"]
        for activation in points["activation"]["choices"]
    ]  # the product's grid order: first param slowest
    if args.side == "one_epoch_each":
        hp = {k: d.default for k, d in imdb.HYPERPARAMETERS.items()}
        dataset = imdb.load_data(hp, sp.DataOptions(args.data_dir, args.cache))
        for config in grid[: args.configs]:
            keras.backend.clear_session(free_memory=False)
            model = imdb.build_model({**hp, **document["fixed"], **config}, dataset)
            model.fit(
                **feed.feed(dataset.x_train, dataset.y_train, 512, shuffle_seed=0),
                epochs=1,
                verbose=0,
                validation_data=feed.validation(dataset.x_val, dataset.y_val, 512),
            )
        return 0
    if args.side == "bare":  # trials of the product's grid (first: its first trial), without the product
        first, stop, step = (int(i) for i in args.grid_slice.split(":"))
        hp = {**{k: d.default for k, d in imdb.HYPERPARAMETERS.items()}, **document["fixed"], "epochs": args.epochs}
        if args.patience is not None:
            hp["early_stopping_patience"] = args.patience
        dataset = imdb.load_data(hp, sp.DataOptions(args.data_dir, args.cache))
        _wait_for_the_others(args.barrier)
        start, best = time.perf_counter(), 0.0
        for config in grid[first:stop:step]:
            keras.backend.clear_session(free_memory=False)
            keras.utils.set_random_seed(hp["seed"])
            model = imdb.build_model({**hp, **config}, dataset)
            early = (
                [
                    keras.callbacks.EarlyStopping(
                        "val_accuracy", patience=hp["early_stopping_patience"], mode="max", restore_best_weights=True
                    )
                ]
                if hp["early_stopping_patience"]
                else []
            )
            history = model.fit(
                **feed.feed(dataset.x_train, dataset.y_train, hp["batch_size"], shuffle_seed=hp["seed"]),
                epochs=hp["epochs"],
                callbacks=early,
                verbose=0,
                validation_data=feed.validation(dataset.x_val, dataset.y_val, hp["batch_size"]),
            )
            model.evaluate(**feed.feed(dataset.x_test, dataset.y_test, hp["batch_size"]), verbose=0)
            best = max(best, *history.history["val_accuracy"])
        print(f"fit_seconds={time.perf_counter() - start}")
        print(f"best_val_accuracy={best}")
        return 0
    (x_train, y_train), _ = imdb.read_file(args.data_dir / "imdb.npz", 10_000)
    sequences, best = x_train.rows(), 0.0
    for config in grid[: args.configs]:
        x = np.zeros((len(sequences), 10_000))  # the tutorial's vectorize_sequences, every trial
        for i, sequence in enumerate(sequences):
            x[i, sequence] = 1.0
        y = np.asarray(y_train).astype("float32")
        hidden = [keras.layers.Dense(config["units"], activation=config["activation"]) for _ in range(config["layers"])]
        model = keras.Sequential([keras.Input((10_000,)), *hidden, keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="rmsprop", loss=config["loss"], metrics=["accuracy"])
        held = min(10_000, int(0.4 * len(x)))
        history = model.fit(
            x[held:], y[held:], epochs=args.epochs, batch_size=512, validation_data=(x[:held], y[:held]), verbose=0
        )
        best = max(best, max(history.history["val_accuracy"]))
    print(f"best_val_accuracy={best}")
    return 0


def _wait_for_the_others(barrier: list[str] | None) -> None:
    """With ``--barrier DIR N``: check in, then wait until all N sides have, so their fits overlap
    (TensorFlow's import alone can differ by a second between two processes)."""
    if barrier:
        directory, parties = Path(barrier[0]), int(barrier[1])
        directory.mkdir(parents=True, exist_ok=True)
        (directory / str(os.getpid())).touch()
        while len(list(directory.iterdir())) < parties:
            time.sleep(0.01)


def _space(work: Path, name: str, trials: int, prune: bool = True, **fixed: object) -> Path:
    """imdb_further_experiments as ``name``, limited to its first ``trials`` grid points (the
    tutorial side's order), optionally without its pruner, with ``fixed`` values changed."""
    document = yaml.safe_load(SPACE.read_text())
    document.update(name=name, trials=trials, fixed={**document["fixed"], **fixed})
    if not prune:
        document.pop("pruner", None)
    path = work / "spaces" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _keras_cached() -> Path | None:
    """Keras's dataset cache, when a download of the real imdb.npz is there."""
    from sweeps.pipeline import keras_cache_dir

    return keras_cache_dir() if (keras_cache_dir() / "imdb.npz").is_file() else None


def _generated(work: Path, reviews: int) -> Path:
    """A generated imdb.npz in Keras's format, IMDB-sized unless told otherwise."""
    import numpy as np

    from sweeps.pipelines.imdb import generate_contents, to_object_array

    contents = generate_contents(reviews, reviews)
    directory = work / "data"
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(directory / "imdb.npz", **{k: to_object_array(v) if k.startswith("x_") else v for k, v in contents.items()})
    print(f"using a GENERATED IMDB-shaped sample ({reviews} reviews per split) in {directory}", file=sys.stderr)
    return directory


def _me() -> list[str]:
    return [sys.executable, str(Path(__file__).resolve())]


def _sweeps(*args: str) -> list[str]:
    return [sys.executable, "-m", "sweeps", *args]


if __name__ == "__main__":
    sys.exit(main())
