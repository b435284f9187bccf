"""Reports of searched studies: which parameter matters, continuous values in ranges, and
comparisons that say when they are marginal."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sweeps.reporting import report
from sweeps.reporting.comparisons import write_sweep_plots
from sweeps.reporting.groups import groups
from sweeps.reporting.importance import importance
from sweeps.reporting.ranges import CHOSEN, LINEAR, LOG, ranges_for, scale
from sweeps.reporting.study import StudyRecords


def searched(trials: int, seed: int = 0, folds: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A TPE-like study over learning_rate (log), l2 (log) and dropout: val_loss driven mostly by
    learning_rate, a little by dropout, not at all by l2; the trials and their folds."""
    rng = np.random.default_rng(seed)
    lr, l2, dropout = 10 ** rng.uniform(-4, -1, trials), 10 ** rng.uniform(-6, -2, trials), rng.uniform(0, 0.5, trials)
    value = 0.3 + 0.2 * (np.log10(lr) + 2.5) ** 2 + 0.1 * dropout + rng.normal(0, 0.005, trials)
    frame = pd.DataFrame(
        {
            "sweep": "s",
            "study": "s",
            "trial": range(trials),
            "state": "COMPLETE",
            "run_id": [f"run{i}" for i in range(trials)],
            "objective": "val_loss",
            "direction": "minimize",
            "value": value,
            "params.learning_rate": lr,
            "params.l2": l2,
            "params.dropout": dropout,
        }
    )
    fits = frame.loc[frame.index.repeat(folds)].reset_index(drop=True)
    samples = fits.assign(
        sample=fits["value"] + rng.normal(0, 0.01, len(fits)), sample_run_id=[f"f{i}" for i in range(len(fits))]
    )
    return frame, samples


PARAMS = ["learning_rate", "l2", "dropout"]
SCALES = {"learning_rate": LOG, "l2": LOG, "dropout": LINEAR}


def test_importance_ranks_the_parameter_that_drives_the_objective_first() -> None:
    trials, _ = searched(40)
    found = importance(trials, PARAMS, "val_loss", log=["learning_rate", "l2"])
    assert found is not None and list(found.shares)[0] == "learning_rate"
    assert found.shares["learning_rate"] > 0.5 and abs(sum(found.shares.values()) - 1) < 1e-9
    assert found.reliable
    assert found.sentences()[0].startswith("learning_rate explains most of val_loss's variation (")
    assert importance(trials, PARAMS, "val_loss", log=["learning_rate", "l2"]) == found  # seeded: the same twice


def test_few_trials_make_a_ranking_the_report_calls_rough() -> None:
    trials, _ = searched(8)
    found = importance(trials, PARAMS, "val_loss")
    assert found is not None and not found.reliable
    assert found.sentences()[-1] == (
        "the ranking is rough: 8 COMPLETE trials for 3 parameters; about 30 would make it dependable"
    )


def test_one_swept_parameter_has_no_ranking() -> None:
    trials, _ = searched(10)
    assert importance(trials, ["learning_rate"], "val_loss") is None


def test_a_continuous_parameter_is_shown_in_at_most_five_ranges() -> None:
    trials, samples = searched(8, folds=4)
    built = report.build(trials, samples, pd.DataFrame(), PARAMS, SCALES)
    for param in PARAMS:
        rows = built.table[built.table["param"] == param]
        assert 2 <= len(rows) <= 5 and rows["trials"].sum() == 8
        assert all(str(value).startswith("[") for value in rows["value"])
    text = built.render()
    assert text.startswith("importance (fANOVA, 8 trials): ") and "the ranking is rough" in text
    assert "l2 in [" in text and "l2=" not in text


def test_a_searched_comparison_is_marginal_and_counts_trials_not_folds() -> None:
    trials, samples = searched(8, folds=4)
    built = report.build(trials, samples, pd.DataFrame(), ["l2"], SCALES)
    assert built.sentences and all(s.endswith("; marginal: the groups differ in other parameters too") for s in built.sentences)
    assert built.table["n"].tolist() == built.table["trials"].tolist()  # a trial is one measurement, its folds averaged
    # a range holding one trial is never t-tested against another
    tested = [s for s in built.sentences if "p=" in s]
    singles = set(built.table[built.table["trials"] < 2]["value"])
    assert not any(label in s for s in tested for label in singles)


