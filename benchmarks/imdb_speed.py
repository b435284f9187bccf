"""How much faster is a sweep than the tutorial's way, on IMDB-sized data? Ratios from one run.

    python benchmarks/imdb_speed.py [--data-dir DIR] [--configs 36] [--epochs 20] [--out FILE]

Real IMDB when ``--data-dir`` holds ``imdb.npz`` (or Keras's cache has it), otherwise a generated
sample with IMDB's shape and sequence lengths. Each measured side runs in its own process, so
its peak memory (ru_maxrss from wait4) is its own:

a) the tutorial's loop over the imdb_further_experiments configurations (float64 multi-hot
   rebuilt per trial, 20 epochs, no early stopping) against ``python -m sweeps
   imdb_further_experiments`` with the product's defaults: wall time, best val accuracy, peak RSS;
b) one trial through the product against a bare ``model.fit`` of the same configuration;
c) trials per hour with ``--jobs 1`` and ``--jobs 2``.

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
    parser.add_argument("--jobs-trials", type=int, default=8, help="trials for the --jobs comparison")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "imdb_speed.json")
    parser.add_argument("--side", help=argparse.SUPPRESS)  # internal: run one measured side in this process
    args = parser.parse_args()
    if args.side:
        return _side(args)
    work = Path(tempfile.mkdtemp(prefix="sweeps-bench-"))
    data_dir = args.data_dir or _generated(work, args.train)
    common = ["--data-dir", str(data_dir), "--epochs", str(args.epochs)]
    space = _space(work, args.configs)
    results = {
        "tutorial_loop": _measure([*_me(), "--side", "tutorial", "--configs", str(args.configs), *common], work),
        "product_sweep": _measure(_sweeps("run", str(space.stem), "--spaces", str(space.parent), *common), work / "product"),
        "bare_fit": _measure([*_me(), "--side", "bare", *common], work),
        "product_one_trial": _measure(_sweeps("run", str(space.stem), "--spaces", str(space.parent), "--trials", "1",
                                              "--study", "one", *common), work / "one"),
    }
    jobs_space = _space(work, args.jobs_trials, name="jobs")
    for jobs in (1, 2):
        results[f"jobs_{jobs}"] = _measure(_sweeps("run", "jobs", "--spaces", str(jobs_space.parent), "--jobs", str(jobs),
                                                   "--study", f"jobs{jobs}", *common), work / f"jobs{jobs}")
        results[f"jobs_{jobs}"]["trials_per_hour"] = args.jobs_trials / results[f"jobs_{jobs}"]["seconds"] * 3600
    table = _ratios(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"settings": vars(args) | {"out": str(args.out), "data_dir": str(data_dir)},
                                    "results": results, "ratios": table}, indent=1, default=str))
    width = max(map(len, table))
    for name, value in table.items():
        print(f"{name.ljust(width)}  {value}")
    print(f"written to {args.out}")
    return 0


def _ratios(results: dict) -> dict:
    tutorial, product = results["tutorial_loop"], results["product_sweep"]
    return {
        "a) wall time, product / tutorial (goal <= 0.10)": round(product["seconds"] / tutorial["seconds"], 3),
        "a) best val accuracy, tutorial": tutorial.get("best_val_accuracy"),
        "a) best val accuracy, product": product.get("best_val_accuracy"),
        "a) peak RSS, product / tutorial (goal <= 0.25)": round(product["peak_rss_mb"] / tutorial["peak_rss_mb"], 3),
        "b) one trial, product / bare fit (goal <= 1.05)":
            round(results["product_one_trial"]["seconds"] / results["bare_fit"]["seconds"], 3),
        "c) trials per hour, --jobs 1": round(results["jobs_1"]["trials_per_hour"], 1),
        "c) trials per hour, --jobs 2": round(results["jobs_2"]["trials_per_hour"], 1),
        "c) speed-up with 2 jobs (goal >= 1.7)": round(results["jobs_2"]["trials_per_hour"] / results["jobs_1"]["trials_per_hour"], 3),
    }


def _measure(command: list[str], cwd: Path) -> dict:
    """Run ``command``; its wall time, its own peak RSS, and the best val accuracy it reports."""
    cwd.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"})
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark step failed: {' '.join(command)}\n{out[-2000:]}")
    found = {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}
    for line in out.splitlines():
        if line.startswith("best_val_accuracy="):  # the measured sides print it
            found["best_val_accuracy"] = float(line.split("=", 1)[1])
        elif line.startswith("best: trial"):  # the product's closing line
            found["best_val_accuracy"] = float(line.split("val_accuracy=")[1].split()[0])
    return found


def _side(args: argparse.Namespace) -> int:
    """One measured side, in this (child) process."""
    import keras
    import numpy as np

    from pipelines import _data, imdb

    (x_train, y_train), _ = imdb.read_file(args.data_dir / "imdb.npz", 10_000)
    sequences = x_train.rows()
    points = yaml.safe_load(SPACE.read_text())["params"]
    grid = [dict(layers=depth, units=width, loss=loss, activation=activation) for depth in points["layers"]["choices"]
            for width in points["units"]["choices"] for loss in points["loss"]["choices"]
            for activation in points["activation"]["choices"]]  # the product's grid order: first param slowest
    best = 0.0
    if args.side == "bare":  # the product's first trial, without the product
        hp = {**{k: d.default for k, d in imdb.HYPERPARAMETERS.items()}, **grid[0]}
        dataset = imdb.load_data(hp, _data.DataOptions(args.data_dir, None))
        model = imdb.build_model(hp, dataset)
        history = model.fit(dataset.x_train, dataset.y_train, epochs=args.epochs, batch_size=512,
                            validation_data=(dataset.x_val, dataset.y_val), verbose=0)
        best = max(history.history["val_accuracy"])
    for config in grid[: args.configs] if args.side == "tutorial" else []:
        x = np.zeros((len(sequences), 10_000))  # the tutorial's vectorize_sequences, every trial
        for i, sequence in enumerate(sequences):
            x[i, sequence] = 1.0
        y = np.asarray(y_train).astype("float32")
        hidden = [keras.layers.Dense(config["units"], activation=config["activation"]) for _ in range(config["layers"])]
        model = keras.Sequential([keras.Input((10_000,)), *hidden, keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="rmsprop", loss=config["loss"], metrics=["accuracy"])
        held = min(10_000, int(0.4 * len(x)))
        history = model.fit(x[held:], y[held:], epochs=args.epochs, batch_size=512, validation_data=(x[:held], y[:held]), verbose=0)
        best = max(best, max(history.history["val_accuracy"]))
    print(f"best_val_accuracy={best}")
    return 0


def _space(work: Path, configs: int, name: str = "bench") -> Path:
    """imdb_further_experiments limited to its first ``configs`` grid points (same order as the tutorial side)."""
    document = yaml.safe_load(SPACE.read_text())
    document.update(name=name, trials=configs)
    path = work / "spaces" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _generated(work: Path, reviews: int) -> Path:
    """A generated imdb.npz in Keras's format, IMDB-sized unless told otherwise."""
    import numpy as np

    from pipelines.imdb import generate_contents, to_object_array

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
