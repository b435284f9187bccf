"""Search-space validation: every rule gives one line naming the file, the key and the rule."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from sweeps.errors import ConfigError
from sweeps.spec.catalog import sweep_files
from sweeps.spec.loading import load_spec
from tests.support import BASE, REPO, write_space


def changed(path: str, value: Any) -> dict[str, Any]:
    """BASE with the dotted key ``path`` set to ``value`` (or removed when value is ...)."""
    document = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = document
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return document


def test_valid_file_loads_typed_values(tmp_path: Path) -> None:
    spec = load_spec(write_space(tmp_path, BASE))
    assert spec.params["layers"].choices == (1, 2, 3)
    assert spec.fixed == {"units": 16, "epochs": 2}
    hp = spec.hyperparameters({"layers": 3})
    assert hp["layers"] == 3 and hp["units"] == 16 and hp["activation"] == "relu"  # pipeline default
    assert spec.engine == "optuna" and spec.max_consecutive_failures == 3


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("name", "other", r"s\.yaml: name: must equal the file name 's', got 'other'"),
        ("description", ..., r"s\.yaml: description: is required"),
        (
            "pipeline",
            "imbd",
            r"s\.yaml: pipeline: unknown pipeline 'imbd'; available: boston_housing, cifar10, imdb, mnist, reuters",
        ),
        ("engine", "hyperopt", r"s\.yaml: engine: must be one of optuna, keras_tuner, got 'hyperopt'"),
        ("sampler.type", "cmaes", r"sampler\.type: must be one of grid, random, tpe for engine optuna"),
        ("sampler.seed", "x", r"sampler\.seed: must be an integer, got 'x'"),
        ("pruner", {"type": "asha"}, r"pruner\.type: must be one of none, median, hyperband, wilcoxon"),
        ("trials", 0, r"s\.yaml: trials: must be >= 1, got 0"),
        ("trials", "3", r"trials: must be an integer, got '3'"),
        ("objective.metric", "val_auc", r"objective\.metric: imdb reports val_accuracy, val_loss; got 'val_auc'"),
        ("objective.direction", "minimize", r"objective\.direction: val_accuracy is better when higher: use maximize"),
        ("fixed.unit", 16, r"fixed\.unit: unknown hyperparameter for this pipeline \(did you mean 'units'\?\)"),
        ("fixed.activation", "swish", r"fixed\.activation: must be one of relu, tanh, sigmoid, elu, selu, got 'swish'"),
        ("fixed.optimizer", "adamax2", r"fixed\.optimizer: must be one of rmsprop, adam"),
        ("fixed.loss", "hinge", r"fixed\.loss: must be one of binary_crossentropy, mse, got 'hinge'"),
        ("fixed.dropout", -0.1, r"fixed\.dropout: must be >= 0.0, got -0.1"),
        ("fixed.dropout", 1.0, r"fixed\.dropout: must be < 1.0, got 1.0"),
        ("fixed.units", 2.5, r"fixed\.units: must be an integer, got 2.5"),
        ("fixed.units", "many", r"fixed\.units: must be a number, got 'many'"),
        ("fixed.layers", 2, r"fixed: layers is both fixed and swept"),
        ("params", {}, r"s\.yaml: params: must name at least one hyperparameter to vary"),
        ("params.layers.choices", [], r"params\.layers\.choices: must be a non-empty list"),
        ("params.layers.choices", [1, 1], r"params\.layers\.choices: must not repeat a value"),
        ("params.layers.choices", [1, 0], r"params\.layers\.choices\[1\]: must be >= 1, got 0"),
        ("params.layers.type", "uniform", r"params\.layers\.type: must be categorical, int, float or variants, got 'uniform'"),
        ("params.layers.values", [1], r"params\.layers\.values: unknown key; allowed: type, choices"),
        ("params.layers.choise", [1], r"params\.layers\.choise: unknown key \(did you mean 'choices'\?\)"),
        ("params.depth", {"type": "int", "low": 1, "high": 2}, r"params\.depth: unknown hyperparameter"),
        ("colour", "red", r"s\.yaml: colour: unknown key; allowed: name"),
    ],
)
def test_each_rule_names_file_key_and_rule(tmp_path: Path, key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_spec(write_space(tmp_path, changed(key, value)))


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ({"type": "int", "low": 3, "high": 1}, r"params\.units\.low: low <= high must hold, got low=3, high=1"),
        ({"type": "int", "low": 0, "high": 8}, r"params\.units\.low: must be >= 1, got 0"),
        ({"type": "int", "low": 1, "high": 8, "step": 0}, r"params\.units\.step: must be a finite number > 0, got 0"),
        ({"type": "float", "low": 1, "high": 8}, r"params\.units\.type: units is a int hyperparameter; use type int"),
        ({"type": "int", "low": 1, "high": 8, "log": "yes"}, r"params\.units\.log: must be true or false"),
    ],
)
def test_numeric_ranges(tmp_path: Path, param: dict[str, Any], message: str) -> None:
    document = changed("params", {"units": param})
    document["sampler"] = {"type": "random"}
    with pytest.raises(ConfigError, match=message):
        load_spec(write_space(tmp_path, document))


def test_grid_needs_enumerable_params(tmp_path: Path) -> None:
    document = changed("params", {"dropout": {"type": "float", "low": 0.0, "high": 0.5}})
    with pytest.raises(ConfigError, match=r"params\.dropout\.step: a grid needs choices or a step"):
        load_spec(write_space(tmp_path, document))
    document["params"]["dropout"]["step"] = 0.25
    assert load_spec(write_space(tmp_path, document)).params["dropout"].grid() == [0.0, 0.25, 0.5]


def test_log_range_needs_positive_low(tmp_path: Path) -> None:
    document = changed("params", {"l2": {"type": "float", "low": 0.0, "high": 0.1, "log": True}})
    document["sampler"] = {"type": "tpe"}
    with pytest.raises(ConfigError, match=r"params\.l2\.log: a log range needs low > 0"):
        load_spec(write_space(tmp_path, document))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: s\n  bad: indent: here\n", r"s\.yaml: not valid YAML at line 2, column 6"),
        ("", r"s\.yaml: top level: must be a mapping of keys, got nothing"),
        ("- a\n- b\n", r"s\.yaml: top level: must be a mapping of keys, got list"),
    ],
)
def test_malformed_yaml(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_spec(write_space(tmp_path, text))


def test_overrides_are_validated_like_the_file(tmp_path: Path) -> None:
    path = write_space(tmp_path, BASE)
    spec = load_spec(path, {"epochs": 1, "activation": "tanh"}, trials=2)
    assert spec.fixed["epochs"] == 1 and spec.fixed["activation"] == "tanh" and spec.trials == 2
    assert spec.fingerprint() != load_spec(path).fingerprint()
    with pytest.raises(ConfigError, match=r"--set activation=swish: activation: must be one of relu"):
        load_spec(path, {"activation": "swish"})
    with pytest.raises(ConfigError, match=r"--set layers=2: layers is swept by"):
        load_spec(path, {"layers": 2})
    with pytest.raises(ConfigError, match=r"--set unts=3: unts: unknown hyperparameter for this pipeline \(did you mean 'units'"):
        load_spec(path, {"unts": 3})
    with pytest.raises(ConfigError, match=r"--trials: must be >= 1, got 0"):
        load_spec(path, trials=0)


def test_every_shipped_search_space_loads() -> None:
    spaces = sweep_files(REPO / "search_spaces")
    assert spaces, "no search spaces shipped"
    for path in spaces:
        spec = load_spec(path)
        assert spec.name == path.stem and spec.description


def test_variants_expand_into_the_values_they_name(tmp_path: Path) -> None:
    variants = {"type": "variants", "choices": {"none": {}, "dropout": {"dropout": 0.5}, "both": {"l1": 0.001, "l2": 0.001}}}
    spec = load_spec(write_space(tmp_path, changed("params", {"regularization": variants})))
    assert spec.params["regularization"].grid() == ["none", "dropout", "both"]
    hp = spec.hyperparameters({"regularization": "both"})
    assert (hp["l1"], hp["l2"], hp["dropout"]) == (0.001, 0.001, 0.0)
    assert "regularization" not in hp  # a label, not a pipeline hyperparameter


@pytest.mark.parametrize(
    ("params", "fixed", "message"),
    [
        ({"r": {"type": "variants", "choices": {}}}, {}, r"params\.r\.choices: must name at least one variant"),
        ({"r": {"type": "variants", "choices": {"a": {"dropout": 1.5}}}}, {}, r"params\.r\.choices\.a\.dropout: must be < 1\.0"),
        (
            {"r": {"type": "variants", "choices": {"a": {"dropuot": 0.1}}}},
            {},
            r"choices\.a\.dropuot: unknown hyperparameter .*'dropout'",
        ),
        ({"units": {"type": "variants", "choices": {"a": {}}}}, {}, r"params\.units\.type: variants need a name of their own"),
        ({"r": {"type": "variants", "choices": {"a": {"l1": 0.1}}}}, {"l1": 0.0}, r"fixed: l1 is both fixed and swept"),
        (
            {"r": {"type": "variants", "choices": {"a": {"units": 8}}}, "units": {"type": "categorical", "choices": [4]}},
            {},
            r"params: units is set by more than one param",
        ),
    ],
)
def test_variants_rules(tmp_path: Path, params: dict, fixed: dict, message: str) -> None:
    document = {**BASE, "params": params, "fixed": fixed}
    with pytest.raises(ConfigError, match=message):
        load_spec(write_space(tmp_path, document))


def test_folds_rules(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"s\.yaml: folds: K-fold cross-validation needs K >= 2, got 1"):
        load_spec(write_space(tmp_path, {**BASE, "folds": 1}))
    with pytest.raises(
        ConfigError, match=r"s\.yaml: pruner: a trial of several fits \(folds, repeats\) cannot be pruned by epoch"
    ):
        load_spec(write_space(tmp_path, {**BASE, "folds": 3, "pruner": {"type": "median"}}))
    assert load_spec(write_space(tmp_path, {**BASE, "folds": 3})).folds == 3


@pytest.mark.parametrize(
    ("pipeline", "key", "value", "message"),
    [
        (
            "reuters",
            "loss",
            "binary_crossentropy",
            r"fixed\.loss: must be one of categorical_crossentropy, sparse_categorical_crossentropy",
        ),
        ("mnist", "optimizer", "lbfgs", r"fixed\.optimizer: must be one of rmsprop, adam"),
        ("boston_housing", "loss", "categorical_crossentropy", r"fixed\.loss: must be one of mse, mae, huber"),
        ("sequence_trend", "feature_set", "x1", r"fixed\.feature_set: must be one of x3_x2_state, x3_x2_x1, x3_x2"),
        ("text_sentiment", "segmenter", "spaces", r"fixed\.segmenter: must be one of whitespace, jieba"),
    ],
)
def test_the_loss_and_vocabulary_must_fit_the_task(tmp_path: Path, pipeline: str, key: str, value: str, message: str) -> None:
    params = {"dropout": {"type": "categorical", "choices": [0.0, 0.2]}}
    document = {
        **BASE,
        "pipeline": pipeline,
        "fixed": {key: value},
        "params": params,
        "objective": {"metric": "val_mae" if pipeline == "boston_housing" else "val_accuracy"},
    }
    with pytest.raises(ConfigError, match=message):
        load_spec(write_space(tmp_path, document))


def test_repeats_rules(tmp_path: Path) -> None:
    path = write_space(tmp_path, {**BASE, "repeats": 3})
    assert load_spec(path).repeats == 3 and load_spec(path, repeats=5).repeats == 5
    assert load_spec(path).fingerprint() != load_spec(path, repeats=5).fingerprint()
    with pytest.raises(ConfigError, match=r"s\.yaml: repeats: must be >= 1, got 0"):
        load_spec(write_space(tmp_path, {**BASE, "repeats": 0}))
    with pytest.raises(ConfigError, match=r"s\.yaml: repeats: cannot be combined with folds yet"):
        load_spec(write_space(tmp_path, {**BASE, "repeats": 2, "folds": 3}))
    with pytest.raises(ConfigError, match=r"--repeats: .* cross-validates with folds: 3; repeats cannot be combined"):
        load_spec(write_space(tmp_path, {**BASE, "folds": 3}), repeats=2)


def test_several_objectives_make_a_front_whose_first_is_the_models(tmp_path: Path) -> None:
    objectives = [{"metric": "val_accuracy"}, {"metric": "params"}, {"metric": "epoch_seconds", "direction": "minimize"}]
    spec = load_spec(write_space(tmp_path, {**BASE, "objective": objectives}))
    assert [(o.metric, o.direction) for o in spec.objectives] == [
        ("val_accuracy", "maximize"),
        ("params", "minimize"),
        ("epoch_seconds", "minimize"),
    ]
    assert spec.objective.metric == "val_accuracy" and not spec.fuses  # timed epochs: each fit alone
    assert spec.fingerprint() != load_spec(write_space(tmp_path, BASE)).fingerprint()
    single = load_spec(write_space(tmp_path, {**BASE, "objective": [{"metric": "val_accuracy"}]}))
    assert single.fingerprint() == load_spec(write_space(tmp_path, BASE)).fingerprint() and single.fuses


TWO = [{"metric": "val_accuracy"}, {"metric": "params"}]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"objective": []}, r"s\.yaml: objective: must name at least one \{metric, direction\}"),
        (
            {"objective": [{"metric": "params"}, {"metric": "val_accuracy"}]},
            r"objective\[0\]\.metric: the first objective is one the model reports each epoch \(val_accuracy, val_loss\); "
            r"params may follow it",
        ),
        (
            {"objective": [{"metric": "val_accuracy"}, {"metric": "params", "direction": "maximize"}]},
            r"params is better when lower",
        ),
        (
            {"objective": [{"metric": "val_accuracy"}, {"metric": "val_accuracy"}]},
            r"objective: names val_accuracy more than once",
        ),
        ({"objective": [{"metric": "val_accuracy"}, "params"]}, r"objective\[1\]: must be a mapping of keys, got str"),
        (
            {"objective": [{"metric": "val_accuracy"}, {"metric": "flops"}]},
            r"objective\[1\]\.metric: imdb reports val_accuracy, val_loss, and every pipeline has params, epoch_seconds",
        ),
        (
            {
                "objective": [{"metric": "val_accuracy"}, {"metric": "params"}],
                "pruner": {"type": "median"},
                "sampler": {"type": "tpe"},
            },
            r"pruner: Optuna cannot prune a study of several objectives",
        ),
        (
            {
                "objective": [{"metric": "val_accuracy"}, {"metric": "params"}],
                "engine": "keras_tuner",
                "sampler": {"type": "random"},
            },
            r"objective: keras_tuner optimises one objective; use engine optuna for several",
        ),
    ],
)
def test_objectives_that_cannot_work_are_refused(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_spec(write_space(tmp_path, {**BASE, **changes}))
