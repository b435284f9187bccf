"""`sweeps validate`: a sweep file and its pipeline's contract checked without TensorFlow, every
problem listed, exit 2 if any; `list` marks the files that do not validate; `trials` may be
left to `--trials` or to a grid's points."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweeps.cli import main
from sweeps.spec.loading import file_problems, load_spec
from tests.support import BASE, write_space
from tests.test_house import heavy_modules_after

BROKEN = """name: broken
description: a sweep with five mistakes
pipeline: imdb
engine: keras-tuner
objective: {metric: val_acc}
fixed: {units: -3, epoch: 3}
params: {dropout: {type: float, low: 0.5, high: 0.1}}
"""


def test_every_problem_of_a_file_is_listed(tmp_path: Path) -> None:
    problems = file_problems(write_space(tmp_path, BROKEN, name="broken"))
    where = str(tmp_path / "broken.yaml")
    assert problems == [
        f"{where}: engine: must be one of optuna, keras_tuner, got 'keras-tuner' (did you mean 'keras_tuner'?)",
        f"{where}: objective.metric: imdb reports val_accuracy, val_loss; got 'val_acc'",
        f"{where}: fixed.units: must be >= 1, got -3",
        f"{where}: fixed.epoch: unknown hyperparameter for this pipeline (did you mean 'epochs'?)",
        f"{where}: params.dropout.low: low <= high must hold, got low=0.5, high=0.1",
    ]
    with pytest.raises(Exception, match="engine: must be one of"):  # loading stops at the first
        load_spec(tmp_path / "broken.yaml")


def test_validate_lists_every_problem_of_every_file_and_exits_2(tmp_path: Path, capsys) -> None:
    write_space(tmp_path, BROKEN, name="broken")
    assert main(["validate", str(tmp_path / "broken.yaml"), "imdb_depth", "no_such"]) == 2
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == f"broken ({tmp_path / 'broken.yaml'}): 5 problem(s)" and len(lines) == 1 + 5 + 1 + 2
    assert lines[6] == "imdb_depth (built-in): ok"
    assert lines[7] == "no_such: 1 problem(s)" and "unknown sweep 'no_such'" in lines[8]
    assert err.strip() == "2 of 3 checked have problems"


def test_validate_with_no_names_checks_every_sweep_and_the_schedule(workdir: Path, capsys) -> None:
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "imdb_depth (built-in): ok" in out and out.splitlines()[-1].startswith("the schedule ")
    assert all(line.endswith(": ok") for line in out.splitlines())


def test_validate_and_list_import_no_tensorflow(tmp_path: Path) -> None:
    (tmp_path / "search_spaces").mkdir()
    write_space(tmp_path / "search_spaces", BROKEN, name="broken")
    assert heavy_modules_after(["validate"], tmp_path) == []
    assert heavy_modules_after(["list"], tmp_path) == []


def test_list_marks_a_sweep_whose_file_does_not_validate(workdir: Path, capsys) -> None:
    (workdir / "search_spaces").mkdir()
    write_space(workdir / "search_spaces", BROKEN, name="broken")
    assert main(["list"]) == 0
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("broken ")]
    assert "INVALID (5 problem(s): `sweeps validate broken`) a sweep with five mistakes" in line


def test_a_grid_without_trials_runs_every_point_and_other_samplers_need_a_budget(tmp_path: Path) -> None:
    grid = {k: v for k, v in BASE.items() if k != "trials"}
    assert load_spec(write_space(tmp_path, grid)).trials == 3  # the grid's points
    assert load_spec(tmp_path / "s.yaml", trials=7).trials == 7
    write_space(tmp_path, {**grid, "sampler": {"type": "tpe"}})
    with pytest.raises(
        Exception, match=r"s\.yaml: trials: is required for sampler tpe: the study's trial budget \(or give --trials N\)"
    ):
        load_spec(tmp_path / "s.yaml")
    assert load_spec(tmp_path / "s.yaml", trials=4).trials == 4


def test_a_sampler_of_the_other_engine_says_which_engine_has_it(tmp_path: Path) -> None:
    write_space(tmp_path, {**BASE, "sampler": {"type": "hyperband"}})
    with pytest.raises(Exception, match="sampler.type: hyperband is a sampler of engine keras_tuner; set engine: keras_tuner"):
        load_spec(tmp_path / "s.yaml")
