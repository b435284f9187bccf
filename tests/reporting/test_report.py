"""Reports computed from MLflow runs with known values: the numbers, the t-test, the plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sweeps.reporting import report
from sweeps.reporting.comparisons import write_sweep_plots
from sweeps.reporting.groups import Groups
from sweeps.reporting.study import StudyRecords
from sweeps.tracking import query
from sweeps.tracking.tracker import FINISHED, Tracker

# Replicate values per activation, and each trial's validation curve (the mean over replicates).
RELU = {0: [0.86, 0.87, 0.88], 1: [0.85, 0.86, 0.84]}
TANH = {2: [0.84, 0.85, 0.83]}
CURVES = {0: [0.80, 0.87, 0.86], 1: [0.82, 0.85, 0.84], 2: [0.80, 0.82, 0.84]}
TEST = {0: 0.865, 1: 0.851, 2: 0.838}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The sweep 'known' (see ``record_known``), for the tests that only read it."""
    return record_known(tmp_path_factory.mktemp("known"))


@pytest.fixture
def own_store(tmp_path: Path) -> str:
    """The sweep 'known' in a store of the test's own, for a test that adds runs to it."""
    return record_known(tmp_path)


def record_known(directory: Path) -> str:
    """A sweep 'known' recorded as the runner records it: trial runs with nested replicates."""
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    tracker = Tracker(uri, "known")
    common = {
        "sweep": "known",
        "study": "known",
        "engine": "optuna",
        "objective.metric": "val_accuracy",
        "objective.direction": "maximize",
    }
    parent = tracker.start_run("known", common)
    for trial, values in {**RELU, **TANH}.items():
        run = tracker.start_run(f"trial-{trial}", {**common, "trial": trial, "state": "COMPLETE"}, parent)
        tracker.log(
            run,
            params={"activation": "relu" if trial in RELU else "tanh", "layers": 2 if trial < 2 else 1},
            metrics={"best_val_accuracy": float(np.mean(values)), "test_accuracy": TEST[trial]},
        )
        tracker.log_history(run, {"val_accuracy": CURVES[trial]})
        for r, value in enumerate(values):
            nested = tracker.start_run(f"trial-{trial}-repeat-{r}", {**common, "trial": trial, "repeat": r}, run)
            tracker.log(nested, metrics={"best_val_accuracy": value})
            tracker.end_run(nested, FINISHED)
        tracker.end_run(run, FINISHED)
    failed = tracker.start_run("trial-3", {**common, "trial": 3, "state": "FAIL"}, parent)
    tracker.log(failed, params={"activation": "tanh", "layers": 1})
    tracker.end_run(failed, "FAILED")
    tracker.end_run(parent, FINISHED)
    return uri


def test_query_frames(store: str) -> None:
    trials = query.runs("known", store)
    assert list(trials["trial"]) == [0, 1, 2, 3] and list(trials["state"]) == ["COMPLETE"] * 3 + ["FAIL"]
    assert trials["params.layers"].dtype.kind == "i"  # numbers come back as numbers
    assert trials.loc[0, "value"] == pytest.approx(np.mean(RELU[0]))
    samples = query.samples("known", store)
    assert sorted(samples[samples["trial"] == 2]["sample"]) == sorted(TANH[2])
    curves = query.curves("known", store)
    assert set(curves["metric"]) == {"val_accuracy"}
    assert list(curves[curves["trial"] == 0].sort_values("step")["value"]) == pytest.approx(CURVES[0])
    assert query.runs("known", store, where="params.activation = 'tanh'")["trial"].tolist() == [2, 3]


def test_report_numbers_and_significance(store: str) -> None:
    # layers differs with activation in these trials; without it, activation alone varies (a
    # controlled comparison), and each replicate is a measurement
    trials = query.runs("known", store).drop(columns="params.layers")
    built = report.build(trials, query.samples("known", store), query.curves("known", store), ["activation"])
    relu, tanh = built.table.iloc[0], built.table.iloc[1]
    relu_values, tanh_values = RELU[0] + RELU[1], TANH[2]
    assert (relu["value"], relu["trials"], relu["n"]) == ("relu", 2, 6)
    assert relu["best"] == pytest.approx(np.mean(RELU[0]))
    assert relu["mean"] == pytest.approx(np.mean(relu_values)) and relu["std"] == pytest.approx(np.std(relu_values, ddof=1))
    assert relu["test of best"] == pytest.approx(TEST[0])
    assert relu["peak epoch"] == 2  # mean of trials 0 and 1 per epoch: 0.81, 0.86, 0.85
    assert (tanh["trials"], tanh["n"], tanh["peak epoch"]) == (1, 3, 3)  # the FAIL trial is left out
    p = stats.ttest_ind(tanh_values, relu_values, equal_var=False).pvalue
    difference = (np.mean(tanh_values) - np.mean(relu_values)) * 100
    assert built.sentences == [
        f"activation=tanh vs relu: {difference:+.1f} pt val_accuracy, p={p:.2f}, "
        f"{'significant' if p < 0.05 else 'not significant'} at 0.05 (n=3 and 6)"
    ]
    text = built.render("table")
    assert "objective: val_accuracy (maximize)" in text and f"{np.mean(relu_values):.4f} ± " in text
    csv = pd.read_csv(__import__("io").StringIO(built.render("csv")))
    assert list(csv["n"]) == [6, 3]
    assert built.render("markdown").splitlines()[2].startswith("| param | value |")


