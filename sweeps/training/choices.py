"""Models that differ in their layers' activations or their loss, stepped as one model that
computes each copy's own.

A fused group on JAX compiles one epoch program (and one evaluation program) for its copies,
and compiling is most of a small sweep's time: IMDB's activation question paid a program per
activation, its 36-point grid one per activation and loss at every depth. Copies of models that
differ only there are stepped by one model in which each such layer computes every activation
among them and each copy keeps its own (a select, exact: the others' values are dropped and
their gradients are zeros), and whose loss computes each of the losses and keeps the copy's.

Only Keras's own activations and losses named by their strings are chosen this way, those whose
values and gradients stay finite on finite inputs (a dropped value's infinite gradient times
zero would spoil the kept one); models with several outputs keep their loss to themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras
import numpy as np
from keras.src.trainers.compile_utils import get_loss

from sweeps.spec.backend import tensorflow_unstarted

ACTIVATIONS = {
    "elu", "gelu", "hard_sigmoid", "hard_silu", "leaky_relu", "linear", "mish", "relu", "relu6",
    "selu", "sigmoid", "silu", "softplus", "softsign", "swish", "tanh",
}  # fmt: skip
LOSSES = {
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "mse",
    "mean_squared_error", "mae", "mean_absolute_error", "huber", "log_cosh", "hinge", "squared_hinge",
}  # fmt: skip
LOSS = "loss"  # the choice that is the model's loss, beside its layers' indices
_chosen: list[Any] = []  # the copy's choices being traced, innermost last


def choosable(config: dict[str, Any], key: str) -> bool:
    """Whether ``config``'s ``key`` (a Dense or Activation layer's ``activation``, a compile
    config's ``loss``) is a choice copies may differ in."""
    value = config.get(key)
    return isinstance(value, str) and value in (ACTIVATIONS if key == "activation" else LOSSES)


def choices_of(model: keras.Model) -> dict[Any, str]:
    """``model``'s choosable values: each layer's activation by its index, and its loss."""
    found: dict[Any, str] = {}
    for index, layer in enumerate(model.layers):
        config = layer.get_config() if type(layer) in (keras.layers.Dense, keras.layers.Activation) else {}
        if choosable(config, "activation"):
            found[index] = config["activation"]
    compiled = model.get_compile_config() or {}
    if len(model.outputs) == 1 and choosable(compiled, LOSS):
        found[LOSS] = compiled[LOSS]
    return found


def stepping(widest: keras.Model, models: Sequence[keras.Model], batch: tuple[Any, Any]) -> tuple[keras.Model, np.ndarray | None]:
    """The model that steps copies of ``models`` (one per copy, ``widest`` among them) and each
    copy's choice at every place where they differ (``None`` where they differ nowhere)."""
    each = [choices_of(model) for model in models]
    options = {place: sorted({c[place] for c in each}) for place in each[0] if len({c[place] for c in each}) > 1}
    if not options:
        return widest, None
    places = list(options)
    with tensorflow_unstarted():  # Keras's serializer asks whether TensorFlow is there, starting it
        model = type(widest).from_config(widest.get_config())  # clone_model would lose a sparse input
        compiled = keras.saving.deserialize_keras_object(widest.get_compile_config())
    for slot, place in enumerate(places):
        if place != LOSS:
            model.layers[place].activation = Chosen([keras.activations.get(name) for name in options[place]], slot)
    if LOSS in options:
        compiled[LOSS] = ChosenLoss(options[LOSS], places.index(LOSS))
    model.compile(**compiled)
    model._symbolic_build(data_batch=batch)
    model.reset_metrics()
    picked = np.array([[options[place].index(c[place]) for place in places] for c in each], np.int32)
    return model, picked


@contextlib.contextmanager
def choosing(choice: Any) -> Iterator[None]:
    """Trace the stepping model with ``choice`` (one copy's, under ``jax.vmap``) as its choices."""
    _chosen.append(choice)
    try:
        yield
    finally:
        _chosen.pop()


def per_copy(step: Callable[..., Any], picked: np.ndarray | None) -> Callable[..., Any]:
    """``step(state, data)`` for every copy at once (``jax.vmap``), each with its own choices."""
    import jax
    import jax.numpy as jnp

    if picked is None:
        return jax.vmap(step)

    def one(choice: Any, state: Any, data: Any) -> Any:
        with choosing(choice):
            return step(state, data)

    stepped = jax.vmap(one)
    return lambda state, data: stepped(jnp.asarray(picked), state, data)


def _select(slot: int, values: Sequence[Any]) -> Any:
    """The value of ``values`` the copy traced chose at ``slot`` (the first outside a fused step:
    building, or a model stepped alone)."""
    if not _chosen:
        return values[0]
    choice, kept = _chosen[-1][slot], values[0]
    for index, value in enumerate(values[1:], start=1):
        kept = keras.ops.where(choice == index, value, kept)
    return kept


class Chosen:
    """An activation that is each copy's own of ``functions``, by its choice at ``slot``."""

    def __init__(self, functions: Sequence[Callable[[Any], Any]], slot: int) -> None:
        self.functions, self.slot = list(functions), slot

    def __call__(self, x: Any) -> Any:
        return _select(self.slot, [function(x) for function in self.functions])


class ChosenLoss(keras.losses.Loss):
    """A loss that is each copy's own of the losses ``names``, by its choice at ``slot``; each
    computed as Keras's compile computes it, reduced as there."""

    def __init__(self, names: Sequence[str], slot: int) -> None:
        super().__init__(name="loss")
        self.names, self.slot = list(names), slot
        self._losses: list[Any] | None = None

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        if self._losses is None:
            self._losses = [get_loss(name, y_true, y_pred) for name in self.names]
        return _select(self.slot, [loss(y_true, y_pred, sample_weight) for loss in self._losses])
