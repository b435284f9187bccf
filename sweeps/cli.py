"""``python -m sweeps``: parse, call, map failures to one line and an exit code (STYLE.md §7).

Exit codes: 0 success; 2 bad usage, configuration or data; 1 anything else (a store that
cannot be reached, a sweep stopped by failures); 130 interrupted. ``--debug`` shows tracebacks.
Heavy imports (TensorFlow, MLflow) happen inside the commands, so ``list`` and usage errors
answer at once.
"""

from __future__ import annotations

import argparse
import difflib
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import yaml

from sweeps.errors import ConfigError, StoreError, SweepAborted

COMMANDS = ("run", "list", "report", "ui")
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        argv.insert(0, "run")  # `python -m sweeps imdb_depth` is `run imdb_depth`
    parser = _parser()
    args = parser.parse_args(argv)
    args.argv = argv[1:]  # the command's own arguments, for --jobs workers
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ banners say nothing useful here
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted: the running trial was marked FAIL and its run KILLED; "
              "run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if args.debug:
            raise
        return _report(error)


def _report(error: Exception) -> int:
    from pipelines._data import DataError
    from sweeps.stores import mask

    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, (ConfigError, DataError)):
        print(f"error: {mask(text)}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(error, (StoreError, SweepAborted)):
        print(f"error: {mask(text)}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"error: {type(error).__name__}: {mask(text)} (run again with --debug for the traceback)", file=sys.stderr)
    return EXIT_FAILURE


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM closes runs exactly as Ctrl-C does


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sweeps", description="Declarative, tracked hyperparameter sweeps for Keras tasks.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    common.add_argument("--spaces", type=Path, default=None, metavar="DIR",
                        help="directory of search-space files (default: ./search_spaces)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", parents=[common], help=cmd_run.__doc__, description=cmd_run.__doc__)
    run.add_argument("name", help="a sweep in search_spaces/ (see `sweeps list`)")
    run.add_argument("--trials", type=int, help="the study's trial budget (default: the file's `trials`)")
    run.add_argument("--epochs", type=int, help="override the fixed epochs (for quick runs)")
    run.add_argument("--repeats", type=int, help="seeds per configuration (default: the file's `repeats`, or 1)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override one fixed value, validated like the file (repeatable)")
    run.add_argument("--data-dir", type=Path, default=os.environ.get("SWEEPS_DATA_DIR"),
                     help="directory with data files in Keras's format (env SWEEPS_DATA_DIR)")
    run.add_argument("--tracking-uri", help="MLflow store (env MLFLOW_TRACKING_URI; default sqlite:///mlruns/mlflow.db)")
    run.add_argument("--storage", help="Optuna storage URL (default sqlite:///mlruns/optuna.db)")
    run.add_argument("--study", help="study name (default: the sweep's name, plus any overrides)")
    run.add_argument("--jobs", type=int, default=1, help="worker processes on this machine (TensorFlow's threads divided)")
    run.add_argument("--heartbeat", type=int, default=60, metavar="SECONDS",
                     help="a running trial's heartbeat; a worker silent for twice this is presumed dead (default 60)")
    run.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # started by --jobs
    run.add_argument("--threads", type=int, help=argparse.SUPPRESS)  # TensorFlow threads of a --jobs worker
    run.set_defaults(handler=cmd_run)

    listing = commands.add_parser("list", parents=[common], help=cmd_list.__doc__, description=cmd_list.__doc__)
    listing.set_defaults(handler=cmd_list)

    report = commands.add_parser("report", parents=[common], help=cmd_report.__doc__, description=cmd_report.__doc__)
    report.add_argument("names", nargs="+", metavar="NAME", help="one sweep, or several sharing a parameter")
    report.add_argument("--by", nargs="+", metavar="PARAM", help="parameters to group by (default: those the sweep varied)")
    report.add_argument("--format", choices=("table", "markdown", "csv"), default="table")
    report.add_argument("--where", help="an MLflow filter, e.g. \"params.activation = 'tanh'\"")
    report.add_argument("--study", help="a study of the sweep, or 'all' (default: the sweep's own, else the latest)")
    report.add_argument("--plots", type=Path, metavar="DIR", help="also write comparison plots into DIR")
    report.add_argument("--tracking-uri", help="MLflow store (env MLFLOW_TRACKING_URI; default sqlite:///mlruns/mlflow.db)")
    report.add_argument("--storage", help="Optuna storage, for Optuna's plots (default sqlite:///mlruns/optuna.db)")
    report.set_defaults(handler=cmd_report)

    ui = commands.add_parser("ui", parents=[common], help=cmd_ui.__doc__, description=cmd_ui.__doc__)
    ui.add_argument("--port", type=int, default=5000)
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    ui.add_argument("--tracking-uri", help="MLflow store (env MLFLOW_TRACKING_URI; default sqlite:///mlruns/mlflow.db)")
    ui.set_defaults(handler=cmd_ui)
    return parser


def cmd_list(args: argparse.Namespace) -> int:
    """List the named sweeps with their one-line descriptions."""
    files = sorted(_spaces_dir(args).glob("*.yaml"))
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
    _import_tensorflow(quietly=not args.debug)
    if args.threads:  # before TensorFlow starts its thread pools
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from pipelines._data import DataOptions
    from sweeps.runner import RunOptions, run_sweep
    from sweeps.spec import load_spec
    from sweeps.stores import Stores, mask
    from sweeps.workers import launch, threads_per_worker

    overrides = _parse_overrides(args.overrides)
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    spec = load_spec(_find_space(args), overrides, args.trials, args.repeats)
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


def cmd_report(args: argparse.Namespace) -> int:
    """Compare a sweep's trials by parameter: mean +- std, best, test metric, peak epoch, significance."""
    from sweeps import query, report
    from sweeps.plots import write_sweep_plots

    trials = query.runs(args.names, args.tracking_uri, args.where, args.study)
    if trials.empty:
        raise ConfigError(f"no trials of {', '.join(args.names)} match" + (f" --where {args.where!r}" if args.where else ""))
    for sweep, group in trials.groupby("sweep"):
        if group["study"].nunique() == 1 and args.study is None:
            print(f"{sweep}: study {group['study'].iloc[0]}, {len(group)} trial(s)", file=sys.stderr)
    by = args.by or _swept(args, args.names) or report.varied(trials)
    samples = query.samples(args.names, args.tracking_uri, args.where, args.study)
    curves = query.curves(args.names, args.tracking_uri, args.where, args.study)
    result = report.build(trials, samples, curves, by)
    print(result.render(args.format))
    if args.plots:
        study = _optuna_study(args, trials) if (trials["engine"] == "optuna").all() and len(args.names) == 1 else None
        for path in write_sweep_plots(trials, curves, by, result.metric, args.plots, study):
            print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


def cmd_ui(args: argparse.Namespace) -> int:
    """Start the MLflow UI on this project's store (Ctrl-C stops it)."""
    import subprocess

    from sweeps.stores import Stores, mask

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or Stores.resolve().tracking_uri
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", args.host, "--port", str(args.port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    print(f"MLflow UI for {mask(uri)} at http://{args.host}:{args.port} (Ctrl-C to stop)", flush=True)
    try:
        _, errors = server.communicate()
    except KeyboardInterrupt:
        server.terminate()
        server.wait(timeout=30)
        return EXIT_OK
    last = (errors or "").strip().splitlines()
    raise StoreError(f"the MLflow UI stopped (exit {server.returncode}): {last[-1] if last else 'no message'}")


def _swept(args: argparse.Namespace, names: Sequence[str]) -> list[str]:
    """The params the sweeps' search-space files vary, where those files are at hand."""
    swept: list[str] = []
    for name in names:
        path = _spaces_dir(args) / f"{name}.yaml"
        try:
            swept += list((yaml.safe_load(path.read_text()) or {}).get("params", {}))
        except (OSError, yaml.YAMLError, AttributeError):
            return []
    return list(dict.fromkeys(swept))


def _optuna_study(args: argparse.Namespace, trials: object) -> object:
    import optuna

    from sweeps.stores import Stores

    try:
        return optuna.load_study(study_name=trials["study"].iloc[0], storage=Stores.resolve(storage=args.storage).storage)
    except Exception:  # plots of the study are a bonus: the MLflow ones are written regardless
        return None


def _import_tensorflow(quietly: bool) -> None:
    """Import TensorFlow with its native start-up banners (oneDNN, CPU features) silenced.

    They are written straight to file descriptor 2 before TensorFlow's logging is set up, so
    ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them; a Python import error still surfaces normally.
    """
    if not quietly:
        import tensorflow  # noqa: F401
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


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


def _parse_overrides(items: Sequence[str]) -> dict[str, object]:
    overrides: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item}: expected KEY=VALUE, e.g. --set units=32")
        try:
            overrides[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"--set {item}: cannot read the value {value!r}") from None
    return overrides


def _spaces_dir(args: argparse.Namespace) -> Path:
    if args.spaces is not None:
        return args.spaces
    local = Path("search_spaces")
    return local if local.is_dir() else Path(__file__).resolve().parent.parent / "search_spaces"


def _find_space(args: argparse.Namespace) -> Path:
    name, directory = args.name, _spaces_dir(args)
    if "/" in name or "\\" in name or name.startswith("."):
        raise ConfigError(f"sweep name {name!r}: a name, not a path; sweeps live in {directory}/ as NAME.yaml")
    path = directory / f"{name.removesuffix('.yaml')}.yaml"
    if path.is_file():
        return path
    known = sorted(p.stem for p in directory.glob("*.yaml"))
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ConfigError(f"unknown sweep {name!r}{hint}; available: {', '.join(known) or f'none in {directory}'}")
