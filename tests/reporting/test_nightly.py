"""Nightly sweeps: two simulated nights, a forced regression, re-runs, history, cron and systemd."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from sweeps.cli import main
from tests.support import REPO, mlflow_runs


def one_fit_spaces(directory: Path) -> Path:
    """The built-in sweeps with one fit per configuration (their ``repeats`` left out): these
    tests are of nights, not of seeds."""
    spaces = directory / "one_fit_spaces"
    spaces.mkdir(exist_ok=True)
    for path in (REPO / "search_spaces").glob("*.yaml"):
        (spaces / path.name).write_text(re.sub(r"(?m)^repeats: .*\n", "", path.read_text()))
    return spaces


def schedule(workdir: Path, **overrides) -> Path:
    path = workdir / "nightly.yaml"
    path.write_text(
        yaml.safe_dump({"sweeps": {"imdb_depth": {"trials": 2, "threshold": 0.01, "set": {"epochs": 2, **overrides}}}})
    )
    return path


def night(workdir: Path, imdb_dir: Path, date: str, capsys, **overrides) -> tuple[int, str]:
    code = main(
        [
            "nightly",
            "--date",
            date,
            "--schedule",
            str(schedule(workdir, **overrides)),
            "--data-dir",
            str(imdb_dir),
            "--spaces",
            str(one_fit_spaces(workdir)),
        ]
    )
    return code, capsys.readouterr().out


def parents(workdir: Path, date: str) -> list:
    return [
        r
        for r in mlflow_runs(workdir, "imdb_depth")
        if "mlflow.parentRunId" not in r.data.tags and r.data.tags.get("nightly") == date
    ]


def row(summary: str) -> list[str]:
    (line,) = [line for line in summary.splitlines() if line.startswith("| imdb_depth |")]
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_two_nights_then_a_regression(workdir: Path, imdb_dir: Path, capsys) -> None:
    code, first = night(workdir, imdb_dir, "2026-11-20", capsys)
    assert code == 0 and row(first)[6] == "first night"
    assert [p.data.tags["study"] for p in parents(workdir, "2026-11-20")] == ["imdb_depth@2026-11-20"]

    code, second = night(workdir, imdb_dir, "2026-11-21", capsys)
    cells = row(second)
    assert code == 0 and cells[3] == "2026-11-20"  # compared with the night before
    assert cells[4] == row(first)[2] and cells[6] in ("unchanged", "improved")
    assert (workdir / "mlruns" / "nightly" / "2026-11-21.md").read_text().startswith("# Nightly sweeps, 2026-11-21")

    again, _ = night(workdir, imdb_dir, "2026-11-21", capsys)  # re-running a date resumes it
    assert again == 0 and len(parents(workdir, "2026-11-21")) == 1

    code, third = night(workdir, imdb_dir, "2026-11-22", capsys, learning_rate=1e-9)  # a forced drop
    cells = row(third)
    assert code == 3 and cells[6] == "REGRESSED" and cells[3] == "2026-11-21"
    assert "**1 sweep(s) regressed: imdb_depth**" in third
    assert float(cells[5]) < -0.01
    summaries = list(mlflow_runs(workdir, "nightly"))
    assert sorted(r.data.tags["nightly"] for r in summaries) == ["2026-11-20", "2026-11-21", "2026-11-22"]

    assert main(["history", "imdb_depth"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["2026-11-20", "2026-11-21", "2026-11-22"]
    assert lines[1].split()[-1] == "-" and lines[3].split()[-1].startswith("-")  # the drop, as a change


def test_one_failing_sweep_does_not_stop_the_others(workdir: Path, imdb_dir: Path, capsys) -> None:
    """boston_kfold fails at run time (the data directory has no Boston file); imdb_depth runs."""
    entries = {
        "boston_kfold": {"trials": 1, "threshold": 0.0},
        "imdb_depth": {"trials": 1, "threshold": 0.01, "set": {"epochs": 1}},
    }
    (workdir / "nightly.yaml").write_text(yaml.safe_dump({"sweeps": entries}))
    schedule_file = str(workdir / "nightly.yaml")
    code = main(["nightly", "--date", "2026-11-20", "--schedule", schedule_file, *data_and_spaces(imdb_dir, workdir)])
    out = capsys.readouterr().out
    assert code == 1
    assert "**1 sweep(s) failed: boston_kfold**" in out and "No sweep regressed" not in out
    assert "| boston_kfold |" in out and "FAILED" in out and "no boston_housing.npz there" in out
    assert row(out)[6] == "first night"

    assert main(["history", "boston_kfold"]) == 0  # a sweep that failed every night still has a history
    (night,) = capsys.readouterr().out.splitlines()[1:]
    assert night.startswith("2026-11-20") and "FAILED: " in night and "boston_housing.npz" in night


def data_and_spaces(imdb_dir: Path, workdir: Path) -> list[str]:
    return ["--data-dir", str(imdb_dir), "--spaces", str(one_fit_spaces(workdir))]


@pytest.mark.parametrize(
    ("schedule_text", "rule"),
    [
        (
            "sweeps:\n  imdb_depth: {trials: 1, threshold: 0.01}\n  no_such_sweep: {trials: 1, threshold: 0.0}\n",
            r"the schedule's no_such_sweep: unknown sweep 'no_such_sweep'",
        ),
        (
            "sweeps:\n  imdb_depth: {trials: 1, threshold: .nan}\n",
            r"nightly\.yaml: sweeps\.imdb_depth\.threshold: must be a finite",
        ),
        (
            "sweeps:\n  imdb_depth: {trials: 1, threshold: 0.01, set: {dropout: 2}}\n",
            r"the schedule's imdb_depth: .*dropout: must be < 1\.0, got 2",
        ),
        (b"sweeps:\n  imdb_depth: {trials: 1, threshold: 0.01}  # caf\xe9\n", r"nightly\.yaml: not UTF-8 text"),
    ],
    ids=["unknown sweep", "nan threshold", "bad override", "not utf-8"],
)
def test_a_bad_schedule_is_one_line_before_any_night_runs(
    workdir: Path, imdb_dir: Path, capsys, schedule_text: str | bytes, rule: str
) -> None:
    path = workdir / "nightly.yaml"
    path.write_bytes(schedule_text if isinstance(schedule_text, bytes) else schedule_text.encode())
    assert main(["nightly", "--date", "2026-11-20", "--schedule", str(path), *data_and_spaces(imdb_dir, workdir)]) == 2
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert re.search(rule, line), line
    assert "==" not in err and not (workdir / "mlruns").exists()  # no night started, no store made, none FAILED


def test_schedule_cron_and_systemd(workdir: Path, capsys) -> None:
    assert main(["schedule", "--cron", "--at", "03:15"]) == 0
    cron = capsys.readouterr().out.strip()
    assert cron.startswith(f"15 3 * * * cd {workdir.resolve()} && mkdir -p mlruns/logs && {sys.executable} -m sweeps nightly")
    assert cron.endswith(f">> {workdir.resolve() / 'mlruns' / 'logs' / 'nightly.log'} 2>&1")
    assert main(["schedule", "--systemd"]) == 0
    units = capsys.readouterr().out
    assert f"WorkingDirectory={workdir.resolve()}" in units and "OnCalendar=*-*-* 02:30:00" in units
    assert f"exec {sys.executable} -m sweeps nightly >> " in units and "[Install]\nWantedBy=timers.target" in units
    assert main(["schedule", "--cron", "--at", "25:00"]) == 2
    assert "error: --at 25:00: expected H:MM or HH:MM on a 24-hour clock" in capsys.readouterr().err


def test_schedule_embeds_where_the_nightly_reads_and_writes(
    workdir: Path, imdb_dir: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cron passes no environment on: the data, schedule and stores must be in the command itself."""
    (workdir / "my schedule.yaml").write_text("sweeps:\n  imdb_depth: {trials: 3, threshold: 0.01}\n")
    stores = ["--tracking-uri", "http://tracker:5000", "--storage", "sqlite:///mlruns/o.db"]
    assert (
        main(["schedule", "--cron", "--at", "3:05", "--schedule", "my schedule.yaml", "--data-dir", str(imdb_dir), *stores]) == 0
    )
    cron = capsys.readouterr().out.strip()
    assert cron.startswith("5 3 * * * ")
    assert (
        f"-m sweeps nightly --schedule '{workdir.resolve() / 'my schedule.yaml'}' --data-dir {imdb_dir.resolve()} "
        f"--tracking-uri http://tracker:5000 --storage sqlite:///{workdir.resolve() / 'mlruns' / 'o.db'} >> " in cron
    )
    monkeypatch.setenv("SWEEPS_DATA_DIR", str(imdb_dir))  # the environment of the person scheduling it
    assert main(["schedule", "--systemd"]) == 0
    assert f"-m sweeps nightly --data-dir {imdb_dir.resolve()} >> " in capsys.readouterr().out
    assert main(["schedule", "--cron", "--data-dir", "no_such_dir"]) == 2
    assert (
        capsys.readouterr().err.strip() == "error: --data-dir no_such_dir: not a directory; the scheduled run could not read it"
    )


