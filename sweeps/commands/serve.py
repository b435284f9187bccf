"""``sweeps ui``: MLflow's UI on the project's records, opened on a sweep's trials."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sweeps.commands.common import add_store_options
from sweeps.defaults import UI_HOST, UI_PORT
from sweeps.errors import EXIT_OK, ConfigError

# The UI as a single web process: MLflow's job runner (evaluation jobs, not used here) would
# start several more processes and a minute of start-up.
QUIET_SERVER = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``ui`` to the command line."""
    ui = commands.add_parser("ui", parents=[common], help=cmd_ui.__doc__.splitlines()[0], description=cmd_ui.__doc__)
    ui.add_argument("name", nargs="?", help="a sweep whose trials to open (default: the list of experiments)")
    ui.add_argument("--port", type=int, default=UI_PORT)
    ui.add_argument("--host", default=UI_HOST, help="address to listen on (default: this machine only)")
    add_store_options(ui, storage=False)
    ui.set_defaults(handler=cmd_ui)


def cmd_ui(args: argparse.Namespace) -> int:
    """Start MLflow's UI on this project's records and print the address of a sweep's trials.

    It prints the address once the UI answers; Ctrl-C stops it and every process it started.
    """
    import time

    from sweeps.commands.services import Service, serve_until_stopped, start, url_host
    from sweeps.tracking.stores import Stores, mask

    uri = Stores.resolve(args.tracking_uri).tracking_uri
    page = _page(uri, args.name)
    log = Stores.resolve(args.tracking_uri).log_dir / "ui.log"
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", args.host, "--port", str(args.port)]
    ui = Service("the MLflow UI", [*command, "--workers", "1"], args.host, args.port, log, env=QUIET_SERVER)
    started = time.monotonic()
    start([ui])
    print(f"MLflow UI for {mask(uri)} (ready in {time.monotonic() - started:.0f} s; Ctrl-C to stop):", file=sys.stderr)
    print(f"http://{url_host(args.host)}:{args.port}/{page}", flush=True)
    serve_until_stopped([ui])
    return EXIT_OK


def _page(tracking_uri: str, name: str | None) -> str:
    """The UI's address of a sweep's trials table (its saved view), or of the experiments list."""
    if name is None:
        return "#/experiments?workflowType=machine_learning"
    from sweeps.tracking.records import VIEW_KEY
    from sweeps.tracking.tracker import Tracker

    tracker = Tracker.for_reading(tracking_uri)
    experiment_id = tracker.experiment_id_of(name)
    if experiment_id is None:
        raise ConfigError(f"no runs of sweep '{name}' in {tracking_uri}; run it first, or pass --tracking-uri")
    # machine_learning: the UI opens the runs table, not the GenAI overview; the saved view
    # shows the trials with their swept params and objective as columns, best first.
    return f"#/experiments/{experiment_id}/runs?workflowType=machine_learning&viewStateShareKey={VIEW_KEY}"
