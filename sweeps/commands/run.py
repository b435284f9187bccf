"""``sweeps run`` (and ``sweeps NAME``) and ``sweeps list``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import yaml

from sweeps.commands.common import find_space, import_tensorflow, parse_overrides, spaces_dir, sweep_files
from sweeps.errors import EXIT_OK, ConfigError


def cmd_list(args: argparse.Namespace) -> int:
    """List the named sweeps with their one-line descriptions."""
    files = sweep_files(spaces_dir(args))
    width = max((len(f.stem) for f in files), default=0)
    for path in files:
        try:
            document = yaml.safe_load(path.read_text()) or {}
            summary = f"[{document.get('pipeline', '?')}] {document.get('description', '')}"
        except (yaml.YAMLError, AttributeError) as error:
            summary = f"(unreadable: {type(error).__name__})"
        print(f"{path.stem.ljust(width)}  {summary}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Run (or resume) a sweep: every trial tracked in MLflow, a table of results at the end."""
    import_tensorflow(quietly=not args.debug)
    if args.threads:  # before TensorFlow starts its thread pools
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from pipelines._data import DataOptions
    from sweeps.runner import RunOptions, run_sweep
    from sweeps.spec import load_spec
    from sweeps.stores import Stores, mask
    from sweeps.workers import launch, threads_per_worker

    overrides = parse_overrides(args.overrides)
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    spec = load_spec(find_space(args), overrides, args.trials, args.repeats)
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        raise ConfigError(f"--data-dir {args.data_dir}: not a directory")
    if args.jobs < 1 or args.heartbeat < 1:
        raise ConfigError(f"--jobs and --heartbeat must be >= 1, got {args.jobs} and {args.heartbeat}")
    if args.jobs > 1 and spec.engine != "optuna":
        raise ConfigError(f"--jobs {args.jobs}: only the optuna engine shares a study between processes")
    stores = Stores.resolve(args.tracking_uri, args.storage)
    print(f"{spec.name}: {spec.description}", file=sys.stderr)
    print(f"  MLflow {mask(stores.tracking_uri)} | Optuna {mask(stores.storage)}", file=sys.stderr)
    options = RunOptions(stores, DataOptions(args.data_dir and Path(args.data_dir), stores.cache_dir), args.study,
                         args.heartbeat, worker=args.worker)
    if args.jobs > 1:
        print(f"  {args.jobs} workers, {threads_per_worker(args.jobs)} TensorFlow thread(s) each; logs in "
              f"{stores.cache_dir.parent / 'logs'}", file=sys.stderr)
        worker_argv = _without_jobs(args.argv)
        options = replace(options, launch_workers=lambda poll: launch(worker_argv, args.jobs, stores.cache_dir.parent / "logs", poll))
    result = run_sweep(spec, options)
    if args.worker:
        return EXIT_OK
    print(f"\nstudy {result.study}: {len(result.records)} trial(s), {result.ran} run now")
    print(result.table())
    if result.best is not None:
        print(f"best: trial {result.best.number} {spec.metric}={result.best.value:.4f} "
              + " ".join(f"{k}={v}" for k, v in result.best.params.items()))
    if result.ran == 0:
        print("nothing to run: the study's budget or grid is spent (raise --trials to run more)")
    if result.dataset.source.kind == "generated":
        print("NOTE: these results come from GENERATED data, not the real dataset")
    print(f"see every trial: mlflow ui --backend-store-uri {mask(stores.tracking_uri)}")
    return EXIT_OK


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
