"""Sweep workers on a Dask cluster against ``--jobs`` on the same machine.

    python benchmarks/cluster.py [--out FILE]

The same fixed 16-point grid on tiny generated IMDB-format data, sqlite stores, two workers of
one thread each, both sides in one run: ``--jobs 2``, then ``--cluster`` on a ``dask scheduler``
and two single-threaded ``dask worker`` processes on 127.0.0.1 (started before the clock starts,
as a cluster is there before the sweep). Reported per side: trials per hour (first trial's start
to last trial's end), the time from the command's start to its first trial's start, the whole
command's time, and grid points run twice or never (which must be 0 and 0).

Goal (issue 27): on the cluster, at least 0.9x the trials per hour of ``--jobs 2``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sweeps.runner.cluster import connected  # noqa: E402 - after the path is set
from tests.dask_cluster import dask_cluster  # noqa: E402
from tests.support import write_imdb, write_space  # noqa: E402

POINTS = 16
GRID = {
    "name": "b16",
    "description": "16 small configurations for the cluster benchmark",
    "pipeline": "imdb",
    "sampler": {"type": "grid"},
    "trials": POINTS,
    "objective": {"metric": "val_accuracy"},
    "fixed": {"epochs": 3, "batch_size": 64, "validation_samples": 100, "num_words": 500},
    "params": {
        "layers": {"type": "categorical", "choices": [1, 2]},
        "units": {"type": "categorical", "choices": [4, 8, 16, 32]},
        "activation": {"type": "categorical", "choices": ["relu", "tanh"]},
    },
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "cluster.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sweeps-cluster-"))
    write_imdb(work / "data", train=300, test=200)
    (work / "spaces").mkdir()
    write_space(work / "spaces", GRID, name="b16")
    results = {"--jobs 2": measure(work / "jobs", work, [])}
    with dask_cluster(work / "dask") as cluster:
        for name in ("w0", "w1"):
            cluster.start_worker(name)
        cluster.wait_for_workers(2)
        with connected(cluster.address, 30) as client:
            versions = client.get_versions(check=True)["scheduler"]["packages"]
        idle = dask_cpu_seconds(cluster.processes)
        on_cluster = measure(work / "cluster", work, ["--cluster", cluster.address, "--shared-filesystem"])
        results["--cluster (2 Dask workers)"] = {**on_cluster, "dask_cpu_s": dask_cpu_seconds(cluster.processes) - idle}
    jobs, dask = results["--jobs 2"], results["--cluster (2 Dask workers)"]
    table = {
        "trials per hour, --jobs 2 / --cluster": f"{jobs['trials_per_hour']:.0f} / {dask['trials_per_hour']:.0f}",
        "throughput, --cluster / --jobs 2 (goal >= 0.9)": round(dask["trials_per_hour"] / jobs["trials_per_hour"], 3),
        "command to first trial, --jobs 2 / --cluster (s)": f"{jobs['to_first_trial_s']:.1f} / {dask['to_first_trial_s']:.1f}",
        "whole command, --jobs 2 / --cluster (s)": f"{jobs['command_s']:.1f} / {dask['command_s']:.1f}",
        "CPU of Dask's own processes during the sweep (s)": round(dask["dask_cpu_s"], 1),
        "duplicates, --jobs 2 / --cluster (goal 0)": f"{jobs['duplicates']} / {dask['duplicates']}",
        "lost trials, --jobs 2 / --cluster (goal 0)": f"{jobs['lost']} / {dask['lost']}",
    }
    width = max(map(len, table))
    print("\n".join(f"{key.ljust(width)}  {value}" for key, value in table.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"table": table, "sides": results, "dask": versions}, indent=1))
    return 0


def measure(folder: Path, work: Path, options: list[str]) -> dict:
    """One side: ``sweeps run b16 --jobs 2 OPTIONS`` in ``folder`` (sqlite stores there), timed."""
    folder.mkdir()
    command = [sys.executable, "-m", "sweeps", "run", "b16", "--spaces", str(work / "spaces"), "--data-dir", str(work / "data")]
    command += ["--jobs", "2", *options]
    started, wall = time.time(), time.monotonic()
    done = subprocess.run(command, cwd=folder, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    elapsed = time.monotonic() - wall
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(options) or '--jobs'}: the sweep failed: {(done.stdout + done.stderr)[-2000:]}")
    return {**study_counts(f"sqlite:///{folder / 'mlruns' / 'optuna.db'}", "b16", started), "command_s": elapsed}


def dask_cpu_seconds(processes: list[subprocess.Popen]) -> float:
    """CPU seconds used so far by the scheduler and the Dask workers (their nannies and worker
    processes; the sweep workers they started have exited and are not counted)."""
    import psutil

    total = 0.0
    for process in processes:
        for each in [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]:
            times = each.cpu_times()
            total += times.user + times.system
    return total


def study_counts(storage: str, study: str, started: float) -> dict:
    """Trials per hour, the wait for the first trial, and grid points run more than once or never."""
    import optuna

    loaded = optuna.load_study(study_name=study, storage=storage)
    complete = [t for t in loaded.trials if t.state.name == "COMPLETE"]
    points = Counter(tuple(sorted(t.params.items())) for t in complete)
    first, last = min(t.datetime_start for t in complete), max(t.datetime_complete for t in complete)
    return {
        "trials": len(complete),
        "trials_per_hour": 3600 * len(complete) / (last - first).total_seconds(),
        "to_first_trial_s": first.timestamp() - started,  # (naive local times, as Optuna keeps them)
        "duplicates": sum(count - 1 for count in points.values()),
        "lost": POINTS - len(points),
    }


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    sys.exit(code)