def test_a_grid_comparison_is_controlled_and_counts_every_fold() -> None:
    grid = pd.DataFrame(
        {
            "sweep": "g",
            "state": "COMPLETE",
            "run_id": ["a", "b", "c", "d"],
            "objective": "val_mae",
            "direction": "minimize",
            "value": [2.9, 2.7, 2.8, 2.6],
            "params.units": [16, 16, 64, 64],
            "params.layers": [1, 2, 1, 2],
        }
    )
    found = groups(grid, "units")
    assert not found.marginal and not found.ranged and found.values == [16, 64]
    assert groups(grid.iloc[:3], "units").marginal  # a grid stopped half-way: the groups differ in layers


def test_ranges_on_a_log_scale_span_equal_factors_and_hold_every_value() -> None:
    values = pd.Series(10 ** np.random.default_rng(1).uniform(-6, -2, 30))
    ranges = ranges_for(values, LOG)
    assert ranges is not None and len(ranges.labels) == 5
    inner = np.array(ranges.edges[1:-1])
    assert np.allclose(np.diff(np.log10(inner)), np.diff(np.log10(inner))[0], rtol=0.02)
    assert set(ranges.label(values)) <= set(ranges.labels) and ranges.label(values).notna().all()
    assert ranges_for(pd.Series([1, 2, 3, 4, 5])) is None  # five values are shown one by one
    assert ranges_for(pd.Series(["relu", "tanh"] * 5)) is None
    assert ranges_for(values, CHOSEN) is None  # a categorical's values, or a grid's points, are shown one by one
    assert scale("categorical", False, grid=False) == scale("float", True, grid=True) == CHOSEN
    assert (scale("float", True, grid=False), scale("int", False, grid=False)) == (LOG, LINEAR)


def test_a_searched_study_plots_its_importance_and_a_slice_per_continuous_parameter(tmp_path) -> None:
    trials, samples = searched(12, folds=2)
    curves = pd.DataFrame(
        [
            {**row, "metric": "val_loss", "step": step, "value": row["value"] + 0.1 / step}
            for row in trials.to_dict("records")
            for step in (1, 2)
        ]
    )
    written = write_sweep_plots(StudyRecords(trials, samples, curves, PARAMS, SCALES), tmp_path)
    names = {path.name for path in written}
    assert names == {"importance.png", "parallel_coordinates.png"} | {
        f"{kind}_{p}.png" for kind in ("slice", "curves") for p in PARAMS
    }
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size < 200_000


def test_ranges_stay_apart_for_a_narrow_parameter_and_give_way_to_crowded_values() -> None:
    narrow = pd.Series(np.random.default_rng(0).uniform(0.999, 0.9999, 30))  # Adam's beta_2, say
    ranges = ranges_for(narrow)
    assert ranges is not None and len(ranges.labels) == 5 and ranges.label(narrow).nunique() == 5
    assert ranges_for(pd.Series([1] * 100 + [2, 3, 4, 5, 6])) is None  # quantiles all at 1: shown one by one


def test_a_report_stands_when_nothing_varies_or_a_parameter_is_missing_from_some_runs() -> None:
    trials, samples = searched(12)
    flat = trials.assign(value=1.0)
    assert importance(flat, PARAMS, "val_loss") is None  # no variation to explain
    report.build(flat, samples.assign(sample=1.0), pd.DataFrame(), PARAMS, SCALES)
    patchy = trials.copy()
    patchy.loc[0, "params.l2"] = np.nan  # a run of another study, without l2
    assert importance(patchy, PARAMS, "val_loss").trials == 11
    assert report.build(patchy, samples, pd.DataFrame(), ["l2"], SCALES).table["trials"].sum() == 11
