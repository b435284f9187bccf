"""Every default the command line, the runner and the stores share, each in one place."""

from __future__ import annotations

from pathlib import Path

STORE_ROOT = Path("mlruns")  # the local stores, data cache and logs, under the working directory
TRACKING_FILE = "mlflow.db"  # MLflow's runs in STORE_ROOT unless --tracking-uri (or MLFLOW_TRACKING_URI) names a store
STUDY_FILE = "optuna.db"  # Optuna's studies in STORE_ROOT unless --storage (or SWEEPS_STORAGE) names one
SERVER_ARTIFACTS = STORE_ROOT / "artifacts"  # `sweeps server` keeps the artifacts here unless --artifacts-destination says
SCHEDULE_FILE = "nightly.yaml"  # the nightly schedule lives with the sweeps but is not one
CONNECT_TIMEOUT = 5.0  # seconds a store's server gets to answer before a command gives up on it
PROXY_READY_TIMEOUT = 10.0  # seconds opening a grpc:// storage waits for Optuna's gRPC proxy to accept its channel
HEARTBEAT_SECONDS = 60  # a running trial's heartbeat; a worker silent for twice this is presumed dead
METRICS_FLUSH_SECONDS = 5  # a training run's per-epoch metrics reach MLflow at most this late
PROGRESS_LINE_SECONDS = 30  # without a terminal, a long trial says how far it got at most this often
MAX_CONSECUTIVE_FAILURES = 3  # failed trials in a row that stop a sweep
FUSE_TRIALS = 8  # trials a worker takes at once and trains as one fused set (JAX): more fuse more, a pruner sees fewer finished
KEEP_MODELS = "best"  # which trials keep their Keras model in MLflow: the study's best ("best"), or every one ("all")
HYPERBAND_FACTOR = 3  # keras-tuner's Hyperband: how much each bracket cuts epochs and models by (its own default)
HYPERBAND_ITERATIONS = 1  # keras-tuner's Hyperband: how many times the whole schedule runs (its own default)
NIGHTLY_TIME = "02:30"  # when `sweeps schedule` runs the nightly sweeps
UI_HOST, UI_PORT = "127.0.0.1", 5000  # `sweeps ui` and `sweeps server` serve this machine only unless told otherwise
SERVER_WORKERS = 4  # web worker processes of `sweeps server`'s MLflow tracking server
PROXY_POOL = 4  # database connections the proxy keeps, whatever the number of workers
PROXY_PORT = 13000  # Optuna's gRPC storage proxy under `sweeps server --optuna-proxy` (Optuna's own default)
