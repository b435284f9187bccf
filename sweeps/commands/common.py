"""What the commands share: options several of them take, reading overrides, importing TensorFlow."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sweeps.defaults import CONNECT_TIMEOUT, STORE_ROOT, STUDY_FILE, TRACKING_FILE
from sweeps.errors import ConfigError
from sweeps.logs import native_stderr_silenced
from sweeps.spec.yaml_file import parse


def add_command(commands: Any, common: argparse.ArgumentParser, name: str, handler: Any) -> argparse.ArgumentParser:
    """The parser of the command ``name``, run by ``handler``: its one-line help is the first line
    of the handler's docstring, its ``--help`` the whole docstring, and it takes ``common``'s options."""
    parser = commands.add_parser(name, parents=[common], help=handler.__doc__.splitlines()[0], description=handler.__doc__)
    parser.set_defaults(handler=handler)
    return parser


def add_store_options(parser: argparse.ArgumentParser, reads_studies: bool = True, artifacts: bool = False) -> None:
    """``--tracking-uri``, ``--storage``, ``--connect-timeout`` (and ``--artifact-location``): where
    the records are. Every command that reads a store takes all three, so one set of store options
    works for every command; one that reads only MLflow (not ``reads_studies``) says so."""
    parser.add_argument(
        "--tracking-uri",
        help="MLflow store: a database URL or a tracking server's http(s) URL "
        f"(env MLFLOW_TRACKING_URI; default sqlite:///{STORE_ROOT / TRACKING_FILE})",
    )
    parser.add_argument(
        "--storage",
        help="Optuna storage: a database URL or grpc://HOST:PORT of `sweeps server --optuna-proxy` "
        f"(env SWEEPS_STORAGE; default sqlite:///{STORE_ROOT / STUDY_FILE})"
        + ("" if reads_studies else "; taken for a uniform command line, this command reads only the MLflow store"),
    )
    parser.add_argument(
        "--connect-timeout",
        type=positive_seconds,
        default=CONNECT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long a store's server gets to answer (default {CONNECT_TIMEOUT:g})",
    )
    if artifacts:
        parser.add_argument(
            "--artifact-location",
            metavar="URI",
            help="where a new experiment's artifacts go (default: beside a sqlite store, or the tracking server's)",
        )


def port_number(text: str) -> int:
    """A TCP port, 1-65535 (an argparse type: anything else is a one-line usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number 1-65535, got {text[:40]!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 1-65535, got {value}")
    return value


def positive_seconds(text: str) -> float:
    """A number of seconds > 0 (an argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:  # (nan too)
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text[:40]!r}")
    return value


def existing_directory(text: str) -> Path:
    """A directory that exists (an argparse type)."""
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text[:200]}: {'not a directory' if path.exists() else 'no such directory'}")
    return path


def check_readable(args: argparse.Namespace, reads_studies: bool = True) -> None:
    """Refuse, within ``--connect-timeout``, a store server a reading command cannot reach (a
    local sqlite store that does not exist yet is the command's own business).

    Raises:
        ConfigError: a URL of a kind its store cannot open.
        StoreError: the server does not answer.
    """
    from sweeps.tracking.stores import Stores

    Stores.resolve(args.tracking_uri, args.storage).check(args.connect_timeout, reading=True, studies=reads_studies)


def add_project_options(parser: argparse.ArgumentParser, existing: bool = True) -> None:
    """``--project DIR`` and ``--spaces DIR``: where a project's sweeps and pipelines are (directories
    that must exist, unless ``existing`` is false: ``init`` makes them)."""
    directory = existing_directory if existing else Path
    parser.add_argument(
        "--project",
        type=directory,
        default=None,
        metavar="DIR",
        help="the project: its search_spaces/*.yaml add to the built-in sweeps, its pipelines/ to the built-in "
        "pipelines (env SWEEPS_PROJECT; default: this directory)",
    )
    parser.add_argument(
        "--spaces",
        type=directory,
        default=None,
        metavar="DIR",
        help="the project's search-space directory, if not PROJECT/search_spaces",
    )


def add_data_dir_option(parser: argparse.ArgumentParser) -> None:
    """``--data-dir DIR`` (env ``SWEEPS_DATA_DIR``) and ``--generated-data``."""
    parser.add_argument("--data-dir", type=Path, help="directory with data files in Keras's format (env SWEEPS_DATA_DIR)")
    parser.add_argument("--generated-data", action="store_true", help="train on the labelled generated sample, not real data")


def data_options(args: argparse.Namespace, cache_dir: Path | None) -> Any:
    """Where the data comes from, as the options and ``SWEEPS_DATA_DIR`` say.

    Raises:
        ConfigError: the data directory named is not a directory (the message names how it was named).
    """
    from sweeps.data.sources import DataOptions

    directory, named_by = args.data_dir, "--data-dir"
    if directory is None and os.environ.get("SWEEPS_DATA_DIR"):
        directory, named_by = Path(os.environ["SWEEPS_DATA_DIR"]), "SWEEPS_DATA_DIR="
    if directory is not None and not directory.is_dir():
        raise ConfigError(f"{named_by}{'' if named_by.endswith('=') else ' '}{directory}: not a directory")
    return DataOptions(directory, cache_dir, args.generated_data, named_by.rstrip("="))


def parse_overrides(items: Sequence[str]) -> dict[str, object]:
    """``--set KEY=VALUE`` items as a dict, each value read as YAML (``units=32`` is an int).

    Raises:
        ConfigError: an item is not ``KEY=VALUE`` or its value is not valid YAML.
    """
    overrides: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item[:80]}: expected KEY=VALUE, e.g. --set units=32")
        overrides[key.strip()] = parse(value, f"--set {item[:80]}")
    return overrides


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    """``--backend NAME``: the Keras backend to train on."""
    from sweeps.spec.backend import BACKENDS

    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="the Keras backend to train on (default: KERAS_BACKEND, else the sweep file's backend:, "
        "else the pipeline's preferred one)",
    )


def start_backend(args: argparse.Namespace, specs: Sequence[Any], compiled: Path | None = None) -> Any:
    """Choose the backend ``specs`` train on (one per process: a night's sweeps share it), make it
    Keras's and start its framework (JAX keeping what it compiles in ``compiled``); the choice,
    for the header.

    Raises:
        ConfigError: no backend suits every spec's pipeline, or it is not installed.
    """
    from sweeps.spec.backend import apply, check, choose

    first = specs[0]
    choice = choose(args.backend, first.backend, first.pipeline.backends, first.pipeline.name)
    for spec in specs[1:]:  # the first sweep's choice, where every other pipeline supports it
        check(choice, spec.pipeline.backends, spec.pipeline.name)
    apply(choice)
    import_backend(choice.name, quietly=not args.debug, threads=getattr(args, "threads", None), compiled=compiled)
    return choice


def import_backend(backend: str, quietly: bool, threads: int | None = None, compiled: Path | None = None) -> None:
    """Start the framework of Keras's ``backend`` (chosen already: ``sweeps.spec.backend``), its
    native start-up banners silenced, with ``threads`` threads if given (before its thread pools
    start). A Python import error still surfaces.

    TensorFlow is started only where it is the backend: JAX's fused fits and its feeds need
    none of it (keras-tuner imports it itself). ``compiled`` is where JAX keeps the programs it
    compiles, across processes.
    """
    if backend == "jax":
        if threads == 1:  # XLA's CPU client takes no thread count, only "one" (a --jobs worker per core)
            os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_cpu_multi_thread_eigen=false " + (
                "intra_op_parallelism_threads=1"
            )
        import jax

        if compiled is not None and jax.config.jax_compilation_cache_dir is None:  # once per process
            # The same model compiled again (a resume, the next night) is read back.
            jax.config.update("jax_compilation_cache_dir", str(compiled.absolute()))
            # JAX keeps only what took a second to compile; one small model's epoch takes about 0.8 s.
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    elif backend == "torch":
        import torch

        if threads:
            torch.set_num_threads(threads)
    else:
        import_tensorflow(quietly, threads)


def import_tensorflow(quietly: bool, threads: int | None = None) -> None:
    """Import TensorFlow with its native start-up banners (oneDNN, CPU features) silenced, and
    with ``threads`` intra-op threads if given (before TensorFlow starts its thread pools).
    A Python import error still surfaces."""
    if quietly:
        with native_stderr_silenced():
            import tensorflow  # noqa: F401
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
