"""The hyperparameter vocabulary a pipeline accepts, declared as data.

Each pipeline module exposes ``HYPERPARAMETERS: dict[str, Hyperparameter]``. A declaration
holds the default (the tutorial's recipe) and checks a value itself, so a search-space file
is validated against exactly what the pipeline understands, before anything is trained.
``training()`` is the vocabulary every pipeline must declare (the runner reads it);
``dense_stack()`` the one shared by the Dense-network tutorials.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sweeps.errors import shown

#: The training-loop hyperparameters every pipeline declares: the runner reads them.
TRAINING_KEYS = ("epochs", "batch_size", "early_stopping_patience", "seed")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu")
OPTIMIZERS = ("rmsprop", "adam", "adamw", "sgd", "adagrad", "adadelta", "nadam")


@dataclass(frozen=True)
class Hyperparameter:
    """One accepted hyperparameter: its kind, bounds or choices, and default.

    Attributes:
        kind: ``"int"``, ``"float"``, ``"choice"``, ``"bool"`` or ``"text"``.
        default: the value used when neither ``fixed`` nor ``params`` sets it.
        low, high: inclusive bounds for numbers (``None`` = unbounded).
        high_exclusive: the upper bound itself is not allowed (dropout < 1).
        choices: allowed values for ``"choice"``.
        affects_data: changing it changes the encoded dataset, not just the model.
        help: one line shown in error messages and docs.
    """

    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    high_exclusive: bool = False
    choices: tuple[Any, ...] = ()
    affects_data: bool = False
    help: str = ""

    def check(self, value: Any) -> str | None:
        """Return the rule ``value`` breaks, or ``None`` when it is acceptable."""
        if self.kind == "choice":
            return None if value in self.choices else f"must be one of {', '.join(map(str, self.choices))}, got {shown(value)}"
        if self.kind == "bool":
            return None if isinstance(value, bool) else f"must be true or false, got {shown(value)}"
        if self.kind == "text":
            return None if isinstance(value, str) and value else f"must be a non-empty string, got {shown(value)}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {shown(value)}"
        if not math.isfinite(value):
            return f"must be a finite number, got {value}"
        if self.kind == "int" and not float(value).is_integer():
            return f"must be an integer, got {shown(value)}"
        if self.low is not None and value < self.low:
            return f"must be >= {self.low}, got {shown(value)}"
        if self.high is not None and (value >= self.high if self.high_exclusive else value > self.high):
            return f"must be {'<' if self.high_exclusive else '<='} {self.high}, got {shown(value)}"
        return None

    def rule(self) -> str:
        """The rule a value must keep, in words (for tables and help)."""
        if self.kind == "choice":
            return f"one of {', '.join(map(str, self.choices))}"
        if self.kind in ("bool", "text"):
            return {"bool": "true or false", "text": "a string"}[self.kind]
        noun = "integer" if self.kind == "int" else "number"
        if self.high is None:
            return f"{noun} >= {self.low}" if self.low is not None else noun
        return f"{noun} {self.low} .. {self.high}{' (exclusive)' if self.high_exclusive else ''}"

    def coerce(self, value: Any) -> Any:
        """Return ``value`` in this declaration's Python type (YAML's 1 for a float is 1.0)."""
        if self.kind == "int":
            return int(value)
        if self.kind == "float":
            return float(value)
        return value


def integer(default: int, low: int = 1, high: int | None = None, **kw: Any) -> Hyperparameter:
    """An integer hyperparameter, ``low <= value <= high``."""
    return Hyperparameter("int", default, low=low, high=high, **kw)


def real(default: float, low: float = 0.0, high: float | None = None, **kw: Any) -> Hyperparameter:
    """A float hyperparameter, ``low <= value <= high`` (or ``< high`` with high_exclusive)."""
    return Hyperparameter("float", default, low=low, high=high, **kw)


def boolean(default: bool, **kw: Any) -> Hyperparameter:
    """A hyperparameter that is true or false."""
    return Hyperparameter("bool", default, **kw)


def text(default: str, **kw: Any) -> Hyperparameter:
    """A hyperparameter that is a string (a column name, a file name)."""
    return Hyperparameter("text", default, **kw)


def choice(default: Any, choices: tuple[Any, ...], **kw: Any) -> Hyperparameter:
    """A hyperparameter taking one of ``choices``."""
    return Hyperparameter("choice", default, choices=choices, **kw)


def training(epochs: int, batch_size: int) -> dict[str, Hyperparameter]:
    """The training-loop vocabulary every pipeline accepts, with the tutorial's defaults."""
    return {
        "epochs": integer(epochs, high=10_000, help="training epochs (the trial's budget)"),
        "batch_size": integer(batch_size, high=1_000_000, help="samples per gradient step"),
        "early_stopping_patience": integer(
            0, low=0, high=10_000, help="stop after this many epochs without improvement; 0 = off"
        ),
        "seed": integer(0, low=0, high=2**31 - 1, help="seed for weights and shuffling"),
    }


def optimization(loss: str, losses: tuple[str, ...]) -> dict[str, Hyperparameter]:
    """Loss (from the ones that fit the task's output), optimizer and learning rate."""
    return {
        "loss": choice(loss, losses, help="training loss"),
        "optimizer": choice("rmsprop", OPTIMIZERS, help="optimizer"),
        "learning_rate": real(1e-3, low=1e-12, high=10.0, help="optimizer learning rate"),
    }


def dense_stack(layers: int, units: int, loss: str, losses: tuple[str, ...]) -> dict[str, Hyperparameter]:
    """The shared Dense-stack vocabulary (``sweeps.training.dense`` builds it) with a task's defaults and losses."""
    return {
        "layers": integer(layers, high=32, help="hidden Dense layers"),
        "units": integer(units, high=65_536, help="units per hidden layer"),
        "activation": choice("relu", ACTIVATIONS, help="hidden-layer activation"),
        "dropout": real(0.0, high=1.0, high_exclusive=True, help="dropout after each hidden layer"),
        "l1": real(0.0, help="L1 weight penalty on hidden layers"),
        "l2": real(0.0, help="L2 weight penalty on hidden layers"),
        **optimization(loss, losses),
    }


def split(validation_samples: int) -> dict[str, Hyperparameter]:
    """How many training rows to hold out for validation (a data setting)."""
    return {"validation_samples": integer(validation_samples, affects_data=True, help="training rows held out for validation")}


#: Losses for a softmax output: one-hot labels, or integer labels with the sparse variant.
CLASSIFICATION_LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy")
