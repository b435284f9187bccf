"""Models that differ only in their hidden Dense layers' widths, stepped as copies of the widest.

A fused set on JAX compiles one epoch program per group of copies (``sweeps.training.fused_jax``),
and a program per model shape is most of a small sweep's time: ``boston_kfold``'s 6 shapes cost
12 epoch programs, IMDB's width grid one per width. A Dense layer of 16 units is a Dense layer
of 64 whose other 48 units have zero weights in and out. With an activation that is 0 at 0
(relu, tanh, linear, elu, ...) those units put out exactly 0, so the layer after them adds
nothing for them; their weights' gradients are exactly 0, and every Keras optimizer leaves a
weight of 0 with a gradient of 0 at 0. So each narrower copy's weights sit in the leading
corner of the widest model's, the rest zero, and its numbers are its own: the products it
computes are its own, with zeros added (within the fused loop's float tolerance of the copy
trained alone, where a matrix product sums in another order).

What would see the padding keeps models apart: dropout on a widened layer (its random mask
depends on the width), layers other than Dense and Activation on a widened tensor
(normalization across units, concatenation), constraints and regularizers other than L1/L2, an
activation that is not 0 at 0 (sigmoid), models that are not Keras's functional or Sequential
ones (a subclass's config does not say what it computes), and anything else in the configs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import keras
import numpy as np
from keras.src.models.functional import Functional

from sweeps.spec.backend import tensorflow_unstarted
from sweeps.training.choices import LOSS, choosable

Copy = TypeVar("Copy")
_PENALTIES = (type(None), keras.regularizers.L1, keras.regularizers.L2, keras.regularizers.L1L2)


def merged(
    buckets: Sequence[Sequence[Copy]], model_of: Callable[[Copy], keras.Model], key: Callable[[Copy], Hashable]
) -> list[tuple[list[Copy], keras.Model]]:
    """``buckets`` of copies of one model shape each, merged where their models differ only in
    hidden widths and ``key`` (what else a group shares: rows, batch size) is equal; each merged
    bucket with the model that steps it, the widest."""
    families: dict[Hashable, list[Sequence[Copy]]] = {}
    for bucket in buckets:
        family = signature(model_of(bucket[0]))
        families.setdefault((key(bucket[0]), family) if family else id(bucket), []).append(bucket)
    found = []
    for family in families.values():
        widest = max((model_of(bucket[0]) for bucket in family), key=lambda model: model.count_params())
        fitting = [bucket for bucket in family if fits(model_of(bucket[0]), widest)]
        if fitting:
            found.append(([copy for bucket in fitting for copy in bucket], widest))
        found += [(list(bucket), model_of(bucket[0])) for bucket in family if not any(bucket is b for b in fitting)]
    return found


def signature(model: keras.Model) -> str | None:
    """What must be equal for models to be stepped as one (``None``: a model stepped alone): its
    layers' and compile configs, less the widths of Dense layers and the shapes they set, and
    less the activations and loss each copy may choose (``sweeps.training.choices``)."""
    if type(model) not in (Functional, keras.Sequential):
        return None
    try:
        with tensorflow_unstarted():  # Keras's serializer asks whether TensorFlow is there, starting it
            compiled = model.get_compile_config() or {}
            config = {"model": model.get_config(), "compiled": compiled}
    except Exception:  # a layer or loss that cannot say its config
        return None
    if len(model.outputs) == 1 and choosable(compiled, LOSS):  # each copy's own (sweeps.training.choices)
        config["compiled"] = {key: value for key, value in compiled.items() if key != LOSS}
    return json.dumps(_without_widths(config), sort_keys=True, default=repr)


def fits(model: keras.Model, widest: keras.Model) -> bool:
    """Whether ``model``'s copies can be stepped as ``widest``'s, with zeros where it is narrower."""
    if model is widest:
        return True
    if not _within(_shapes(model), _shapes(widest)):
        return False
    if [tuple(t.shape) for t in model.outputs] != [tuple(t.shape) for t in widest.outputs]:
        return False
    try:
        return all(_widenable(own, wide) for own, wide in zip(model.layers, widest.layers, strict=True))
    except (AttributeError, ValueError):  # a layer called more than once has no one input
        return False


def widened(values: Sequence[Any], shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """Each of ``values`` in the leading corner of zeros of its shape in ``shapes``."""
    found = []
    for value, shape in zip(values, shapes, strict=True):
        value = np.asarray(value)
        if value.shape != tuple(shape):
            value = np.pad(value, [(0, wide - own) for own, wide in zip(value.shape, shape, strict=True)])
        found.append(value)
    return found


def corner(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The leading corner of ``value`` of ``shape``: a narrower copy's own weights."""
    return value[tuple(slice(0, size) for size in shape)]


