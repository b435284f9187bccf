"""One grammar for every command: options spelled whole, accepted before or after the command,
the same store options wherever a store is read, and every usage error one line with exit 2
that names the part that is wrong (and the option meant, for a near miss)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweeps.cli import main
from sweeps.commands import COMMANDS
from sweeps.tracking.filters import split_filter


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one line a usage error prints (exit 2 asserted)."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["imdb_depth", "--epoch", "1"],
            "error: unrecognized arguments: --epoch 1 (did you mean --epochs?); see `sweeps run --help`",
        ),
        (
            ["report", "x", "--were", "a"],
            "error: unrecognized arguments: --were a (did you mean --where?); see `sweeps report --help`",
        ),
        (["ui", "--port", "99999"], "error: argument --port: must be a port number 1-65535, got 99999; see `sweeps ui --help`"),
        (
            ["server", "--proxy-port", "http"],
            "error: argument --proxy-port: must be a port number 1-65535, got 'http'; see `sweeps server --help`",
        ),
        (
            ["list", "--project", "/no/such/dir"],
            "error: argument --project: /no/such/dir: no such directory; see `sweeps list --help`",
        ),
        (
            ["--storage", "sqlite:///x.db", "init", "x"],
            "error: unrecognized arguments: --storage=sqlite:///x.db; see `sweeps init --help`",
        ),
        (
            ["report", "x", "--connect-timeout", "-1"],
            "error: argument --connect-timeout: must be a number of seconds > 0, got '-1'; see `sweeps report --help`",
        ),
    ],
    ids=["abbreviation", "near-miss", "port-range", "port-text", "directory", "option-before-a-command-without-it", "timeout"],
)
def test_usage_errors_name_what_is_wrong(argv: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert usage_error(argv, capsys) == line


def test_common_options_come_before_or_after_the_command(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--debug", "list"]) == 0
    before = capsys.readouterr().out
    assert main(["list", "--debug"]) == 0
    assert capsys.readouterr().out == before and "imdb_depth" in before
    with pytest.raises(Exception, match="unknown sweep"):  # --debug before a sweep's name: the traceback
        main(["--debug", "no_such_sweep"])
    assert main(["--tracking-uri", f"sqlite:///{workdir / 'none.db'}", "history", "imdb_depth"]) == 1
    assert "no MLflow store" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["report", "history", "ui"])
def test_every_command_that_reads_a_store_takes_every_store_option(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    shown = capsys.readouterr().out
    assert all(option in shown for option in ("--tracking-uri", "--storage", "--connect-timeout"))


def test_a_store_server_that_does_not_answer_is_one_line_within_the_timeout(workdir: Path, capsys) -> None:
    assert main(["report", "imdb_depth", "--tracking-uri", "http://127.0.0.1:9", "--connect-timeout", "1"]) == 1
    assert capsys.readouterr().err.strip().startswith("error: --tracking-uri http://127.0.0.1:9: no answer from 127.0.0.1:9")


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("params.layers >> 1", "'>>' after params.layers is not a comparison; use one of =, !=, <, <=, >, >=, LIKE"),
        ("layers > 1", "'layers > 1' must start with params.NAME, metrics.NAME, tags.NAME or attributes.NAME"),
        ("params.layers >", "'params.layers >' has no value to compare with"),
    ],
)
def test_a_malformed_filter_names_the_part_that_is_wrong(where: str, message: str) -> None:
    with pytest.raises(Exception, match=f"^--where {where!r}: " + __import__("re").escape(message)):
        split_filter(where)


def test_a_well_formed_filter_passes_to_mlflow_and_numbers_are_compared_here() -> None:
    kept, tests = split_filter("params.activation = 'tanh' and params.layers > 1 and tags.state LIKE 'C%'")
    assert kept == "params.activation = 'tanh' and tags.state LIKE 'C%'" and len(tests) == 1
    assert tests[0]({"layers": "2"}) and not tests[0]({"layers": "1"})


@pytest.mark.parametrize("name", [*COMMANDS, "nightly"])
def test_init_refuses_the_names_of_commands_and_of_the_schedule(name: str, workdir: Path, capsys) -> None:
    assert main(["init", name]) == 2
    assert f"error: init {name}: {name} is " in capsys.readouterr().err
    assert not (workdir / "search_spaces").exists()


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["report", "x", "--tracking-uri", "foo://bar"],
            "error: --tracking-uri foo://bar: foo:// is not a store it can open; use sqlite:///mlruns/mlflow.db, postgresql://...",
        ),
        (["imdb_depth", "--tracking-uri", "mlruns"], "error: --tracking-uri mlruns: a path, not a URL; use sqlite:///"),
        (["imdb_depth", "--storage", "http://x:5000"], "error: --storage http://x:5000: http:// is not a store it can open"),
        (["server", "--backend-store-uri", "runs/"], "error: --backend-store-uri runs/: a path, not a URL; use sqlite:///"),
        (["ui", "--host", "999.1.1.1", "--port", "5999"], "error: --host 999.1.1.1: not an address of this machine"),
    ],
    ids=["scheme", "path", "storage-scheme", "server-backend", "host"],
)
def test_a_store_or_host_of_the_wrong_kind_is_one_line_before_anything_is_loaded(
    argv: list[str], line: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.startswith(line) and len(err.strip().splitlines()) == 1 and "data:" not in err
    assert not (workdir / "mlruns").exists()  # nothing written
