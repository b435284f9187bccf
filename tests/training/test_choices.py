"""Models that differ in their activations or their loss are stepped as one group, each copy
computing its own, and still train as they would alone."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from sweeps.training import choices, fused, fused_jax
from tests.support import BASE, write_space
from tests.training.test_fused import TOLERANCE, largest_difference
from tests.training.test_widened import boston, requests

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="fused groups are JAX's")


def groups(made: list) -> list[list[tuple]]:
    members = [fused_jax.member(request, []) for request in made]
    keys = ("units", "activation", "loss")
    found = fused_jax.groups(members, validate=True)
    return sorted(sorted(tuple(m.request.hp[k] for k in keys) for m in group.members) for group in found)


def test_activations_losses_and_widths_of_one_depth_are_one_group(tmp_path: Path, imdb_dir: Path) -> None:
    space = write_space(tmp_path, {**BASE, "fixed": {"epochs": 2}})
    configs = [
        {"layers": 2, "units": units, "activation": activation, "loss": loss}
        for units in (4, 8)
        for activation in ("relu", "tanh")
        for loss in ("binary_crossentropy", "mse")
    ]
    found = groups(requests(space, imdb_dir, [*configs, {"layers": 1, "units": 4, "activation": "relu", "loss": "mse"}]))
    assert found == sorted([[(4, "relu", "mse")], sorted((c["units"], c["activation"], c["loss"]) for c in configs)])


def test_each_copy_gets_its_own_choice_and_the_model_its_own_loss(tmp_path: Path, imdb_dir: Path) -> None:
    space = write_space(tmp_path, {**BASE, "fixed": {"epochs": 2}})
    configs = [{"activation": "tanh", "loss": "mse"}, {"activation": "relu", "loss": "binary_crossentropy"}]
    members = [fused_jax.member(request, []) for request in requests(space, imdb_dir, configs)]
    (group,) = fused_jax.groups(members, validate=True)
    assert group.model is not members[0].model and group.model is not members[1].model  # a model of its own
    # Where they differ: the two hidden layers' activations (relu 0, tanh 1), then the loss
    # (binary_crossentropy 0, mse 1); the output layer's sigmoid is theirs alike.
    assert members[0].model.layers[-1].activation is keras.activations.sigmoid
    assert group.picked.tolist() == [[1, 1, 1], [0, 0, 0]]
    assert isinstance(group.model.get_layer("hidden_1").activation, choices.Chosen)
    assert isinstance(group.model.loss, choices.ChosenLoss)
    assert group.sparse  # its batches still sparse, as its copies' are


def test_copies_that_choose_differently_train_as_they_would_alone(tmp_path: Path, data_dir: Path) -> None:
    """Each copy's curves, best epoch and test metrics are those it gives trained alone."""
    configs = [
        {"units": 8, "layers": 2, "activation": "relu", "loss": "mse", "seed": 3},
        {"units": 16, "layers": 2, "activation": "tanh", "loss": "mae", "seed": 4},
        {"units": 16, "layers": 2, "activation": "elu", "loss": "huber", "seed": 5},
    ]
    made = requests(boston(tmp_path), data_dir, configs)
    assert len(fused_jax.groups([fused_jax.member(request, []) for request in made], validate=True)) == 1
    together = fused.fit_across(made, [[] for _ in made], lambda index: True)
    alone = [fused.fit_across([request], [[]], lambda index: True)[0] for request in made]
    worst = largest_difference(alone, together)
    print(f"largest relative difference, chosen against alone: {worst:.2e}")
    assert worst <= TOLERANCE
    for one, other in zip(alone, together, strict=True):
        assert one.best_epoch == other.best_epoch
        assert [one.test[k] for k in one.test] == pytest.approx([other.test[k] for k in one.test], rel=TOLERANCE)
        for mine, theirs in zip(one.model.trainable_weights, other.model.trainable_weights, strict=True):
            np.testing.assert_allclose(np.asarray(theirs), np.asarray(mine), rtol=1e-4, atol=1e-6)


def test_sparse_copies_that_choose_differently_train_as_they_would_alone(tmp_path: Path, imdb_dir: Path) -> None:
    space = write_space(tmp_path, {**BASE, "fixed": {"epochs": 3}})
    configs = [{"activation": "tanh", "loss": "mse", "seed": 1}, {"activation": "relu", "loss": "binary_crossentropy", "seed": 2}]
    made = requests(space, imdb_dir, configs)
    together = fused.fit_across(made, [[] for _ in made], lambda index: True)
    alone = [fused.fit_across([request], [[]], lambda index: True)[0] for request in made]
    assert largest_difference(alone, together) <= TOLERANCE


def test_an_activation_outside_the_finite_ones_keeps_its_model_apart() -> None:
    """``exponential`` overflows: a dropped infinite gradient times zero would spoil the kept one."""

    def model(activation: str) -> keras.Model:
        keras.utils.clear_session()  # the same names, as a pipeline's models get
        inputs = keras.Input((4,))
        built = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(3, activation=activation)(inputs)))
        built.compile(optimizer="sgd", loss="mse")
        return built

    from sweeps.training import widened

    assert widened.signature(model("relu")) == widened.signature(model("tanh"))
    assert widened.signature(model("relu")) != widened.signature(model("exponential"))
