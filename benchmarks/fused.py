"""Fused fits against the same fits one after another, whole sweeps, in one run.

    python benchmarks/fused.py [--data-dir DIR] [--out FILE]

Each side is ``python -m sweeps ...`` in its own empty working directory and process (peak RSS
from wait4), the sequential side from a copy of the sweep file with ``fuse: false``:

- a) ``boston_kfold --set epochs=80`` (the tutorial's 80 epochs), the whole 6-configuration grid
  of 4-fold trials with their refits: wall time, best configuration, each configuration's mean
  val_mae. Real Boston data from ``--data-dir`` or Keras's cache, else the generated sample.
- b) ``imdb_activation --repeats 5`` on IMDB-sized data (real from ``--data-dir`` or Keras's
  cache, else a generated sample of 25,000 reviews per split): wall time and the report's
  significance sentence.

Goals (issue 18): a) fused <= 0.35x sequential, same best configuration, mean val_mae within
0.05; b) fused <= 0.75x, same verdict; peak memory of the fused runs <= 1.5x sequential.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="real boston_housing.npz / imdb.npz in Keras's format")
    parser.add_argument("--boston-epochs", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--imdb-epochs", type=int, help="override imdb_activation's 20 epochs (quick runs)")
    parser.add_argument("--imdb-reviews", type=int, default=25_000, help="generated reviews per split, without real data")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "fused.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sweeps-fused-"))
    boston_args = ["--set", f"epochs={args.boston_epochs}", *data_args(args, "boston_housing.npz")]
    boston = _sides(work / "boston", "boston_kfold", boston_args)
    imdb_args = ["--repeats", str(args.repeats), *(["--epochs", str(args.imdb_epochs)] if args.imdb_epochs else [])]
    imdb = _sides(work / "imdb", "imdb_activation", [*imdb_args, "--data-dir", str(imdb_dir(args, work))])
    results = {"boston_kfold": boston, "imdb_activation": imdb, "goals": _goals(boston, imdb)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["goals"], indent=2))
    return 0 if all(results["goals"].values()) else 1


def _sides(work: Path, sweep: str, options: list[str]) -> dict:
    """The sweep run sequentially, then fused, each in its own project and working directory."""
    found = {}
    for side, fuse in (("sequential", False), ("fused", True)):
        project = work / side
        (project / "search_spaces").mkdir(parents=True)
        document = yaml.safe_load((REPO / "search_spaces" / f"{sweep}.yaml").read_text())
        (project / "search_spaces" / f"{sweep}.yaml").write_text(yaml.safe_dump({**document, "fuse": fuse}, sort_keys=False))
        measured = measure([sys.executable, "-m", "sweeps", sweep, *options], project)
        report = subprocess.run([sys.executable, "-m", "sweeps", "report", sweep], cwd=project, capture_output=True, text=True)
        found[side] = {**measured, **values(project, sweep), "verdict": verdict(report.stdout)}
        print(f"{sweep} {side}: {found[side]['seconds']} s, peak {found[side]['peak_rss_mb']} MB", file=sys.stderr, flush=True)
    found["ratio"] = round(found["fused"]["seconds"] / found["sequential"]["seconds"], 3)
    found["memory_ratio"] = round(found["fused"]["peak_rss_mb"] / found["sequential"]["peak_rss_mb"], 3)
    return found


def measure(command: list[str], cwd: Path, **env_vars: str) -> dict:
    """Run ``command`` in ``cwd`` (with ``env_vars``): its wall time and its own peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2", **env_vars}
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark step failed: {' '.join(command)}\n{out[-2000:]}")
    return {"seconds": round(time.perf_counter() - start, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def values(project: Path, sweep: str) -> dict:
    """Each configuration's objective (the mean over its fits) and the best one, from MLflow."""
    from sweeps.tracking import query

    trials = query.runs(sweep, f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    params = [c for c in trials.columns if c.startswith("params.") and trials[c].nunique() > 1]
    values = {" ".join(f"{c[7:]}={row[c]}" for c in params): round(float(row["value"]), 6) for _, row in trials.iterrows()}
    pick = min if trials["direction"].iloc[0] == "minimize" else max
    return {"values": values, "best": pick(values, key=values.get)}


def verdict(report: str) -> str:
    """The report's significance sentence, reduced to its verdict."""
    found = re.search(r"(not significant|significant) at", report)
    return found.group(1) if found else "none"


def _goals(boston: dict, imdb: dict) -> dict:
    seq, fused = boston["sequential"], boston["fused"]
    return {
        "boston_time_le_0.35": boston["ratio"] <= 0.35,
        "boston_same_best": seq["best"] == fused["best"],
        "boston_mean_val_mae_within_0.05": max(abs(seq["values"][k] - fused["values"][k]) for k in seq["values"]) <= 0.05,
        "imdb_time_le_0.75": imdb["ratio"] <= 0.75,
        "imdb_same_verdict": imdb["sequential"]["verdict"] == imdb["fused"]["verdict"],
        "memory_le_1.5": max(boston["memory_ratio"], imdb["memory_ratio"]) <= 1.5,
    }


def data_args(args: argparse.Namespace, filename: str) -> list[str]:
    from sweeps.pipeline import keras_cache_dir

    if args.data_dir and (args.data_dir / filename).is_file():
        return ["--data-dir", str(args.data_dir)]
    if (keras_cache_dir() / filename).is_file():
        return []
    print(f"using the GENERATED sample instead of {filename}", file=sys.stderr)
    return ["--generated-data"]


def imdb_dir(args: argparse.Namespace, work: Path) -> Path:
    """Real IMDB if given or in Keras's cache, else a generated IMDB-sized imdb.npz."""
    import numpy as np

    from sweeps.pipeline import keras_cache_dir
    from sweeps.pipelines.imdb import generate_contents, to_object_array

    for directory in (args.data_dir, keras_cache_dir()):
        if directory and (directory / "imdb.npz").is_file():
            return directory
    contents = generate_contents(args.imdb_reviews, args.imdb_reviews)
    directory = work / "imdb-data"
    directory.mkdir(parents=True)
    np.savez(directory / "imdb.npz", **{k: to_object_array(v) if k.startswith("x_") else v for k, v in contents.items()})
    print(f"using a GENERATED IMDB-shaped sample ({args.imdb_reviews} reviews per split)", file=sys.stderr)
    return directory


if __name__ == "__main__":
    sys.exit(main())
