"""Sweep workers on a Dask cluster against ``--jobs`` on the same machine.

    python benchmarks/cluster.py [--rounds N] [--dask-defaults] [--out FILE]

The same fixed 16-point grid (in the same order, one trial at a time) on tiny generated
IMDB-format data, sqlite stores, two workers of one thread each, both sides in one run:
``--jobs 2``, then ``--cluster`` on a ``dask scheduler`` and two single-threaded ``dask
worker`` processes on 127.0.0.1 (started before the clock starts, as a cluster is there before
the sweep, and stopped after it). The two sides alternate for ``--rounds`` rounds (a shared
machine drifts more between two minutes than the sides differ); the ratios are each round's,
and their median. Reported per side: trials per hour (first trial's start to last trial's
end), the time from the command's start to its first trial's start, the whole command's time,
the CPU the Dask processes used during the sweep and while idle as long, and grid points run
twice or never (which must be 0 and 0). The Dask processes run with their timers slowed as the
README advises (``--dask-defaults``: as Dask sets them).

Goal (issue 27): on the cluster, at least 0.9x the trials per hour of ``--jobs 2``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sweeps.runner.cluster import connected  # noqa: E402 - after the path is set
from tests.dask_cluster import dask_cluster  # noqa: E402
from tests.support import tiny_imdb_workspace  # noqa: E402

POINTS = 16
GRID = {
    "name": "b16",
    "description": "16 small configurations for the cluster benchmark",
    "pipeline": "imdb",
    "sampler": {"type": "grid", "seed": 7},  # the same order on both sides
    "trials": POINTS,
    "fuse_trials": 1,  # a trial at a time: 8 per worker to measure, not one fused set each
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
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two sides (default 3)")
    parser.add_argument("--dask-defaults", action="store_true", help="Dask's own timer settings, not the README's")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "cluster.json")
    args = parser.parse_args()
    work = tiny_imdb_workspace("sweeps-cluster-", GRID)
    rounds = [one_round(work / f"round{index}", work, not args.dask_defaults) for index in range(args.rounds)]
    ratios = [r["cluster"]["trials_per_hour"] / r["jobs"]["trials_per_hour"] for r in rounds]
    table = {
        "trials per hour, --jobs 2 / --cluster, by round": "; ".join(
            f"{r['jobs']['trials_per_hour']:.0f} / {r['cluster']['trials_per_hour']:.0f}" for r in rounds
        ),
        "throughput, --cluster / --jobs 2, by round": " ".join(f"{ratio:.3f}" for ratio in ratios),
        "throughput, --cluster / --jobs 2, median (goal >= 0.9)": round(statistics.median(ratios), 3),
        "command to first trial, --jobs 2 / --cluster, median (s)": _medians(rounds, "to_first_trial_s"),
        "whole command, --jobs 2 / --cluster, median (s)": _medians(rounds, "command_s"),
        "CPU of Dask's processes, sweep / idle as long, median (s)": (
            f"{statistics.median(r['cluster']['dask_cpu_s'] for r in rounds):.1f} / "
            f"{statistics.median(r['cluster']['dask_idle_cpu_s'] for r in rounds):.1f}"
        ),
        "duplicates, --jobs 2 / --cluster (goal 0)": _sums(rounds, "duplicates"),
        "lost trials, --jobs 2 / --cluster (goal 0)": _sums(rounds, "lost"),
    }
    width = max(map(len, table))
    print("\n".join(f"{key.ljust(width)}  {value}" for key, value in table.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    kept = {"table": table, "rounds": rounds, "dask": DASK_VERSIONS, "dask_timers_slowed": not args.dask_defaults}
    args.out.write_text(json.dumps(kept, indent=1))
    return 0


DASK_VERSIONS: dict = {}


def one_round(folder: Path, work: Path, quiet: bool) -> dict:
    """``--jobs 2``, then ``--cluster`` on a cluster started for it (and idle as long after)."""
    jobs = measure(folder / "jobs", work, [])
    with dask_cluster(folder / "dask", quiet) as cluster:
        for name in ("w0", "w1"):
            cluster.start_worker(name)
        cluster.wait_for_workers(2)
        with connected(cluster.address, 30) as client:
            DASK_VERSIONS.update(client.get_versions(check=True)["scheduler"]["packages"])
        before = dask_cpu_seconds(cluster.processes)
        on_cluster = measure(folder / "cluster", work, ["--cluster", cluster.address, "--shared-filesystem"])
        during = dask_cpu_seconds(cluster.processes)
        time.sleep(on_cluster["command_s"])  # the same span idle: what Dask's processes cost by themselves
        idle = dask_cpu_seconds(cluster.processes) - during
    return {"jobs": jobs, "cluster": {**on_cluster, "dask_cpu_s": during - before, "dask_idle_cpu_s": idle}}


def _medians(rounds: list[dict], key: str) -> str:
    return " / ".join(f"{statistics.median(r[side][key] for r in rounds):.1f}" for side in ("jobs", "cluster"))


def _sums(rounds: list[dict], key: str) -> str:
    return " / ".join(str(sum(r[side][key] for r in rounds)) for side in ("jobs", "cluster"))


def measure(folder: Path, work: Path, options: list[str]) -> dict:
    """One side: ``sweeps run b16 --jobs 2 OPTIONS`` in ``folder`` (sqlite stores there), timed."""
    folder.mkdir(parents=True)
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
