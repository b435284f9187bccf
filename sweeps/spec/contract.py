"""Loading the pipeline a sweep names, and checking it keeps the pipeline contract.

A search space's ``pipeline:`` is one of

- a ``.py`` file, relative to the search-space file (``./churn.py``, ``../pipelines/churn.py``);
- a dotted module path (``mypkg.tasks.churn``), imported with the project directory on the path;
- a name: the project's ``pipelines/<name>.py`` if there is one, else a built-in pipeline.

A pipeline is a module with ``HYPERPARAMETERS``, ``OBJECTIVES``, ``load_data(hp, options)`` and
``build_model(hp, dataset)``, optionally ``for_trial(dataset, hp)`` and
``fit(model, dataset, hp, callbacks)``, and ``BACKENDS``, the Keras backends it trains on
(``sweeps.pipeline`` documents it). The contract is
checked as the module loads, so a broken pipeline is one line naming its file and the rule,
before any store is touched.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import pkgutil
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from sweeps.errors import PipelineError, first_line, shown
from sweeps.spec.backend import BACKENDS
from sweeps.spec.catalog import project_dir
from sweeps.spec.hyperparameters import TRAINING_KEYS, Hyperparameter
from sweeps.spec.objective import DIRECTIONS

BUILTIN_PACKAGE = "sweeps.pipelines"
# name -> the parameters it must accept, in order; required or optional
_FUNCTIONS = {
    "load_data": (("hp", "options"), True),
    "build_model": (("hp", "dataset"), True),
    "for_trial": (("dataset", "hp"), False),
    "fit": (("model", "dataset", "hp", "callbacks"), False),
}


@dataclass(frozen=True, eq=False)
class Pipeline:
    """A pipeline module that keeps the contract, and where it came from."""

    name: str  # as the search space names it
    module: ModuleType
    path: Path  # its file, for messages

    @property
    def hyperparameters(self) -> Mapping[str, Hyperparameter]:
        return self.module.HYPERPARAMETERS

    @property
    def objectives(self) -> Mapping[str, str]:
        return self.module.OBJECTIVES

    @property
    def data_keys(self) -> list[str]:
        """The hyperparameters that change the loaded dataset (the rest only change the model)."""
        return sorted(key for key, decl in self.hyperparameters.items() if decl.affects_data)

    @property
    def fuses(self) -> bool:
        """Whether a trial's several fits may train fused (``FUSE = False`` opts out, e.g. for a
        model with state outside its weights)."""
        return getattr(self.module, "FUSE", True)

    @property
    def backends(self) -> tuple[str, ...]:
        """The Keras backends the pipeline trains on, its preferred first (empty: it did not say, any)."""
        return tuple(getattr(self.module, "BACKENDS", ()))

    @property
    def custom_fit(self) -> Callable[..., Any] | None:
        """The pipeline's own training loop, if it has one."""
        return getattr(self.module, "fit", None)

    def load_data(self, hp: Mapping[str, Any], options: Any) -> Any:
        return self.module.load_data(hp, options)

    def build_model(self, hp: Mapping[str, Any], dataset: Any) -> Any:
        return self.module.build_model(hp, dataset)

    def for_trial(self, dataset: Any, hp: Mapping[str, Any]) -> Any:
        """The pipeline's per-trial view of the data (e.g. one-hot labels), if it has one."""
        view = getattr(self.module, "for_trial", None)
        return dataset if view is None else view(dataset, hp)

    def where(self, error: BaseException) -> str:
        """``file:line`` of the deepest frame of ``error``'s traceback inside this pipeline's file."""
        frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename) == self.path]
        return f"{self.path}:{frames[-1].lineno}" if frames else str(self.path)


def builtin_dir() -> Path:
    """The directory of the pipelines shipped with sweeps."""
    return Path(next(iter(importlib.import_module(BUILTIN_PACKAGE).__path__))).resolve()


def builtin_names() -> list[str]:
    """The pipelines shipped with sweeps (private helper modules excluded)."""
    return sorted(m.name for m in pkgutil.iter_modules([str(builtin_dir())]) if not m.name.startswith("_"))


@cache
def load_pipeline(reference: str, base: Path | None = None, project: Path | None = None) -> Pipeline:
    """Import the pipeline ``reference`` names and check the contract.

    Args:
        reference: a ``.py`` path, a dotted module path or a name (see the module docstring).
        base: the directory ``.py`` paths are relative to (the search-space file's).
        project: the project directory (default: the working directory).

    Raises:
        PipelineError: no such pipeline, its import failed, or it breaks the contract; the
            message names the module's file and the rule.
    """
    project = project_dir(project)
    if reference.endswith(".py") or "/" in reference or "\\" in reference:
        return check(_from_file(reference, Path(base or ".") / reference))
    if "." in reference:
        if str(project.resolve()) not in sys.path:
            sys.path.insert(0, str(project.resolve()))  # as `python -m` does for the working directory
        module = _import(reference)
        return check(Pipeline(reference, module, Path(module.__file__ or reference)))
    local = project / "pipelines" / f"{reference}.py"
    if local.is_file() and local.resolve().parent != builtin_dir():  # (in sweeps' own repository they are one)
        return check(_from_file(reference, local))
    if reference not in builtin_names():
        known = sorted({*builtin_names(), *(p.stem for p in (project / "pipelines").glob("[!_]*.py"))})
        raise PipelineError(f"unknown pipeline {reference!r}; available: {', '.join(known)}")
    module = _import(f"{BUILTIN_PACKAGE}.{reference}")
    return check(Pipeline(reference, module, Path(module.__file__)))


