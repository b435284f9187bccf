"""A corpus of bad inputs: each is one clear line and a non-zero exit, and nothing stored changes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from sweeps.cli import main
from sweeps.data.sources import DataOptions
from sweeps.runner.sweep import RunOptions, run_sweep
from sweeps.spec.sweep import load_spec
from sweeps.tracking.stores import Stores
from tests.support import BASE, write_imdb

SPACES = {  # file name -> document (a string is written as is)
    "malformed": "name: malformed\n  description: [unclosed\n",
    "unknown_key": {**BASE, "name": "unknown_key", "colour": "red"},
    "wrong_type": {**BASE, "name": "wrong_type", "trials": "three"},
    "empty_choices": {**BASE, "name": "empty_choices", "params": {"layers": {"type": "categorical", "choices": []}}},
    "low_high": {
        **BASE,
        "name": "low_high",
        "sampler": {"type": "random"},
        "params": {"units": {"type": "int", "low": 64, "high": 16}},
    },
    "negative_dropout": {**BASE, "name": "negative_dropout", "fixed": {"dropout": -0.2}},
    "dropout_one": {**BASE, "name": "dropout_one", "fixed": {"dropout": 1.0}},
    "unknown_pipeline": {**BASE, "name": "unknown_pipeline", "pipeline": "imdbb"},
    "unknown_activation": {**BASE, "name": "unknown_activation", "fixed": {"activation": "swish"}},
    "unknown_optimizer": {**BASE, "name": "unknown_optimizer", "fixed": {"optimizer": "lbfgs"}},
    "unknown_loss": {**BASE, "name": "unknown_loss", "fixed": {"loss": "hinge"}},
    "unknown_engine": {**BASE, "name": "unknown_engine", "engine": "hyperopt"},
    "grid_float": {**BASE, "name": "grid_float", "params": {"dropout": {"type": "float", "low": 0.0, "high": 0.5}}},
    "bad_metric": {**BASE, "name": "bad_metric", "objective": {"metric": "val_auc"}},
    "name_mismatch": {**BASE, "name": "another_name"},
}

CASES = [  # (arguments, the rule the one line must state, exit code)
    (["malformed"], r"malformed\.yaml: not valid YAML at line 2", 2),
    (["unknown_key"], r"unknown_key\.yaml: colour: unknown key", 2),
    (["wrong_type"], r"wrong_type\.yaml: trials: must be an integer, got 'three'", 2),
    (["empty_choices"], r"empty_choices\.yaml: params\.layers\.choices: must be a non-empty list", 2),
    (["low_high"], r"low_high\.yaml: params\.units\.low: low <= high must hold, got low=64, high=16", 2),
    (["negative_dropout"], r"fixed\.dropout: must be >= 0\.0, got -0\.2", 2),
    (["dropout_one"], r"fixed\.dropout: must be < 1\.0, got 1\.0", 2),
    (["unknown_pipeline"], r"pipeline: unknown pipeline 'imdbb'; available: ", 2),
    (["unknown_activation"], r"fixed\.activation: must be one of relu, tanh", 2),
    (["unknown_optimizer"], r"fixed\.optimizer: must be one of rmsprop", 2),
    (["unknown_loss"], r"fixed\.loss: must be one of binary_crossentropy, mse, got 'hinge'", 2),
    (["unknown_engine"], r"engine: must be one of optuna, keras_tuner, got 'hyperopt'", 2),
    (["grid_float"], r"params\.dropout\.step: a grid needs choices or a step", 2),
    (["bad_metric"], r"objective\.metric: imdb reports val_accuracy, val_loss; got 'val_auc'", 2),
    (["name_mismatch"], r"name_mismatch\.yaml: name: must equal the file name 'name_mismatch'", 2),
    (["../../etc/passwd"], r"sweep '\.\./\.\./etc/passwd': a name, or the path of a \.yaml search-space file", 2),
    (["no_such_sweep"], r"unknown sweep 'no_such_sweep'", 2),
    (["s", "--set", "unts=4"], r"--set unts=4: unts: unknown hyperparameter for this pipeline \(did you mean 'units'\?\)", 2),
    (["s", "--set", "units"], r"--set units: expected KEY=VALUE", 2),
    (["s", "--trials", "0"], r"--trials: must be >= 1, got 0", 2),
    (["s", "--jobs", "0"], r"--jobs and --heartbeat must be >= 1", 2),
    (["s", "--data-dir", "/no/such/dir"], r"--data-dir /no/such/dir: not a directory", 2),
    (["s", "--data-dir", "{truncated}"], r"truncated/imdb\.npz: not a readable Keras \.npz file", 2),
    (["s", "--data-dir", "{missing_keys}"], r"missing_keys/imdb\.npz: missing key\(s\) x_test, y_test", 2),
    (["s", "--data-dir", "{wrong_dtype}"], r"wrong_dtype/imdb\.npz: x_train must hold integer word indices, got float64", 2),
    (
        ["s", "--storage", "postgresql://bob:hunter2@127.0.0.1:1/optuna"],
        r"--storage postgresql://bob:\*\*\*@127\.0\.0\.1:1/optuna: cannot open the Optuna study",
        1,
    ),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with search spaces, bad data files, and a store holding one finished trial."""
    root = tmp_path_factory.mktemp("project")
    spaces = root / "spaces"
    spaces.mkdir()
    for name, document in {**SPACES, "s": {**BASE, "fixed": {"epochs": 1}}}.items():
        text = document if isinstance(document, str) else yaml.safe_dump(document, sort_keys=False)
        (spaces / f"{name}.yaml").write_text(text)
    write_imdb(root / "good", train=30, test=20)
    truncated = write_imdb(root / "truncated", train=30, test=20)
    truncated.write_bytes(truncated.read_bytes()[:500])
    (root / "missing_keys").mkdir()
    np.savez(root / "missing_keys" / "imdb.npz", x_train=np.zeros(2), y_train=np.zeros(2))
    (root / "wrong_dtype").mkdir()
    np.savez(
        root / "wrong_dtype" / "imdb.npz",
        x_train=np.array([[0.5, 1.5]]),
        y_train=np.array([1]),
        x_test=np.array([[1, 2]]),
        y_test=np.array([0]),
    )
    stores = Stores.resolve(root=root / "mlruns")
    run_sweep(load_spec(spaces / "s.yaml", trials=1), RunOptions(stores, DataOptions(root / "good", stores.cache_dir)))
    return root


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "mlruns").rglob("*"))
        if p.is_file()
    }


def test_the_corpus_has_at_least_twenty_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize(("args", "rule", "code"), CASES, ids=[" ".join(c[0])[:40] for c in CASES])
def test_bad_input(project: Path, monkeypatch: pytest.MonkeyPatch, capsys, args: list[str], rule: str, code: int) -> None:
    monkeypatch.chdir(project)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    before = snapshot(project)
    args = [a.format(**{d: str(project / d) for d in ("truncated", "missing_keys", "wrong_dtype")}) for a in args]
    extra = [] if "/" in args[0] else ["--spaces", str(project / "spaces")]
    if "--data-dir" not in args:
        extra += ["--data-dir", str(project / "good")]
    assert main(["run", *args, *extra]) == code
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert __import__("re").search(rule, errors[0]), errors[0]
    assert "hunter2" not in err
    assert snapshot(project) == before  # nothing already recorded changed