def test_the_shipped_schedule_names_real_sweeps() -> None:
    from sweeps.spec.catalog import sweep_files
    from sweeps.spec.schedule import load_schedule

    entries = load_schedule(REPO / "search_spaces" / "nightly.yaml")
    assert {e.sweep for e in entries} <= {p.stem for p in sweep_files(REPO / "search_spaces")}


def test_history_without_nights_says_whether_the_sweep_is_scheduled(workdir: Path, capsys) -> None:
    from sweeps.tracking.tracker import Tracker

    Tracker(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}", "imdb_depth")  # a store, with no nightly run in it
    schedule = REPO / "search_spaces" / "nightly.yaml"
    assert main(["history", "imdb_depth"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: 'imdb_depth' is in the schedule {schedule} but no night has run yet; run `sweeps nightly`"
    )
    assert main(["history", "imdb_width"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: 'imdb_width' has no nightly runs and is not in the schedule {schedule}; add it there and run `sweeps nightly`"
    )


def test_schedule_refuses_a_schedule_that_would_fail_every_night(workdir: Path, capsys) -> None:
    (workdir / "search_spaces").mkdir()
    (workdir / "search_spaces" / "nightly.yaml").write_text("sweeps:\n  imdb_dept: {trials: 3, threshold: 0.01}\n")
    assert main(["schedule", "--cron"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: the schedule's imdb_dept: unknown sweep 'imdb_dept' (did you mean imdb_depth?)")
