"""Loading the pipeline a sweep names, and checking it keeps the pipeline contract.

A pipeline is a module with ``HYPERPARAMETERS``, ``OBJECTIVES``, ``load_data(hp, options)`` and
``build_model(hp, dataset)``, optionally ``for_trial(dataset, hp)`` and
``fit(model, dataset, hp, callbacks)``. The contract is checked as
the module loads, so a broken pipeline is one line naming its file and the rule, before any
store is touched.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from sweeps.errors import PipelineError
from sweeps.spec.hyperparameters import TRAINING_KEYS, Hyperparameter

BUILTIN_PACKAGE = "pipelines"
DIRECTIONS = ("maximize", "minimize")
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


def builtin_names() -> list[str]:
    """The pipelines shipped with sweeps (private helper modules excluded)."""
    package = importlib.import_module(BUILTIN_PACKAGE)
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))


@cache
def load_pipeline(name: str) -> Pipeline:
    """Import the pipeline ``name`` and check the contract.

    Raises:
        PipelineError: no such pipeline, its import failed, or it breaks the contract; the
            message names the module's file and the rule.
    """
    if name not in builtin_names():
        raise PipelineError(f"unknown pipeline {name!r}; available: {', '.join(builtin_names())}")
    module = _import(f"{BUILTIN_PACKAGE}.{name}")
    return check(Pipeline(name, module, Path(module.__file__)))


def check(pipeline: Pipeline) -> Pipeline:
    """``pipeline`` if it keeps the contract.

    Raises:
        PipelineError: the first rule it breaks, with its file.
    """
    problem = _declarations_problem(pipeline.module) or _functions_problem(pipeline.module)
    if problem:
        raise PipelineError(f"pipeline {pipeline.name} ({pipeline.path}): {problem}")
    return pipeline


def _import(module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except Exception as error:  # the module's own code failed: say where
        frame = traceback.extract_tb(error.__traceback__)[-1]
        raise PipelineError(
            f"pipeline {module_name}: {frame.filename}:{frame.lineno}: importing it failed: {type(error).__name__}: {error}"
        ) from error


def _declarations_problem(module: ModuleType) -> str | None:
    declared = getattr(module, "HYPERPARAMETERS", None)
    if not isinstance(declared, dict) or not declared:
        return "HYPERPARAMETERS must be a dict of name -> Hyperparameter (see sweeps.pipeline)"
    wrong = [key for key, decl in declared.items() if not isinstance(key, str) or not isinstance(decl, Hyperparameter)]
    if wrong:
        return f"HYPERPARAMETERS[{wrong[0]!r}] must be a Hyperparameter (integer(), real(), choice(), ...)"
    missing = [key for key in TRAINING_KEYS if key not in declared]
    if missing:
        return f"HYPERPARAMETERS must declare {', '.join(missing)} (add **training(epochs=..., batch_size=...))"
    objectives = getattr(module, "OBJECTIVES", None)
    if not isinstance(objectives, dict) or not objectives:
        return "OBJECTIVES must be a dict of metric name -> 'maximize' or 'minimize'"
    wrong = [key for key, direction in objectives.items() if not isinstance(key, str) or direction not in DIRECTIONS]
    if wrong:
        return f"OBJECTIVES[{wrong[0]!r}] must be 'maximize' or 'minimize', got {objectives[wrong[0]]!r}"
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
