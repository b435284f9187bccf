"""The shared Dense-stack vocabulary (``sweeps.spec.hyperparameters.dense_stack``) turned into
Keras layers, optimizers and a compiled model.

Keras is imported inside each function, so a pipeline written with these helpers can be loaded
and its sweep file checked without starting TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras


def multi_hot_input(width: int, name: str) -> Any:
    """The input of a model of multi-hot rows: sparse where the backend takes sparse batches
    (TensorFlow, JAX), dense on PyTorch (whose batches are made dense)."""
    import keras

    return keras.Input(shape=(width,), sparse=keras.backend.backend() != "torch", name=name)


def hidden_layers(x: Any, hp: Mapping[str, Any]) -> Any:
    """Apply ``layers`` x Dense(``units``, ``activation``) with optional L1/L2 and dropout."""
    import keras

    for index in range(hp["layers"]):
        x = keras.layers.Dense(
            hp["units"], activation=hp["activation"], kernel_regularizer=regularizer(hp), name=f"hidden_{index + 1}"
        )(x)
        if hp["dropout"] > 0:
            x = keras.layers.Dropout(hp["dropout"], name=f"dropout_{index + 1}")(x)
    return x


def regularizer(hp: Mapping[str, Any]) -> keras.regularizers.Regularizer | None:
    """L1, L2 or both from ``l1`` / ``l2`` (None when both are zero)."""
    import keras

    if hp["l1"] and hp["l2"]:
        return keras.regularizers.L1L2(l1=hp["l1"], l2=hp["l2"])
    if hp["l1"]:
        return keras.regularizers.L1(hp["l1"])
    if hp["l2"]:
        return keras.regularizers.L2(hp["l2"])
    return None


def optimizer(hp: Mapping[str, Any]) -> keras.optimizers.Optimizer:
    """A fresh optimizer named by ``optimizer`` with ``learning_rate``."""
    import keras

    return keras.optimizers.get({"class_name": hp["optimizer"], "config": {"learning_rate": hp["learning_rate"]}})


def accuracy(loss: str) -> keras.metrics.Metric:
    """An ``accuracy`` metric matching how the labels are encoded for ``loss``."""
    import keras

    if loss == "sparse_categorical_crossentropy":
        return keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    if loss == "categorical_crossentropy":
        return keras.metrics.CategoricalAccuracy(name="accuracy")
    return keras.metrics.BinaryAccuracy(name="accuracy")


def compile_model(inputs: Any, outputs: Any, hp: Mapping[str, Any], metrics: Sequence[Any], name: str) -> keras.Model:
    """Build and compile a functional model with the sweep's loss and optimizer."""
    import keras

    model = keras.Model(inputs, outputs, name=name)
    model.compile(optimizer=optimizer(hp), loss=hp["loss"], metrics=list(metrics))
    return model
