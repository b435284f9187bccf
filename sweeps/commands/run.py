"""``sweeps run`` (and ``sweeps NAME``) and ``sweeps list``."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from typing import Any

from sweeps.commands.common import (
    add_backend_option,
    add_command,
    add_data_dir_option,
    add_project_options,
    add_store_options,
    data_options,
    parse_overrides,
    start_backend,
)
from sweeps.commands.on_cluster import add_cluster_options, cluster_address, cluster_launcher
from sweeps.defaults import HEARTBEAT_SECONDS, KEEP_MODELS
from sweeps.errors import EXIT_OK, ConfigError
from sweeps.formatting import headline, param_text
from sweeps.logs import NOTES, library_logs_to, say


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``run`` and ``list`` to the command line."""
    run = add_command(commands, common, "run", cmd_run)
    run.add_argument("name", help="a sweep's name (see `sweeps list`) or the path of its .yaml file")
    run.add_argument("--trials", type=int, help="the study's trial budget (default: the file's `trials`)")
    run.add_argument("--epochs", type=int, help="override the fixed epochs (for quick runs)")
    run.add_argument("--repeats", type=int, help="seeds per configuration (default: the file's `repeats`, or 1)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one fixed value, validated like the file (repeatable)",
    )
    add_backend_option(run)
    add_data_dir_option(run)
    add_store_options(run, artifacts=True)
    add_project_options(run)
    run.add_argument("--study", help="study name (default: the sweep's name, plus any overrides)")
    run.add_argument(
        "--jobs", type=int, default=1, help="worker processes on this machine (the cores, and any GPUs, divided), or on --cluster"
    )
    add_cluster_options(run)
    run.add_argument(
        "--heartbeat",
        type=int,
        default=HEARTBEAT_SECONDS,
        metavar="SECONDS",
        help=f"a running trial's heartbeat; a worker silent for twice this is presumed dead (default {HEARTBEAT_SECONDS})",
    )
    run.add_argument(
        "--keep-models",
        choices=("best", "all"),
        default=KEEP_MODELS,
        help="which trials keep their Keras model in MLflow: the study's best (default), or every one",
    )
    run.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # started by --jobs
    run.add_argument("--threads", type=int, help=argparse.SUPPRESS)  # TensorFlow threads of a --jobs worker

    listing = add_command(commands, common, "list", cmd_list)
    add_project_options(listing)


