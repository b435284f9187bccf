"""``run --cluster``: its options, and what the sweep workers on a Dask cluster are given.

A sweep worker on another machine sees none of this one's working directory or environment,
so it is given everything explicitly: the sweep file, pipeline, project and data directory as
absolute paths it must see (checked on arrival), the stores' URLs in its environment (so no
password shows in its command line), and the backend this command chose.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sweeps.errors import ConfigError
from sweeps.logs import say
from sweeps.runner.cluster_worker import Assignment

CLUSTER_ENV = "SWEEPS_CLUSTER"
# The run options a sweep worker is given as they were given here; every other option is
# replaced by what this command resolved, or is the launcher's own (tests/commands keep the
# two lists in step with the parser).
FORWARDED = ("trials", "epochs", "repeats", "study", "heartbeat", "keep_models", "connect_timeout")
FORWARDED_FLAGS = ("generated_data", "debug")
RESOLVED_HERE = {"name", "overrides", "backend", "data_dir", "project", "spaces", "tracking_uri", "storage", "artifact_location"}
LAUNCHER_ONLY = {"jobs", "cluster", "worker_resources", "shared_filesystem", "worker", "threads"}


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """``--cluster``, ``--worker-resources`` and ``--shared-filesystem``."""
    parser.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help=f"run the --jobs workers as tasks on the Dask scheduler at ADDRESS, e.g. tcp://HOST:8786 (env {CLUSTER_ENV})",
    )
    parser.add_argument(
        "--worker-resources",
        type=resources,
        default={},
        metavar="NAME=N[,NAME=N]",
        help="Dask resources each sweep worker holds, e.g. GPU=1 (only Dask workers started with --resources GPU=... take them)",
    )
    parser.add_argument(
        "--shared-filesystem",
        action="store_true",
        help="every Dask worker sees this machine's paths (sqlite stores are refused for a cluster without it)",
    )


def resources(text: str) -> dict[str, float]:
    """``GPU=1,MEMORY=8e9`` as Dask resources (an argparse type)."""
    parsed = {}
    for item in text.split(","):
        name, _, amount = item.partition("=")
        try:
            parsed[name.strip()] = float(amount)
        except ValueError:
            parsed[name.strip()] = float("nan")
        if not name.strip() or not parsed[name.strip()] > 0:
            raise argparse.ArgumentTypeError(f"expected NAME=N with N > 0, e.g. GPU=1; got {item[:40]!r}")
    return parsed


def cluster_address(args: argparse.Namespace) -> str | None:
    """The scheduler this command's workers run on (``None``: on this machine). A sweep worker
    itself never launches more."""
    return None if args.worker else args.cluster or os.environ.get(CLUSTER_ENV) or None


@contextmanager
def cluster_launcher(args: argparse.Namespace, sweep: Any, spec: Any, stores: Any, backend: Any) -> Iterator[Callable[..., None]]:
    """Connect to ``--cluster``, check its workers, and yield what runs the sweep workers there
    (given the progress display's poll).

    Raises:
        ConfigError: the engine cannot share a study, a store is a sqlite file without
            ``--shared-filesystem``, or a Dask worker cannot see a path the sweep needs.
        ServiceError: no scheduler answers.
    """
    from sweeps.runner.cluster import check_workers, connected, launch_on_cluster

    address = cluster_address(args)
    if spec.engine != "optuna":
        raise ConfigError(f"--cluster {address}: only the optuna engine shares a study between processes")
    _check_stores(stores, args.shared_filesystem)
    stores.prepare()  # (a sqlite store's directory, for the workers to find)
    assignment = _assignment(args, sweep, spec, stores, backend)
    with connected(address, args.connect_timeout) as client:
        check_workers(client, assignment.needed, args.worker_resources)
        count = len(client.scheduler_info(n_workers=-1)["workers"])
        say(f"  cluster {client.scheduler.address}: {args.jobs} sweep worker(s) on its {count} Dask worker(s)")
        yield lambda poll: launch_on_cluster(client, assignment, args.jobs, args.worker_resources, poll)


def _check_stores(stores: Any, shared_filesystem: bool) -> None:
    from sweeps.tracking.stores import mask, sqlite_path

    for option, url in (("--tracking-uri", stores.tracking_uri), ("--storage", stores.storage)):
        if sqlite_path(url) is not None and not shared_filesystem:
            raise ConfigError(
                f"{option} {mask(url)}: a sqlite file on this machine, which a cluster's workers cannot share; give "
                "servers (`sweeps server`, then --tracking-uri http://HOST:5000 --storage grpc://HOST:13000) or "
                "PostgreSQL, or --shared-filesystem where every worker sees this directory at the same path"
            )


def _assignment(args: argparse.Namespace, sweep: Any, spec: Any, stores: Any, backend: Any) -> Assignment:
    """The sweep workers' command line, what they must see, and their stores' URLs."""
    from sweeps.commands.common import data_options
    from sweeps.spec.catalog import project_dir
    from sweeps.spec.contract import BUILTIN_PACKAGE
    from sweeps.tracking.stores import sqlite_path

    command, needed = [sweep.name], []
    if not sweep.builtin:
        command, needed = [str(sweep.path.resolve())], [("the sweep file", str(sweep.path.resolve()))]
    if not spec.pipeline.module.__name__.startswith(f"{BUILTIN_PACKAGE}."):
        project = str(project_dir(args.project).resolve())
        command += ["--project", project]
        needed += [("the project", project), ("the pipeline", str(spec.pipeline.path.resolve()))]
    data = data_options(args, None)
    if data.data_dir is not None:
        command += ["--data-dir", str(data.data_dir.resolve())]
        needed.append((data.named_by, str(data.data_dir.resolve())))
    command += [f"--{flag.replace('_', '-')}" for flag in FORWARDED_FLAGS if getattr(args, flag)]
    command += ["--backend", backend.name, *(item for pair in args.overrides for item in ("--set", pair))]
    for option in FORWARDED:
        if getattr(args, option) is not None:
            command += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    if args.artifact_location:
        command += ["--artifact-location", _absolute(args.artifact_location)]
    environment = {}
    urls = (("MLFLOW_TRACKING_URI", "--tracking-uri", stores.tracking_uri), ("SWEEPS_STORAGE", "--storage", stores.storage))
    for variable, option, url in urls:
        path = sqlite_path(url)
        environment[variable] = url if path is None else f"sqlite:///{path.resolve()}"
        if path is not None:
            needed.append((f"the directory of {option}", str(path.resolve().parent)))
    return Assignment(command, needed, "", "", {}, environment)


def _absolute(location: str) -> str:
    """A local artifact location as an absolute path (a URI with a scheme as it is)."""
    return location if "://" in location else str(Path(location).resolve())
