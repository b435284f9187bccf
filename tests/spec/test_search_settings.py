"""The typed search settings (sweeps/spec/objective.py, sweeps/spec/search.py): each value checks
its own rules, and "better" is decided in one place."""

from __future__ import annotations

import math

import pytest

from sweeps.spec.objective import Objective
from sweeps.spec.search import Pruner, Sampler, SettingError


def test_an_objective_knows_which_way_is_better() -> None:
    accuracy, loss = Objective("val_accuracy", "maximize"), Objective("val_loss", "minimize")
    assert (accuracy.mode, loss.mode) == ("max", "min")
    assert accuracy.better(0.9, 0.8) and not accuracy.better(0.8, 0.8) and loss.better(0.1, 0.2)
    assert accuracy.better(0.1, math.nan) and loss.better(5.0, math.nan)  # anything beats nothing yet
    assert (accuracy.gain(0.02), loss.gain(0.02)) == (0.02, -0.02)


def test_the_best_ignores_nan_and_takes_the_first_of_equals() -> None:
    values = [0.3, math.nan, 0.9, 0.9, 0.1]
    assert Objective("val_accuracy", "maximize").best(range(len(values)), key=values.__getitem__) == 2
    assert Objective("val_loss", "minimize").best(values) == 0.1
    assert Objective("val_loss", "minimize").best([math.nan]) is None


def test_an_objective_with_no_direction_is_refused() -> None:
    with pytest.raises(ValueError, match=r"objective val_accuracy: direction must be maximize or minimize, got 'up'"):
        Objective("val_accuracy", "up")


def test_settings_record_only_what_was_given_as_the_fingerprint_always_did() -> None:
    assert Sampler("tpe").settings() == {"type": "tpe", "seed": None}
    assert Sampler("hyperband", seed=3, factor=2).settings() == {"type": "hyperband", "seed": 3, "factor": 2}
    assert Pruner("median", n_startup_trials=2).settings() == {"type": "median", "n_startup_trials": 2}
    assert Pruner("median", n_startup_trials=2).options() == {"n_startup_trials": 2}
    assert not Pruner().prunes and Pruner("hyperband").prunes and Sampler("grid").grid


@pytest.mark.parametrize(
    ("make", "key", "rule"),
    [
        (lambda: Sampler("annealing"), "type", r"must be one of grid, random, tpe, hyperband, bayesian, got 'annealing'"),
        (lambda: Sampler("random", seed=-1), "seed", r"must be 0 \.\. 4294967295, got -1"),
        (lambda: Sampler("random", factor=3), "factor", r"is not a setting of random; allowed: none"),
        (lambda: Sampler("hyperband", factor=1), "factor", r"must be >= 2, got 1"),
        (lambda: Pruner("early"), "type", r"must be one of none, median, hyperband, wilcoxon, got 'early'"),
        (lambda: Pruner("median", reduction_factor=3), "reduction_factor", r"allowed: n_startup_trials, n_warmup_steps"),
        (lambda: Pruner("hyperband", min_resource=0), "min_resource", r"must be >= 1, got 0"),
    ],
)
def test_a_setting_that_breaks_its_rule_is_refused_with_its_key(make, key: str, rule: str) -> None:
    with pytest.raises(SettingError, match=rule) as raised:
        make()
    assert raised.value.key == key