def state_of(model: keras.Model) -> tuple[list[Any], ...]:
    """The variables a fused copy steps: trainable, non-trainable, the optimizer's, the metrics'."""
    return model.trainable_variables, model.non_trainable_variables, model.optimizer.variables, model.metrics_variables


def _shapes(model: keras.Model) -> list[tuple[int, ...]]:
    return [tuple(v.shape) for part in state_of(model) for v in part]


def _within(ours: list[tuple[int, ...]], theirs: list[tuple[int, ...]]) -> bool:
    """Whether every shape of ``ours`` is no larger along any axis than its match in ``theirs``."""
    if len(ours) != len(theirs):
        return False
    return all(len(a) == len(b) and all(x <= y for x, y in zip(a, b, strict=True)) for a, b in zip(ours, theirs, strict=True))


def _widenable(own: Any, wide: Any) -> bool:
    """Whether layer ``own`` computes its own numbers as ``wide`` with zeros added."""
    inputs_differ = _tensor_shapes(own.input) != _tensor_shapes(wide.input)
    outputs_differ = _tensor_shapes(own.output) != _tensor_shapes(wide.output)
    if not (inputs_differ or outputs_differ):
        return True
    if type(own) is keras.layers.Activation:
        return _zero_at_zero(own.activation)
    if type(own) is not keras.layers.Dense or own.kernel_constraint or own.bias_constraint or own.lora_enabled:
        return False
    if own.quantization_mode is not None or not all(
        type(penalty) in _PENALTIES for penalty in (own.kernel_regularizer, own.bias_regularizer, own.activity_regularizer)
    ):
        return False
    return not outputs_differ or _zero_at_zero(own.activation)


def _tensor_shapes(tensors: Any) -> list[tuple[Any, ...]]:
    return [tuple(t.shape) for t in keras.tree.flatten(tensors)]


_ZERO: dict[Any, bool] = {}


def _zero_at_zero(activation: Callable[[Any], Any]) -> bool:
    """Whether ``activation`` maps 0 to exactly 0 (so a unit without weights puts out nothing)."""
    if activation not in _ZERO:
        _ZERO[activation] = bool(np.asarray(activation(np.zeros(1, np.float32)))[0] == 0.0)
    return _ZERO[activation]


def _without_widths(config: Any) -> Any:
    """``config`` without Dense layers' ``units``, Dense and Activation layers' choosable
    activations, layers' build shapes and tensors' shapes."""
    if isinstance(config, (list, tuple)):
        return [_without_widths(item) for item in config]
    if not isinstance(config, dict):
        return config
    dropped = {"build_config"}
    if config.get("class_name") in ("Dense", "Activation"):  # widths, and activations each copy chooses
        inner = config["config"]
        kept = {k: v for k, v in inner.items() if k != "units" and not (k == "activation" and choosable(inner, k))}
        config = {**config, "config": kept}
    if config.get("class_name") == "__keras_tensor__":
        config = {**config, "config": {k: v for k, v in config["config"].items() if k != "shape"}}
    return {key: _without_widths(value) for key, value in config.items() if key not in dropped}