def cmd_list(args: argparse.Namespace) -> int:
    """List the sweeps: name, where it comes from, its pipeline and the question it asks.

    A sweep whose file does not validate is marked INVALID (`sweeps validate NAME` lists why).
    """
    from sweeps.reporting.tables import render_table
    from sweeps.spec.catalog import catalog
    from sweeps.spec.loading import file_problems
    from sweeps.spec.yaml_file import read_yaml

    rows = []
    for sweep in catalog(args.project, args.spaces).values():
        try:
            document = read_yaml(sweep.path, "the search space")[1]
        except ConfigError:
            document = None
        document = document if isinstance(document, dict) else {}
        pipeline, question = str(document.get("pipeline", "?")), str(document.get("description", ""))
        problems = file_problems(sweep.path, args.project)
        if problems:
            question = f"INVALID ({len(problems)} problem(s): `sweeps validate {sweep.name}`) {question}".rstrip()
        origin = f"{sweep.origin} (replaces the built-in)" if sweep.replaces_builtin else sweep.origin
        rows.append([sweep.name, origin, pipeline, question])
    print(render_table(["name", "from", "pipeline", "question"], rows))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Run (or resume) a sweep: every trial tracked in MLflow, a table of results at the end."""
    from sweeps.runner.cluster_worker import PARENT_PID
    from sweeps.runner.signals import end_with_parent
    from sweeps.spec.catalog import find_sweep
    from sweeps.spec.loading import load_spec
    from sweeps.spec.sweep import check_study_name
    from sweeps.tracking.stores import Stores

    if args.worker and os.environ.get(PARENT_PID):  # a sweep worker of a Dask task: it ends with its Dask worker
        end_with_parent(int(os.environ[PARENT_PID]))
    overrides = parse_overrides(args.overrides)
    if args.epochs is not None:
        if overrides.get("epochs", args.epochs) != args.epochs:
            raise ConfigError(f"--epochs {args.epochs} and --set epochs={overrides['epochs']} disagree; give one of them")
        overrides["epochs"] = args.epochs
    sweep = find_sweep(args.name, args.project, args.spaces)
    _check_options(args)
    if args.study is not None:
        check_study_name(args.study)
    spec = load_spec(sweep.path, overrides, args.trials, args.repeats, args.project)
    if args.jobs > 1 and spec.engine != "optuna":
        raise ConfigError(f"--jobs {args.jobs}: only the optuna engine shares a study between processes")
    stores = Stores.resolve(args.tracking_uri, args.storage)
    stores.check(args.connect_timeout)
    backend = start_backend(args, [spec], stores.cache_dir / "compiled")
    return _run(args, sweep, spec, stores, backend)


def _check_options(args: argparse.Namespace) -> None:
    data_options(args, None)  # a data directory that is not one: said before anything is loaded
    if args.jobs < 1 or args.heartbeat < 1:
        raise ConfigError(f"--jobs and --heartbeat must be >= 1, got {args.jobs} and {args.heartbeat}")
    if (args.worker_resources or args.shared_filesystem) and not cluster_address(args) and not args.worker:
        raise ConfigError("--worker-resources and --shared-filesystem are for a Dask cluster: add --cluster tcp://HOST:PORT")


def _run(args: argparse.Namespace, sweep: Any, spec: Any, stores: Any, backend: Any) -> int:
    from sweeps.runner.sweep import RunOptions, run_sweep
    from sweeps.runner.workers import launch, threads_per_worker
    from sweeps.tracking.stores import mask
    from sweeps.training.devices import device_name

    state = f"Optuna {mask(stores.storage)}" if spec.engine == "optuna" else f"keras-tuner state {stores.tuner_dir}"
    options = RunOptions(
        stores,
        data_options(args, stores.cache_dir),
        args.study,
        args.heartbeat,
        worker=args.worker,
        keep_models=args.keep_models,
        artifact_location=args.artifact_location,
    )
    with library_logs_to(stores.log_dir / f"{spec.name}.log") as log, ExitStack() as cluster:
        say(headline(f"{spec.name}: {spec.description}"))  # `list` and the parent run's note show it whole
        say(f"  MLflow {mask(stores.tracking_uri)} | {state} | log {log}")
        say(f"  backend {backend} | device {device_name(backend.name)}")
        if cluster_address(args):
            options = replace(options, launch_workers=cluster.enter_context(cluster_launcher(args, sweep, spec, stores, backend)))
        elif args.jobs > 1:
            say(f"  {args.jobs} workers, {threads_per_worker(args.jobs)} thread(s) each; logs in {stores.log_dir}")
            worker_argv = _without_jobs(args.argv)
            options = replace(options, launch_workers=lambda poll: launch(worker_argv, args.jobs, stores.log_dir, poll))
        result = run_sweep(spec, options)
        if not args.worker:
            _print_results(spec, result, stores.tracking_uri)
    return EXIT_OK


def _print_results(spec: Any, result: Any, tracking_uri: str) -> None:
    """The results on stdout (and in the log): the table, the best trial, where to look."""
    lines = [f"\nstudy {result.study}: {len(result.records)} trial(s), {result.ran} run now", result.table()]
    front = result.comparison.front if result.comparison is not None else None
    if front is not None:  # several objectives: no single best
        lines.append(front.sentence())
    elif result.best is not None:
        params = " ".join(f"{k}={param_text(v)}" for k, v in result.best.params.items())
        lines.append(f"best: trial {result.best.number} {spec.objective.metric}={result.best.value:.4f} {params}")
    if result.ran == 0 and spec.sampler.grid and len(result.records) >= len(spec.grid_points()):
        lines.append("nothing to run: every point of the grid has been tried")
    elif result.ran == 0:
        lines.append(f"nothing to run: the study's budget of {spec.trials} trials is spent (raise --trials to run more)")
    if result.comparison is not None and result.records:  # the answer: by swept value, with its significance
        lines += ["", result.comparison.render()]
    if result.dataset.source.kind == "generated":
        lines.append("NOTE: these results come from GENERATED data, not the real dataset")
    lines.append(f"see every trial: {_where_to_look(tracking_uri, spec.name)}")
    text = "\n".join(lines)
    print(text)
    logging.getLogger(NOTES).info(text)


def _where_to_look(tracking_uri: str, name: str) -> str:
    """The sweep's page on a tracking server, else the command that opens the UI on it."""
    from sweeps.commands.serve import ui_page
    from sweeps.tracking.stores import Stores, mask

    if tracking_uri.startswith(("http://", "https://")):
        return f"{tracking_uri.rstrip('/')}/{ui_page(tracking_uri, name)}"
    where = "" if tracking_uri == Stores.resolve().tracking_uri else f" --tracking-uri {mask(tracking_uri)}"
    return f"python -m sweeps ui {name}{where}"


def _without_jobs(argv: Sequence[str]) -> list[str]:
    """``argv`` minus ``--jobs N`` / ``--jobs=N`` (what each worker is started with)."""
    kept, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == "--jobs":
            skip = True
        elif not item.startswith("--jobs="):
            kept.append(item)
    return kept
