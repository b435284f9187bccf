"""``sweeps ui`` (MLflow's UI on the project's records, opened on a sweep's trials) and
``sweeps server`` (a team's shared services on one machine: MLflow's tracking server with its
artifact store, and Optuna's storage proxy)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from sweeps.commands.common import add_command, add_store_options, check_readable, port_number
from sweeps.defaults import PROXY_PORT, SERVER_ARTIFACTS, SERVER_WORKERS, STORE_ROOT, TRACKING_FILE, UI_HOST, UI_PORT
from sweeps.errors import EXIT_OK, ConfigError


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``ui`` and ``server`` to the command line."""
    ui = add_command(commands, common, "ui", cmd_ui)
    ui.add_argument("name", nargs="?", help="a sweep whose trials to open (default: the list of experiments)")
    ui.add_argument("--port", type=port_number, default=UI_PORT, help=f"the UI's port (default {UI_PORT})")
    ui.add_argument("--host", default=UI_HOST, help="address to listen on (default: this machine only)")
    add_store_options(ui, reads_studies=False)

    server = add_command(commands, common, "server", cmd_server)
    server.add_argument(
        "--backend-store-uri",
        default=os.environ.get("SWEEPS_BACKEND_STORE_URI"),
        help="the runs' database: postgresql://... or sqlite:///... "
        f"(env SWEEPS_BACKEND_STORE_URI; default sqlite:///{STORE_ROOT / TRACKING_FILE} here)",
    )
    server.add_argument(
        "--artifacts-destination",
        default=os.environ.get("SWEEPS_ARTIFACTS_DESTINATION"),
        help="where the artifacts go: a directory or an object store MLflow supports (s3://...) "
        f"(env SWEEPS_ARTIFACTS_DESTINATION; default {SERVER_ARTIFACTS} here)",
    )
    server.add_argument("--host", default=UI_HOST, help=f"address to listen on (default {UI_HOST}; 0.0.0.0 for other machines)")
    server.add_argument("--port", type=port_number, default=UI_PORT, help=f"the tracking server's port (default {UI_PORT})")
    server.add_argument(
        "--workers",
        type=int,
        default=SERVER_WORKERS,
        help=f"the tracking server's web worker processes (default {SERVER_WORKERS})",
    )
    server.add_argument("--optuna-proxy", action="store_true", help="also serve the study database through Optuna's gRPC proxy")
    server.add_argument("--storage", default=os.environ.get("SWEEPS_STORAGE"), help="the study database the proxy fronts")
    server.add_argument("--proxy-port", type=port_number, default=PROXY_PORT, help=f"the proxy's port (default {PROXY_PORT})")
    server.add_argument("--systemd", action="store_true", help="print a systemd unit that runs this server, and exit")


def cmd_ui(args: argparse.Namespace) -> int:
    """Start MLflow's UI on this project's records and print the address of a sweep's trials.

    It prints the address once the UI answers; Ctrl-C stops it and every process it started.
    A tracking server's URL (--tracking-uri http://...) already serves the UI: its address is printed.
    """
    import time

    from sweeps.commands.services import QUIET_SERVER, Service, serve_until_stopped, start, url_host
    from sweeps.tracking.stores import Stores, mask

    check_readable(args, reads_studies=False)
    uri = Stores.resolve(args.tracking_uri).tracking_uri
    page = ui_page(uri, args.name)
    if uri.startswith(("http://", "https://")):
        print(f"{uri.rstrip('/')}/{page}")
        return EXIT_OK
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", args.host, "--port", str(args.port)]
    log = Stores.resolve(args.tracking_uri).log_dir / "ui.log"
    ui = Service("the MLflow UI", [*command, "--workers", "1"], args.host, args.port, log, env=QUIET_SERVER)
    started = time.monotonic()
    start([ui])
    print(f"MLflow UI for {mask(uri)} (ready in {time.monotonic() - started:.0f} s; Ctrl-C to stop):", file=sys.stderr)
    print(f"http://{url_host(args.host)}:{args.port}/{page}", flush=True)
    serve_until_stopped([ui])
    return EXIT_OK


def cmd_server(args: argparse.Namespace) -> int:
    """Run a team's shared services in the foreground: MLflow's tracking server with proxied artifacts,
    and with --optuna-proxy Optuna's gRPC proxy in front of the study database.

    Workers on other machines then run `python -m sweeps NAME --tracking-uri http://HOST:PORT
    --storage grpc://HOST:PROXY_PORT`; the values are printed once both answer. Ctrl-C or SIGTERM
    stops both, every process included.
    """
    from sweeps.commands.services import serve_until_stopped, start, url_host
    from sweeps.commands.team import services, systemd_unit, worker_options
    from sweeps.tracking.schemes import DATABASES, check_scheme

    backend = args.backend_store_uri or f"sqlite:///{(STORE_ROOT / TRACKING_FILE).absolute()}"
    check_scheme("--backend-store-uri", backend, DATABASES)
    destination = args.artifacts_destination or str(SERVER_ARTIFACTS.absolute())
    if args.optuna_proxy and (not args.storage or args.storage.startswith("grpc://")):
        raise ConfigError("--optuna-proxy: name the study database it fronts with --storage postgresql://... (or sqlite:///...)")
    if args.systemd:
        print(systemd_unit(args, backend, destination))
        return EXIT_OK
    running = services(args, backend, destination)
    start(running)
    host = url_host(args.host)
    for line in worker_options(args, host, backend, destination):
        print(line, flush=True)
    serve_until_stopped(running)
    return EXIT_OK


def ui_page(tracking_uri: str, name: str | None) -> str:
    """The UI's address of a sweep's trials table (its saved view), or of the experiments list."""
    if name is None:
        return "#/experiments?workflowType=machine_learning"
    from sweeps.tracking.records import VIEW_KEY
    from sweeps.tracking.tracker import Tracker

    experiment_id = Tracker.for_reading(tracking_uri).experiment_id_of(name)
    if experiment_id is None:
        raise ConfigError(f"no runs of sweep '{name}' in {tracking_uri}; run it first, or pass --tracking-uri")
    # machine_learning: the UI opens the runs table, not the GenAI overview; the saved view
    # shows the trials with their swept params and objective as columns, best first.
    return f"#/experiments/{experiment_id}/runs?workflowType=machine_learning&viewStateShareKey={VIEW_KEY}"