def test_a_comparison_whose_groups_differ_in_other_parameters_is_marginal(store: str) -> None:
    built = report.build(query.runs("known", store), query.samples("known", store), query.curves("known", store), ["activation"])
    assert list(built.table["n"]) == [2, 1]  # each trial one measurement, its replicates averaged
    (sentence,) = built.sentences
    assert sentence == (
        "activation=tanh vs relu: cannot test significance with n=1 and 2 trials; more trials (--trials N) put more "
        "in each group; marginal: the groups differ in other parameters too"
    )


def test_pruned_trials_are_left_out_and_said_so(own_store: str) -> None:
    store = own_store
    tracker = Tracker(store, "known")
    pruned = tracker.start_run(
        "trial-4",
        {
            "sweep": "known",
            "study": "known",
            "trial": 4,
            "state": "PRUNED",
            "objective.metric": "val_accuracy",
            "objective.direction": "maximize",
        },
    )
    tracker.log(pruned, params={"activation": "tanh", "layers": 3}, metrics={"best_val_accuracy": 0.5})
    tracker.end_run(pruned, FINISHED)
    built = report.build(query.runs("known", store), query.samples("known", store), query.curves("known", store), ["layers"])
    assert list(built.table["value"]) == [1, 2]  # layers=3 had only the pruned trial
    assert built.sentences[-1] == "left out: 1 pruned trial(s), stopped early by the sweep's pruner, so not comparable"


def test_significance_needs_two_measurements_each() -> None:
    sentence = report.significance("loss", ["bce", "mse"], [pd.Series([0.8]), pd.Series([0.7])], "val_accuracy")
    assert "cannot test significance with n=1 each" in sentence and "--repeats" in sentence
    clear = report.significance(
        "loss", ["bce", "mse"], [pd.Series([0.80, 0.81, 0.80]), pd.Series([0.70, 0.71, 0.70])], "val_accuracy"
    )
    assert clear.startswith("loss=mse vs bce: -10.0 pt val_accuracy, p=0.00, significant at 0.05 (n=3 each)")


def test_bad_by_and_missing_sweep(store: str) -> None:
    from sweeps.errors import ConfigError

    with pytest.raises(ConfigError, match=r"--by units: the runs have no parameter 'units'; they have activation, layers"):
        report.build(query.runs("known", store), query.samples("known", store), pd.DataFrame(), ["units"])
    with pytest.raises(ConfigError, match=r"no parameter differs between the \d+ COMPLETE trial\(s\).* --by PARAM \(activation"):
        report.build(query.runs("known", store), query.samples("known", store), pd.DataFrame(), [])  # nothing varied
    with pytest.raises(ConfigError, match=r"no runs of sweep 'unknown'"):
        query.runs("unknown", store)


def test_plots_are_small_pngs_that_compare(store: str, tmp_path: Path) -> None:
    trials, samples, curves = query.runs("known", store), query.samples("known", store), query.curves("known", store)
    written = write_sweep_plots(StudyRecords(trials, samples, curves, ["activation", "layers"]), tmp_path / "plots")
    names = {path.name for path in written}
    assert names == {
        "objective_activation.png",
        "objective_layers.png",
        "curves_activation.png",
        "curves_layers.png",
        "parallel_coordinates.png",
        "importance.png",
    }
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size < 200_000


def test_curves_keep_numbers_as_numbers_so_values_sort_naturally(store: str) -> None:
    curves = query.curves("known", store)
    assert pd.api.types.is_numeric_dtype(curves["params.layers"])  # as query.runs has them: 2 < 10
    assert query.ordered(pd.Series([10, 2, 1])) == [1, 2, 10]


