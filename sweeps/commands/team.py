"""What ``sweeps server`` runs, what it tells workers, and how systemd runs it."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from urllib.parse import urlsplit

from sweeps.commands.services import QUIET_SERVER, Service
from sweeps.tracking.stores import Stores, mask


def services(args: argparse.Namespace, backend: str, destination: str) -> list[Service]:
    """The MLflow tracking server (proxied artifacts) and, when asked, Optuna's storage proxy."""
    if "://" not in destination:  # a directory: MLflow wants it to exist
        Path(destination).mkdir(parents=True, exist_ok=True)
    logs = Stores.resolve().log_dir
    mlflow = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        backend,
        "--artifacts-destination",
        destination,
        *_listening(args),
    ]
    running = [Service("the MLflow tracking server", mlflow, args.host, args.port, logs / "server-mlflow.log", env=QUIET_SERVER)]
    if args.optuna_proxy:
        proxy = [
            sys.executable,
            "-m",
            "sweeps.engines.optuna_proxy",
            "--storage",
            args.storage,
            "--host",
            args.host,
            "--port",
            str(args.proxy_port),
        ]
        running.append(
            Service("the Optuna storage proxy", proxy, args.host, args.proxy_port, logs / "server-optuna.log", probe_path=None)
        )
    return running


def worker_options(args: argparse.Namespace, host: str, backend: str, destination: str) -> list[str]:
    """What the server says once it answers: where things are, and the options workers use."""
    tracking = f"http://{host}:{args.port}"
    storage = f"grpc://{host}:{args.proxy_port}" if args.optuna_proxy else mask(Stores.resolve(storage=args.storage).storage)
    lines = [f"MLflow tracking server at {tracking} (runs in {mask(backend)}, artifacts in {mask(destination)})"]
    if args.optuna_proxy:
        lines.append(f"Optuna storage proxy at {storage} (in front of {mask(args.storage)})")
    lines += ["workers use:", f"  --tracking-uri {tracking} --storage {storage}", "(Ctrl-C stops the server)"]
    return lines


def _listening(args: argparse.Namespace) -> list[str]:
    """Where the server listens and with how many workers: the same options for MLflow and for the unit."""
    return ["--host", args.host, "--port", str(args.port), "--workers", str(args.workers)]


def systemd_unit(args: argparse.Namespace, backend: str, destination: str) -> str:
    """A systemd service running this server; the database URLs go in an environment file."""
    command = [
        sys.executable,
        "-m",
        "sweeps",
        "server",
        *_listening(args),
    ]
    if args.optuna_proxy:
        command += ["--optuna-proxy", "--proxy-port", str(args.proxy_port)]
    secrets = {"SWEEPS_BACKEND_STORE_URI": backend, "SWEEPS_ARTIFACTS_DESTINATION": destination}
    if args.storage:
        secrets["SWEEPS_STORAGE"] = args.storage
    hidden = any(urlsplit(value).password for value in secrets.values() if "://" in value)
    env_file = Path.cwd().resolve() / "sweeps-server.env"
    environment = "\n".join(f"{key}={mask(value)}" for key, value in secrets.items())
    return f"""# {env_file}  (chmod 600; {"replace each *** with its password" if hidden else "the server's stores"})
{environment}

# /etc/systemd/system/sweeps-server.service, then:
#   systemctl daemon-reload && systemctl enable --now sweeps-server
[Unit]
Description=sweeps: the team's MLflow tracking server{" and Optuna storage proxy" if args.optuna_proxy else ""}
After=network-online.target postgresql.service
Wants=network-online.target

[Service]
WorkingDirectory={Path.cwd().resolve()}
EnvironmentFile={env_file}
ExecStart={shlex.join(command)}
Restart=on-failure
# systemd stops the whole control group; the server also stops its own processes on SIGTERM.
TimeoutStopSec=20

[Install]
WantedBy=multi-user.target"""
