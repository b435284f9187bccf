"""The command (in this process, or in a subprocess where a signal is the point), then MLflow and
Optuna queried for what it recorded."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from mlflow import MlflowClient

from sweeps.cli import main
from sweeps.runner.signals import interruptible_children
from sweeps.spec.catalog import sweep_files
from tests.support import BASE, REPO, mlflow_runs, run_sweeps

QUICK = ("--trials", "2", "--epochs", "1", "--repeats", "1")  # one fit per configuration: its records whole


def split(runs: list) -> tuple[list, list]:
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


def test_imdb_depth_end_to_end_then_resume(tmp_path: Path, imdb_dir: Path, sweeps_here) -> None:
    done = sweeps_here("imdb_depth", *QUICK, "--data-dir", str(imdb_dir), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "study imdb_depth[epochs=1,repeats=1]: 2 trial(s), 2 run now" in done.stdout
    assert "trial  layers  val_accuracy  test_accuracy  best epoch  state" in done.stdout
    assert "data: data-dir" in done.stderr and "holding out 40%" in done.stderr
    # stderr is not a terminal: no bar, no carriage returns, one line per finished trial
    assert "\r" not in done.stderr
    finished = re.findall(r"^\[\d/2\] trial \d layers=\d: COMPLETE val_accuracy=0\.\d{4}$", done.stderr, re.MULTILINE)
    assert len(finished) == 2, done.stderr

    parents, children = split(mlflow_runs(tmp_path, "imdb_depth"))
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert sorted(c.info.run_name for c in children) == ["layers=1", "layers=2"]  # named after what they tried
    assert sorted(c.data.params["layers"] for c in children) == ["1", "2"]
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.params["units"] == "16" and child.data.params["epochs"] == "1"
        assert child.data.params["loss"] == "binary_crossentropy" and child.data.params["optimizer"] == "rmsprop"
        tags = child.data.tags
        assert tags["sweep"] == "imdb_depth" and tags["engine"] == "optuna" and tags["state"] == "COMPLETE"
        assert tags["data.source"] == "data-dir" and tags["trial"] in ("0", "1") and tags["sweeps.role"] == "trial"
        assert tags["mlflow.source.git.commit"] and tags["mlflow.source.name"].endswith("imdb_depth.yaml")
        assert tags["mlflow.source.type"] == "LOCAL" and tags["mlflow.user"]
        (dataset,) = child.inputs.dataset_inputs
        assert dataset.dataset.name == "imdb" and dataset.dataset.digest == tags["data.fingerprint"]
        for metric in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert [m.step for m in client.get_metric_history(child.info.run_id, metric)] == [1]
        assert 0.0 <= child.data.metrics["test_accuracy"] <= 1.0 and "test_loss" in child.data.metrics
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert artifacts == {"learning_curves.png", "model_summary.txt"}
        png = Path(client.download_artifacts(child.info.run_id, "learning_curves.png", str(tmp_path)))
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert parent.info.status == "FINISHED" and parent.data.tags["study"] == "imdb_depth[epochs=1,repeats=1]"
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {"search_space.yaml", "trials.md"}
    assert parent.data.tags["best.trial"] in ("0", "1") and "best_val_accuracy" in parent.data.metrics

    again = sweeps_here("imdb_depth", *QUICK, "--data-dir", str(imdb_dir), cwd=tmp_path)
    assert again.returncode == 0 and "nothing to run" in again.stdout
    assert len(mlflow_runs(tmp_path, "imdb_depth")) == 3  # no empty parent run for a no-op

    more = sweeps_here(
        "imdb_depth", "--trials", "3", "--epochs", "1", "--repeats", "1", cwd=tmp_path, SWEEPS_DATA_DIR=str(imdb_dir)
    )
    assert more.returncode == 0, more.stderr
    assert f"data: data-dir {imdb_dir / 'imdb.npz'}" in more.stderr
    assert "3 trial(s), 1 run now" in more.stdout
    parents, children = split(mlflow_runs(tmp_path, "imdb_depth"))
    assert len(parents) == 2 and sorted(c.data.params["layers"] for c in children) == ["1", "2", "3"]
    study = optuna.load_study(
        study_name="imdb_depth[epochs=1,repeats=1]", storage=f"sqlite:///{tmp_path / 'mlruns' / 'optuna.db'}"
    )
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    assert {t.user_attrs["mlflow_run_id"] for t in study.trials} == {c.info.run_id for c in children}


def test_list_shows_every_sweep_with_its_description(tmp_path: Path) -> None:
    listed = run_sweeps("list", cwd=tmp_path)
    assert listed.returncode == 0
    for path in sweep_files(REPO / "search_spaces"):
        description = yaml.safe_load(path.read_text())["description"]
        assert f"{path.stem}" in listed.stdout and description in listed.stdout


def training_trial(tmp_path: Path, study: str) -> bool:
    """Whether the study has a RUNNING trial that has finished an epoch (its run has a val_accuracy)."""
    try:
        loaded = optuna.load_study(study_name=study, storage=f"sqlite:///{tmp_path / 'mlruns' / 'optuna.db'}")
        running = [t for t in loaded.trials if t.state.name == "RUNNING" and t.user_attrs.get("mlflow_run_id")]
        if not running:  # (a client opened before the sweep has made its MLflow store would make one itself, racing it)
            return False
        client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
        return any(client.get_metric_history(t.user_attrs["mlflow_run_id"], "val_accuracy") for t in running)
    except Exception:  # the stores are still being made
        return False


def test_ctrl_c_fails_the_trials_and_leaves_no_run_running(tmp_path: Path, imdb_dir: Path) -> None:
    """imdb_depth's three trials train as one fused set (JAX): Ctrl-C fails all three."""
    # Long enough that the trials still train when Ctrl-C comes: 400 epochs of 180 rows once ended first.
    command = [sys.executable, "-m", "sweeps", "imdb_depth", "--epochs", "5000", "--repeats", "1", "--data-dir", str(imdb_dir)]
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr, interruptible_children():
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            stderr=stderr,
            stdout=subprocess.DEVNULL,
            env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
        )
    try:
        deadline = time.monotonic() + 180
        while not training_trial(tmp_path, "imdb_depth[epochs=5000,repeats=1]") and time.monotonic() < deadline:
            time.sleep(0.3)  # the event: a trial training, seen in the stores
        assert process.poll() is None, log.read_text()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:  # a sweep left training 5000 epochs would slow every later test
        process.kill()
    err = log.read_text()
    assert process.returncode == 130, err
    assert "interrupted: trials 0, 1, 2 were marked FAIL and their runs KILLED; run the same command again to resume" in err
    assert "data: data-dir" in (tmp_path / "mlruns" / "logs" / "imdb_depth.log").read_text()  # notes are logged too
    parents, children = split(mlflow_runs(tmp_path, "imdb_depth"))
    assert [r.info.status for r in parents + children] == ["KILLED"] * 4
    study = optuna.load_study(
        study_name="imdb_depth[epochs=5000,repeats=1]", storage=f"sqlite:///{tmp_path / 'mlruns' / 'optuna.db'}"
    )
    assert [t.state.name for t in study.trials] == ["FAIL"] * 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["imdb_dept"], r"error: unknown sweep 'imdb_dept' \(did you mean imdb_depth\?\); available: .*imdb_depth"),
        (["../etc/passwd"], r"error: sweep '../etc/passwd': a name, or the path of a .yaml search-space file"),
        (["imdb_depth", "--set", "activation=swish"], r"error: --set activation=swish: activation: must be one of relu"),
        (["imdb_depth", "--set", "units"], r"error: --set units: expected KEY=VALUE"),
        (["imdb_depth", "--set", "layers=2"], r"error: --set layers=2: layers is swept by"),
        (["imdb_depth", "--epochs", "0"], r"error: --set epochs=0: epochs: must be >= 1, got 0"),
        (["imdb_depth", "--trials", "0"], r"error: --trials: must be >= 1, got 0"),
        (["imdb_depth", "--data-dir", "/no/such/dir"], r"error: --data-dir /no/such/dir: not a directory"),
        (["bad"], r"error: .*bad\.yaml: not valid YAML at line 2"),
        (["unknown_key"], r"error: .*unknown_key\.yaml: fixed\.colour: unknown hyperparameter for this pipeline"),
        (["low_high"], r"error: .*low_high\.yaml: params\.units\.low: low <= high must hold, got low=64, high=16"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(workdir: Path, capsys, args: list[str], message: str) -> None:
    spaces = workdir / "spaces"
    spaces.mkdir()
    (spaces / "bad.yaml").write_text("name: bad\n  description: [unclosed\n")
    (spaces / "unknown_key.yaml").write_text(yaml.safe_dump({**BASE, "name": "unknown_key", "fixed": {"colour": 1}}))
    (spaces / "low_high.yaml").write_text(
        yaml.safe_dump(
            {
                **BASE,
                "name": "low_high",
                "sampler": {"type": "random"},
                "params": {"units": {"type": "int", "low": 64, "high": 16}},
            }
        )
    )
    spaces_args = [] if args[0] in ("imdb_dept", "../etc/passwd", "imdb_depth") else ["--spaces", str(spaces)]
    if args[0] == "imdb_depth":
        spaces_args = ["--spaces", str(REPO / "search_spaces")]
    code = main(["run", *args, *spaces_args])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err
    assert __import__("re").search(message, lines[0]), lines[0]
    assert not (workdir / "mlruns").exists()


def test_bad_data_file_is_one_line_from_the_real_command(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "imdb.npz").write_bytes(b"PK\x03\x04 this is not really a zip file")
    result = run_sweeps("imdb_depth", *QUICK, "--data-dir", str(data), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {data / 'imdb.npz'}: not a readable Keras .npz file")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()


def test_debug_shows_the_traceback(workdir: Path) -> None:
    with pytest.raises(Exception, match="unknown sweep"):
        main(["run", "nope", "--debug"])


def test_usage_errors_are_one_line_naming_the_commands_help(capsys) -> None:
    for argv, line in (
        (["run"], "error: the following arguments are required: name; see `sweeps run --help`"),
        (["imdb_depth", "--bogus"], "error: unrecognized arguments: --bogus; see `sweeps run --help`"),
        (["report", "imdb_depth", "--trials", "3"], "error: unrecognized arguments: --trials 3; see `sweeps report --help`"),
        (["schedule"], "error: one of the arguments --cron --systemd is required; see `sweeps schedule --help`"),
    ):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
        assert capsys.readouterr().err.splitlines() == [line]


def test_version_and_the_help_name_the_shorthand(capsys) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"sweeps {version('keras-sweeps')}"
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "`sweeps NAME` is short for `sweeps run NAME`" in " ".join(capsys.readouterr().out.split())


def test_ctrl_c_when_no_trial_was_running_says_so(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from sweeps.commands import run

    def interrupted(args):
        """A run interrupted when no trial is running."""
        raise KeyboardInterrupt  # e.g. while the finished study's records are written

    monkeypatch.setattr(run, "cmd_run", interrupted)
    assert main(["run", "imdb_depth"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted: no trial was running; run the same command again to resume"


def test_a_finished_grid_does_not_ask_for_more_trials(capsys) -> None:
    from types import SimpleNamespace

    from sweeps.commands.run import _print_results
    from sweeps.spec.loading import load_spec

    spec = load_spec(REPO / "search_spaces" / "imdb_depth.yaml")
    points = len(spec.grid_points())
    for done, message in (
        (points, "every point of the grid has been tried"),
        (points - 1, "the study's budget of 3 trials is spent (raise --trials to run more)"),
    ):
        result = SimpleNamespace(
            study="imdb_depth",
            records=[None] * done,
            ran=0,
            best=None,
            table=lambda: "",
            dataset=SimpleNamespace(source=SimpleNamespace(kind="keras")),
            comparison=None,
        )
        _print_results(spec, result, "sqlite:///mlruns/mlflow.db")
        assert f"nothing to run: {message}" in " ".join(capsys.readouterr().out.split())


def test_a_long_description_is_one_header_line_but_whole_in_list_and_the_note(
    workdir: Path, imdb_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    question = "Does a long question stay off the terminal? " * 4
    description = question + "\n" + "Why we ask, at length. " * 450  # 10 KB
    spaces = workdir / "spaces"
    spaces.mkdir()
    spaces.joinpath("s.yaml").write_text(yaml.safe_dump({**BASE, "description": description, "trials": 1}))
    monkeypatch.setenv("COLUMNS", "72")  # what shutil.get_terminal_size reads first
    assert main(["run", "s", "--spaces", str(spaces), "--data-dir", str(imdb_dir), "--epochs", "1"]) == 0
    header = capsys.readouterr().err.splitlines()[0]
    assert header == f"s: {question}"[:69] + "...", header
    assert main(["list", "--spaces", str(spaces)]) == 0
    assert " ".join(description.split()) in " ".join(capsys.readouterr().out.split())
    (parent,) = [r for r in mlflow_runs(workdir, "s") if r.data.tags.get("sweeps.role") == "study"]
    note = parent.data.tags["mlflow.note.content"]
    assert note.startswith(f"### {question.strip()}\n") and "Study `s[epochs=1]`: 1 COMPLETE." in note  # the answer first
    assert "![objective_layers.png](get-artifact?path=plots/objective_layers.png" in note  # the plots kept
    assert "Why we ask, at length." in note and len(note) <= 8000


def test_the_quick_start_ends_with_its_answer_and_its_significance(tmp_path: Path, imdb_dir: Path, sweeps_here) -> None:
    done = sweeps_here("imdb_depth", "--epochs", "2", "--data-dir", str(imdb_dir), cwd=tmp_path)  # its own 5 seeds
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.index("trial  layers  val_accuracy") < out.index("param   value  trials  n  best")  # the answer after the table
    assert re.search(r"(?m)^layers  1      1       5  0\.\d{4}  0\.\d{4} ± 0\.\d{4}", out), out
    sentences = r"(?m)^layers=\d vs \d: [+-]\d+\.\d pt val_accuracy, p=\d\.\d+, (?:not )?significant at 0\.05 \(n=5 each\)$"
    assert len(re.findall(sentences, out)) == 2, out  # the best depth against each other one
    again = sweeps_here("imdb_depth", "--epochs", "2", "--data-dir", str(imdb_dir), cwd=tmp_path)
    assert "nothing to run" in again.stdout and len(re.findall(sentences, again.stdout)) == 2  # the answer, again