def test_more_than_two_values_test_the_best_mean_against_each_other() -> None:
    measured = [pd.Series([0.80, 0.81, 0.82]), pd.Series([0.86, 0.87, 0.85]), pd.Series([0.84, 0.86, 0.85])]
    groups = Groups("layers", [1, 2, 3], [pd.DataFrame()] * 3, ranged=False, marginal=False)
    sentences = report.sentences_for(groups, measured, "val_accuracy", "maximize")
    assert [s.split(":")[0] for s in sentences] == ["layers=2 vs 1", "layers=2 vs 3"]
    assert sentences[0].startswith("layers=2 vs 1: +5.0 pt val_accuracy, p=") and "(n=3 each)" in sentences[0]


def test_one_measurement_shows_no_spread(store: str) -> None:
    built = report.build(query.runs("known", store), query.samples("known", store), query.curves("known", store), ["layers"])
    single = built.table.assign(n=1, std=float("nan"))
    rows = [
        line
        for line in report.Report(built.metric, built.direction, single, []).render("table").splitlines()
        if line.startswith("layers")
    ]
    assert rows and not any("±" in row for row in rows)  # not "± 0.0000": no spread was measured


def test_report_command_after_a_replicated_sweep(tmp_path: Path, imdb_dir: Path, sweeps_here) -> None:
    ran = sweeps_here("imdb_activation", "--epochs", "2", "--repeats", "3", "--data-dir", str(imdb_dir), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    shown = sweeps_here("report", "imdb_activation", "--by", "activation", "--plots", str(tmp_path / "plots"), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "objective: val_accuracy (maximize)"
    rows = [line.split() for line in lines if line.startswith("activation ")]
    assert [(row[1], row[2], row[3]) for row in rows] == [("relu", "1", "3"), ("tanh", "1", "3")]
    assert any(line.startswith("activation=tanh vs relu: ") and "(n=3 each)" in line for line in lines)
    assert (tmp_path / "plots" / "curves_activation.png").exists() and (tmp_path / "plots" / "objective_activation.png").exists()
    assert not list((tmp_path / "plots").glob("*.html"))  # a grid over one parameter: no history, no importances
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    parent = next(r for r in query.runs("imdb_activation", client.tracking_uri).itertuples())
    parent_id = client.get_run(parent.run_id).data.tags["mlflow.parentRunId"]
    logged = {a.path for a in client.list_artifacts(parent_id, "plots")}
    assert logged == {"plots/curves_activation.png", "plots/objective_activation.png"}  # the same plots on the parent


def test_where_compares_params_as_numbers(store: str) -> None:
    assert list(query.runs("known", store, where="params.layers > 1")["trial"]) == [0, 1]
    assert list(query.runs("known", store, where="params.layers <= 1 and params.activation = 'tanh'")["trial"]) == [2, 3]
    assert list(query.runs("known", store, where="params.layers = 2 and metrics.test_accuracy > 0.86")["trial"]) == [0]
    assert query.runs("known", store, where="params.activation > 1").empty  # a text param is no number


def test_the_report_says_which_study_and_lists_the_others(own_store: str, tmp_path: Path, monkeypatch, capsys) -> None:
    from sweeps.cli import main

    store = own_store
    tracker = Tracker(store, "known")
    tags = {
        "sweep": "known",
        "study": "known@2026-11-20",
        "engine": "optuna",
        "objective.metric": "val_accuracy",
        "state": "COMPLETE",
    }
    night = tracker.start_run("known@2026-11-20", tags)
    run = tracker.start_run("trial-0", {**tags, "trial": 0}, night)
    tracker.log(run, params={"activation": "relu", "layers": 2}, metrics={"best_val_accuracy": 0.9})
    for finished in (run, night):
        tracker.end_run(finished, FINISHED)
    monkeypatch.chdir(tmp_path)
    assert main(["report", "known", "--tracking-uri", store, "--by", "activation"]) == 0
    first = capsys.readouterr().err.splitlines()[0]
    assert first == "known: study known, 4 trial(s); 1 other study (known@2026-11-20): choose with --study NAME, or --study all"
    assert main(["report", "known", "--tracking-uri", store, "--study", "nope"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --study nope: sweep 'known' has no such study; it has known (4 trials), known@2026-11-20 (1 trials), "
        "or use --study all"
    )
    (tmp_path / "a_file").write_text("")  # (not a read-only directory: the tests may run as root)
    assert main(["report", "known", "--tracking-uri", store, "--by", "activation", "--plots", "a_file/plots"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.splitlines()[-1] == (
        "error: --plots a_file/plots: cannot write there (Not a directory); name a directory you can write to"
    )
