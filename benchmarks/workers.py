"""Many workers on one study: through Optuna's gRPC proxy against straight to PostgreSQL.

    python benchmarks/workers.py [--workers 8] [--out FILE]

Starts a throwaway PostgreSQL server (Debian's package) on 127.0.0.1 and, for each side,
``sweeps server`` (the MLflow tracking server, and for the proxy side Optuna's gRPC proxy) and
``python -m sweeps run b48 --jobs N`` (N worker processes, one TensorFlow thread each) on a
48-point grid on tiny generated IMDB-format data. While it runs, PostgreSQL's connections to the
study database are sampled every 0.25 s. Reported per side: trials per hour (first trial's start
to last trial's end), peak connections to the study database, grid points run twice
(duplicates) and never (lost), which must be 0 and 0.

Goal (issue 15): through the proxy, connections stay at the proxy's own pool whatever the number
of workers (direct, they grow with the workers), at >= 0.9x the direct throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import postgres  # noqa: E402 - the tests' throwaway PostgreSQL, after the path is set
from tests.support import tiny_imdb_workspace  # noqa: E402

GRID = {
    "name": "b48",
    "description": "48 small configurations for the workers benchmark",
    "pipeline": "imdb",
    "sampler": {"type": "grid"},
    "trials": 48,
    "objective": {"metric": "val_accuracy"},
    "fixed": {"epochs": 2, "batch_size": 64, "validation_samples": 100, "num_words": 500},
    "params": {
        "layers": {"type": "categorical", "choices": [1, 2, 3]},
        "units": {"type": "categorical", "choices": [4, 8, 16, 32]},
        "activation": {"type": "categorical", "choices": ["relu", "tanh"]},
        "loss": {"type": "categorical", "choices": ["binary_crossentropy", "mse"]},
    },
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[4, 8], help="worker counts to measure (default 4 8)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "workers.json")
    args = parser.parse_args()
    work = tiny_imdb_workspace("sweeps-workers-", GRID)
    with postgres.server() as (url, _):
        results = {f"{side} x{n}": measure(side, url, work, n) for n in args.workers for side in ("direct", "proxy")}
    table = {}
    for n in args.workers:
        direct, proxy = results[f"direct x{n}"], results[f"proxy x{n}"]
        rate = f"{direct['trials_per_hour']:.0f} / {proxy['trials_per_hour']:.0f}"
        connections = f"{direct['peak_connections']} / {proxy['peak_connections']}"
        table[f"{n} workers: trials per hour, direct / proxy"] = rate
        ratio = round(proxy["trials_per_hour"] / direct["trials_per_hour"], 3)
        table[f"{n} workers: throughput, proxy / direct (goal >= 0.9)"] = ratio
        table[f"{n} workers: peak connections to the study database, direct / proxy"] = connections
        table[f"{n} workers: duplicates, direct / proxy (goal 0)"] = f"{direct['duplicates']} / {proxy['duplicates']}"
        table[f"{n} workers: lost trials, direct / proxy (goal 0)"] = f"{direct['lost']} / {proxy['lost']}"
    width = max(map(len, table))
    print("\n".join(f"{key.ljust(width)}  {value}" for key, value in table.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"table": table, "sides": results}, indent=1))
    return 0


def measure(side: str, url: str, work: Path, workers: int) -> dict:
    """One side: a server, N workers on a study of their own, connections sampled meanwhile."""
    port, proxy_port = free_port(), free_port()
    folder, study = work / f"{side}-{workers}", f"b48-{side}-{workers}"
    folder.mkdir()
    server_args = ["server", "--backend-store-uri", f"{url}/mlflow", "--artifacts-destination", str(folder / "artifacts")]
    server_args += ["--port", str(port), "--workers", "2"]
    if side == "proxy":
        server_args += ["--optuna-proxy", "--storage", f"{url}/optuna", "--proxy-port", str(proxy_port)]
    server = sweeps(server_args, folder)
    try:
        wait_for_line(server, "--tracking-uri")
        storage = f"grpc://127.0.0.1:{proxy_port}" if side == "proxy" else f"{url}/optuna"
        sampler = ConnectionSampler(url)
        sampler.start()
        run_args = ["run", "b48", "--spaces", str(work / "spaces"), "--data-dir", str(work / "data"), "--study", study]
        run_args += ["--tracking-uri", f"http://127.0.0.1:{port}", "--storage", storage, "--jobs", str(workers)]
        run = sweeps(run_args, folder)
        out, err = run.communicate(timeout=3600)
        sampler.stop()
        if run.returncode != 0:
            raise SystemExit(f"{side}: the sweep failed: {err[-2000:]}")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    return {**study_counts(f"{url}/optuna", study), "peak_connections": sampler.peak}


def study_counts(storage: str, study: str) -> dict:
    """Trials per hour, and grid points run more than once or never."""
    import optuna

    loaded = optuna.load_study(study_name=study, storage=storage)
    trials = [t for t in loaded.trials if not t.user_attrs.get("sweeps.stepped_aside")]
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    points = Counter(tuple(sorted(t.params.items())) for t in complete)
    span = max(t.datetime_complete for t in complete) - min(t.datetime_start for t in complete)
    counts = {
        "trials": len(complete),
        "trials_per_hour": 3600 * len(complete) / span.total_seconds(),
        "duplicates": sum(count - 1 for count in points.values()),
        "lost": 48 - len(points),
    }
    if counts["duplicates"] or counts["lost"]:  # what happened, trial by trial, to find out why
        counts["trials_seen"] = [
            {
                "number": t.number,
                "state": t.state.name,
                "params": t.params,
                "worker": t.user_attrs.get("worker"),
                "queued": t.system_attrs.get("fixed_params"),
                "start": str(t.datetime_start),
                "end": str(t.datetime_complete),
            }
            for t in loaded.trials
        ]
    return counts


class ConnectionSampler(threading.Thread):
    """Samples PostgreSQL's connections to the study database; keeps the peak."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.peak, self._done = url, 0, threading.Event()

    def run(self) -> None:
        import psycopg

        # autocommit: inside one transaction PostgreSQL would keep showing its first snapshot
        with psycopg.connect(f"{self.url}/postgres", autocommit=True) as connection:
            while not self._done.is_set():
                (count,) = connection.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = 'optuna'").fetchone()
                self.peak = max(self.peak, count)
                self._done.wait(0.25)

    def stop(self) -> None:
        self._done.set()
        self.join()


def sweeps(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "sweeps", *args], cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def wait_for_line(process: subprocess.Popen, text: str) -> None:
    for line in process.stdout:
        if text in line:
            return
    raise SystemExit(f"the server stopped: {process.stderr.read()[-2000:]}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    sys.exit(code)
