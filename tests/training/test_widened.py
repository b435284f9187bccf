"""Models that differ only in hidden widths are stepped as one group (the widest), and each copy
still trains as it would alone; what would see the padding keeps models apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import sweeps.pipeline as sp
from sweeps.spec.loading import load_spec
from sweeps.training import fused, fused_jax, widened
from sweeps.training.fit import FitRequest
from tests.support import BASE, REPO, write_space
from tests.training.test_fused import TOLERANCE, largest_difference

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="fused groups are JAX's")


def requests(space: Path, data_dir: Path, configs: list[dict[str, Any]]) -> list[FitRequest]:
    spec = load_spec(space)
    found = []
    for hp in configs:
        values = {**spec.hyperparameters({}), **hp}
        found.append(FitRequest(spec.pipeline, spec.pipeline.load_data(values, sp.DataOptions(data_dir)), values, spec.objective))
    return found


def boston(tmp_path: Path) -> Path:
    import yaml

    document = yaml.safe_load((REPO / "search_spaces" / "boston_kfold.yaml").read_text())
    document.pop("folds")
    return write_space(tmp_path, {**document, "name": "s", "fixed": {**document["fixed"], "epochs": 8}})


def grouped(requests: list[FitRequest]) -> list[list[int]]:
    """The units of the requests that step as one group, for each group."""
    members = [fused_jax.member(request, []) for request in requests]
    return sorted(sorted(m.request.hp["units"] for m in group.members) for group in fused_jax.groups(members, validate=True))


def test_widths_of_one_depth_are_one_group_stepped_as_the_widest(tmp_path: Path, data_dir: Path) -> None:
    configs = [{"units": 8, "layers": 1}, {"units": 32, "layers": 1}, {"units": 16, "layers": 1}, {"units": 8, "layers": 2}]
    members = [fused_jax.member(request, []) for request in requests(boston(tmp_path), data_dir, configs)]
    found = fused_jax.groups(members, validate=True)
    assert sorted(sorted(m.request.hp["units"] for m in group.members) for group in found) == [[8], [8, 16, 32]]
    wide = next(group for group in found if len(group.members) == 3)
    assert wide.model is members[1].model  # 32 units: the others sit in its corner
    assert [np.shape(value) for value in wide.state[0]] == [(3, 13, 32), (3, 32), (3, 32, 1), (3, 1)]


def test_widened_copies_train_as_they_would_alone(tmp_path: Path, data_dir: Path) -> None:
    """Each copy's curves, best epoch and test metrics are those it gives trained alone, and its
    model gets back its own weights, the shape it was built with."""
    configs = [{"units": 8, "layers": 2, "seed": 3}, {"units": 32, "layers": 2, "seed": 4}, {"units": 16, "layers": 2, "seed": 5}]
    made = requests(boston(tmp_path), data_dir, configs)
    together = fused.fit_across(made, [[] for _ in made], lambda index: True)
    alone = [fused.fit_across([request], [[]], lambda index: True)[0] for request in made]
    worst = largest_difference(alone, together)
    print(f"largest relative difference, widened against alone: {worst:.2e}")
    assert worst <= TOLERANCE
    for one, other, config in zip(alone, together, configs, strict=True):
        assert one.best_epoch == other.best_epoch
        assert [one.test[k] for k in one.test] == pytest.approx([other.test[k] for k in one.test], rel=TOLERANCE)
        assert other.model.get_layer("hidden_1").kernel.shape == (13, config["units"])
        for mine, theirs in zip(one.model.trainable_weights, other.model.trainable_weights, strict=True):
            np.testing.assert_allclose(np.asarray(theirs), np.asarray(mine), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "fixed",
    [{"dropout": 0.25}, {"activation": "sigmoid"}],
    ids=["dropout_masks_depend_on_the_width", "sigmoid_is_not_0_at_0"],
)
def test_what_would_see_the_padding_keeps_widths_apart(tmp_path: Path, data_dir: Path, fixed: dict[str, Any]) -> None:
    configs = [{"units": 8, "layers": 1, **fixed}, {"units": 16, "layers": 1, **fixed}]
    assert grouped(requests(boston(tmp_path), data_dir, configs)) == [[8], [16]]


def test_sparse_inputs_widen_too(tmp_path: Path, imdb_dir: Path) -> None:
    space = write_space(tmp_path, {**BASE, "fixed": {"epochs": 2}})
    configs = [{"units": 4, "layers": 2}, {"units": 8, "layers": 2}, {"units": 8, "layers": 1}]
    assert grouped(requests(space, imdb_dir, configs)) == [[4, 8], [8]]


def test_only_functional_and_sequential_models_have_a_signature() -> None:
    class Own(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(3)

        def call(self, x: Any) -> Any:
            return self.dense(x)

    inputs = keras.Input((4,))
    narrow = keras.Model(inputs, keras.layers.Dense(2, name="out")(inputs), name="m")
    wide = keras.Model(inputs, keras.layers.Dense(7, name="out")(inputs), name="m")
    assert widened.signature(Own()) is None
    assert widened.signature(narrow) == widened.signature(wide) is not None


def test_a_group_whose_copies_have_all_stopped_is_not_stepped(tmp_path: Path, data_dir: Path, monkeypatch) -> None:
    """One depth trains 2 epochs, the other 5: the first group is stepped twice, not five times."""
    configs = [{"units": 8, "layers": 1, "epochs": 2}, {"units": 8, "layers": 2, "epochs": 5}]
    members = [fused_jax.member(request, []) for request in requests(boston(tmp_path), data_dir, configs)]
    stepped: list[int] = []
    step = fused_jax.Group.step
    monkeypatch.setattr(
        fused_jax.Group, "step", lambda group, *args: stepped.append(len(group.members[0].model.layers)) or step(group, *args)
    )
    fused_jax.train(members, validate=True)
    assert sorted(stepped) == sorted([len(members[0].model.layers)] * 2 + [len(members[1].model.layers)] * 5)
    assert [len(m.history["loss"]) for m in members] == [2, 5]