def check(pipeline: Pipeline) -> Pipeline:
    """``pipeline`` if it keeps the contract.

    Raises:
        PipelineError: the first rule it breaks, with its file.
    """
    problem = _declarations_problem(pipeline.module) or _functions_problem(pipeline.module)
    if problem:
        raise PipelineError(f"pipeline {pipeline.name} ({pipeline.path}): {problem}")
    return pipeline


def _from_file(reference: str, path: Path) -> Pipeline:
    """The module in the file ``path``, imported under a name of its own, its directory on the
    path so it can import the modules beside it (as ``python path/to/file.py`` would)."""
    path = path.resolve()
    if not path.is_file():
        raise PipelineError(f"pipeline {reference}: no such file {path}")
    name = f"_sweeps_pipeline_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    if name not in sys.modules:
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            _run(reference, lambda: spec.loader.exec_module(module))
        except PipelineError:
            del sys.modules[name]
            raise
    return Pipeline(reference, sys.modules[name], path)


def _import(module_name: str) -> ModuleType:
    return _run(module_name, lambda: importlib.import_module(module_name))


def _run(reference: str, load: Callable[[], Any]) -> Any:
    """``load()``; an exception raised by the module's own code is a ``PipelineError`` saying where."""
    try:
        return load()
    except ModuleNotFoundError as error:
        if error.name and reference.startswith(error.name):
            raise PipelineError(f"pipeline {reference}: no module named {error.name!r}") from None
        raise PipelineError(f"pipeline {reference}: importing it failed: {first_line(error)}") from error
    except Exception as error:  # the module's own code failed: say where
        frame = traceback.extract_tb(error.__traceback__)[-1]
        where = f"{error.filename}:{error.lineno}" if isinstance(error, SyntaxError) else f"{frame.filename}:{frame.lineno}"
        raise PipelineError(f"pipeline {reference}: {where}: importing it failed: {first_line(error)}") from error


def _declarations_problem(module: ModuleType) -> str | None:
    declared = getattr(module, "HYPERPARAMETERS", None)
    if not isinstance(declared, dict) or not declared:
        return "HYPERPARAMETERS must be a dict of name -> Hyperparameter (see sweeps.pipeline)"
    wrong = [key for key, decl in declared.items() if not isinstance(key, str) or not isinstance(decl, Hyperparameter)]
    if wrong:
        return f"HYPERPARAMETERS[{wrong[0]!r}] must be a Hyperparameter (integer(), real(), choice(), ...)"
    for key, decl in declared.items():  # a default that breaks its own rule would fail every trial that keeps it
        if decl.check(decl.default) is not None:
            return f"HYPERPARAMETERS[{key!r}]: the default {shown(decl.default)} breaks its own rule ({decl.rule()})"
    missing = [key for key in TRAINING_KEYS if key not in declared]
    if missing:
        return f"HYPERPARAMETERS must declare {', '.join(missing)} (add **training(epochs=..., batch_size=...))"
    objectives = getattr(module, "OBJECTIVES", None)
    if not isinstance(objectives, dict) or not objectives:
        return "OBJECTIVES must be a dict of metric name -> 'maximize' or 'minimize'"
    wrong = [key for key, direction in objectives.items() if not isinstance(key, str) or direction not in DIRECTIONS]
    if wrong:
        return f"OBJECTIVES[{wrong[0]!r}] must be 'maximize' or 'minimize', got {objectives[wrong[0]]!r}"
    if not isinstance(getattr(module, "FUSE", True), bool):
        return f"FUSE must be True or False, got {module.FUSE!r}"
    backends = getattr(module, "BACKENDS", ("jax",))
    if not isinstance(backends, tuple | list) or not backends or any(name not in BACKENDS for name in backends):
        return f"BACKENDS must be a tuple of Keras backends ({', '.join(BACKENDS)}), preferred first; got {backends!r}"
    return None


def _functions_problem(module: ModuleType) -> str | None:
    for name, (parameters, required) in _FUNCTIONS.items():
        function = getattr(module, name, None)
        if function is None and not required:
            continue
        usage = f"{name}({', '.join(parameters)})"
        if not callable(function):
            return f"must define a function {usage}"
        try:
            inspect.signature(function).bind(*parameters)
        except TypeError:
            return f"{name} must accept ({', '.join(parameters)}), got {name}{inspect.signature(function)}"
        except ValueError:  # a builtin without a signature: cannot tell, trust it
            continue
    return None
