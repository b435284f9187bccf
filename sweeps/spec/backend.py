"""Which Keras backend trains a sweep: chosen once per process, before keras is first imported.

Keras fixes its backend (JAX, TensorFlow or PyTorch) when it is imported, from
``KERAS_BACKEND``. The choice is, first to last: ``--backend``, the environment's
``KERAS_BACKEND`` (as Keras itself puts the environment above its config file), the sweep
file's ``backend:``, the pipeline's preferred one (the first of its ``BACKENDS``), TensorFlow.
Keras's own ``~/.keras/keras.json`` is not asked: Keras writes it with ``tensorflow`` on first
use, so it rarely says what anyone chose.

Nothing here imports keras or a framework at import time: cheap commands check a choice
without starting one.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sweeps.errors import ConfigError

BACKENDS = ("jax", "tensorflow", "torch")
KERAS_DEFAULT = "tensorflow"
_PACKAGES = {"jax": "jax", "tensorflow": "tensorflow", "torch": "torch"}  # backend -> the module it needs
_INSTALL = {"torch": "pip install 'keras-sweeps[torch]'", "jax": "pip install jax", "tensorflow": "pip install tensorflow-cpu"}


@dataclass(frozen=True)
class Choice:
    """The backend a sweep trains on, and what chose it (for the header)."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


def choose(given: str | None, in_file: str | None, pipeline_prefers: tuple[str, ...], pipeline: str) -> Choice:
    """The backend to train on, checked against the pipeline and what is installed.

    Args:
        given: ``--backend``, or None.
        in_file: the sweep file's ``backend:``, or None.
        pipeline_prefers: the pipeline's ``BACKENDS`` (empty: it did not say; any will do).
        pipeline: the pipeline's name, for messages.

    Raises:
        ConfigError: the choice is no backend, the pipeline does not support it, or its
            framework is not installed; the message says how to fix it.
    """
    environment = os.environ.get("KERAS_BACKEND") or None
    if given:
        choice = Choice(given, "--backend")
    elif environment:
        choice = Choice(environment, "KERAS_BACKEND")
    elif in_file:
        choice = Choice(in_file, "the sweep file's backend:")
    elif pipeline_prefers:
        choice = Choice(pipeline_prefers[0], f"pipeline {pipeline}'s default")
    else:
        choice = Choice(KERAS_DEFAULT, "Keras's default")
    return check(choice, pipeline_prefers, pipeline)


def check(choice: Choice, supported: tuple[str, ...], pipeline: str) -> Choice:
    """``choice``, if it names a backend the pipeline (``supported``: its ``BACKENDS``, empty for
    any) trains on and that is installed here.

    Raises:
        ConfigError: it is not; the message says how to fix it.
    """
    check_name(choice.name, choice.reason)
    if supported and choice.name not in supported:
        raise ConfigError(
            f"{choice.reason} {choice.name}: pipeline {pipeline} supports only {', '.join(supported)}; choose one of them"
        )
    if importlib.util.find_spec(_PACKAGES[choice.name]) is None:
        raise ConfigError(f"backend {choice.name} ({choice.reason}) is not installed here: {_INSTALL[choice.name]}")
    return choice


def check_name(name: str, where: str) -> None:
    """Raise ``ConfigError`` unless ``name`` is a Keras backend."""
    if name not in BACKENDS:
        raise ConfigError(f"{where}: {name!r} is not a Keras backend; use one of {', '.join(BACKENDS)}")


def apply(choice: Choice) -> None:
    """Make ``choice`` the backend keras will start with.

    Raises:
        ConfigError: keras was imported already (by a pipeline's module, say) on another backend.
    """
    keras = sys.modules.get("keras")
    if keras is not None and keras.backend.backend() != choice.name:
        raise ConfigError(
            f"keras was imported on {keras.backend.backend()} before backend {choice} could be chosen; "
            "import keras inside the pipeline's functions, not at its top"
        )
    os.environ["KERAS_BACKEND"] = choice.name


@contextmanager
def tensorflow_unstarted() -> Iterator[None]:
    """Keras, inside the block, takes TensorFlow for absent unless it is running already.

    Keras asks whether TensorFlow is installed, importing it (about 6 s), wherever it might use
    it: to seed it too, to ask whether an object being saved is one of its types. On JAX or
    PyTorch nothing of a sweep needs it (its feeds are numpy), and no object can be of a type of
    a TensorFlow that was never imported; a pipeline that uses TensorFlow has started it already.
    """
    from keras.src.utils import module_utils

    lazy = module_utils.tensorflow
    if "tensorflow" in sys.modules or lazy._available is not None:
        yield
        return
    lazy._available = False
    try:
        yield
    finally:
        lazy._available = None
