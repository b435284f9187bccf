"""The pipeline contract, checked as a pipeline loads: one line naming the module's file and the rule."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

import sweeps.pipeline as sp
from sweeps.errors import PipelineError
from sweeps.spec.contract import Pipeline, builtin_names, check, load_pipeline

GOOD = {
    "HYPERPARAMETERS": {**sp.training(epochs=2, batch_size=8), "units": sp.integer(4)},
    "OBJECTIVES": {"val_loss": "minimize"},
    "load_data": lambda hp, options: None,
    "build_model": lambda hp, dataset: None,
}


def module(**changes: object) -> Pipeline:
    """A pipeline made of GOOD's members with ``changes`` (None removes a member)."""
    made = types.ModuleType("mine")
    for key, value in {**GOOD, **changes}.items():
        if value is not None:
            setattr(made, key, value)
    return Pipeline("mine", made, Path("/somewhere/mine.py"))


def test_a_module_keeping_the_contract_passes() -> None:
    assert check(module()).data_keys == []


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"load_data": None}, r"must define a function load_data\(hp, options\)"),
        ({"build_model": "not a function"}, r"must define a function build_model\(hp, dataset\)"),
        ({"build_model": lambda hp: None}, r"build_model must accept \(hp, dataset\), got build_model\(hp\)"),
        ({"for_trial": lambda a, b, c: None}, r"for_trial must accept \(dataset, hp\)"),
        ({"fit": lambda model: None}, r"fit must accept \(model, dataset, hp, callbacks\)"),
        ({"HYPERPARAMETERS": None}, r"HYPERPARAMETERS must be a dict of name -> Hyperparameter"),
        ({"HYPERPARAMETERS": ["epochs"]}, r"HYPERPARAMETERS must be a dict"),
        ({"HYPERPARAMETERS": {**GOOD["HYPERPARAMETERS"], "units": 4}}, r"HYPERPARAMETERS\['units'\] must be a Hyperparameter"),
        (
            {"HYPERPARAMETERS": {"units": sp.integer(4)}},
            r"HYPERPARAMETERS must declare epochs, batch_size, early_stopping_patience, seed",
        ),
        (
            {
                "HYPERPARAMETERS": {
                    **GOOD["HYPERPARAMETERS"],
                    **sp.dense_stack(2, 16, "binary_crossentropy", sp.CLASSIFICATION_LOSSES),
                }
            },
            r"HYPERPARAMETERS\['loss'\]: the default 'binary_crossentropy' breaks its own rule "
            r"\(one of categorical_crossentropy, sparse_categorical_crossentropy\)$",
        ),
        (
            {"HYPERPARAMETERS": {**GOOD["HYPERPARAMETERS"], "units": sp.integer(0)}},
            r"HYPERPARAMETERS\['units'\]: the default 0 breaks its own rule \(integer >= 1\)$",
        ),
        (
            {"HYPERPARAMETERS": {**GOOD["HYPERPARAMETERS"], "units": sp.integer(2.5)}},
            r"HYPERPARAMETERS\['units'\]: the default 2\.5 breaks its own rule \(integer >= 1\)$",
        ),
        (
            {"HYPERPARAMETERS": {**GOOD["HYPERPARAMETERS"], "rate": sp.real(1.0, high=1.0, high_exclusive=True)}},
            r"HYPERPARAMETERS\['rate'\]: the default 1\.0 breaks its own rule \(number 0\.0 \.\. 1\.0 \(exclusive\)\)$",
        ),
        (
            {"HYPERPARAMETERS": {**GOOD["HYPERPARAMETERS"], "act": sp.choice("gelu", sp.ACTIVATIONS)}},
            r"HYPERPARAMETERS\['act'\]: the default 'gelu' breaks its own rule \(one of relu, tanh",
        ),
        (
            {"HYPERPARAMETERS": {**GOOD["HYPERPARAMETERS"], "flag": sp.boolean("yes")}},
            r"HYPERPARAMETERS\['flag'\]: the default 'yes' breaks its own rule \(true or false\)$",
        ),
        (
            {"HYPERPARAMETERS": {**GOOD["HYPERPARAMETERS"], "column": sp.text("")}},
            r"HYPERPARAMETERS\['column'\]: the default '' breaks its own rule \(a string\)$",
        ),
        (
            {"HYPERPARAMETERS": {**sp.training(epochs=0, batch_size=8)}},
            r"HYPERPARAMETERS\['epochs'\]: the default 0 breaks its own rule \(integer 1 \.\. 10000\)$",
        ),
        (
            {"HYPERPARAMETERS": {**GOOD["HYPERPARAMETERS"], **sp.split(0)}},
            r"HYPERPARAMETERS\['validation_samples'\]: the default 0 ",
        ),
        (
            {"HYPERPARAMETERS": {**GOOD["HYPERPARAMETERS"], **sp.optimization("mse", ("mae",))}},
            r"HYPERPARAMETERS\['loss'\]: the default 'mse' ",
        ),
        ({"OBJECTIVES": None}, r"OBJECTIVES must be a dict of metric name -> 'maximize' or 'minimize'"),
        ({"OBJECTIVES": {"val_loss": "lower"}}, r"OBJECTIVES\['val_loss'\] must be 'maximize' or 'minimize', got 'lower'"),
    ],
)
def test_each_rule_is_one_line_naming_the_file(changes: dict, rule: str) -> None:
    with pytest.raises(PipelineError, match=rf"^pipeline mine \(/somewhere/mine\.py\): {rule}"):
        check(module(**changes))


def test_a_module_that_fails_to_import_names_its_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken_task.py").write_text("import math\n\nHYPERPARAMETERS = {}\nraise RuntimeError('no GPU here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from sweeps.spec import contract

    with pytest.raises(PipelineError, match=rf"{tmp_path / 'broken_task.py'}:4: importing it failed: RuntimeError: no GPU"):
        contract._import("broken_task")


def test_every_built_in_pipeline_keeps_the_contract() -> None:
    names = builtin_names()
    assert {"imdb", "boston_housing", "reuters", "mnist", "cifar10", "sequence_trend", "text_sentiment"} <= set(names)
    for name in names:
        assert load_pipeline(name).name == name


def test_an_unknown_pipeline_lists_the_known_ones() -> None:
    with pytest.raises(PipelineError, match=r"unknown pipeline 'imdbb'; available: boston_housing, cifar10"):
        load_pipeline("imdbb")
