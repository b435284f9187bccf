"""A corpus of bad inputs: each is one clear line and a non-zero exit, and nothing stored changes."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from sweeps.cli import main
from sweeps.data.sources import DataOptions
from sweeps.runner.sweep import RunOptions, run_sweep
from sweeps.spec.loading import load_spec
from sweeps.tracking.stores import Stores
from tests.support import BASE, write_imdb

# Aliases that expand into millions of values from a few hundred bytes.
BOMB = """name: {name}
description: a few hundred bytes that would expand into millions of values
pipeline: imdb
sampler: {{type: grid}}
trials: 1
objective: {{metric: val_accuracy}}
a: &a [x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
params: {{layers: {{type: categorical, choices: {choices}}}}}
"""

SPACES = {  # file name -> document (a string or bytes is written as is)
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
    "fuse_maybe": {**BASE, "name": "fuse_maybe", "fuse": "maybe"},
    # Values no trial could use: said before anything runs.
    "nan_dropout": {**BASE, "name": "nan_dropout", "fixed": {"dropout": float("nan")}},
    "hyperband_zero": {
        **BASE,
        "name": "hyperband_zero",
        "sampler": {"type": "random"},
        "pruner": {"type": "hyperband", "min_resource": 0, "reduction_factor": 1},
    },
    "many_folds": {**BASE, "name": "many_folds", "folds": 100_000},
    "tiny_step": {**BASE, "name": "tiny_step", "params": {"dropout": {"type": "float", "low": 0.0, "high": 0.9, "step": 1e-9}}},
    "negative_seed": {**BASE, "name": "negative_seed", "sampler": {"type": "grid", "seed": -1}},
    "huge_seed": {**BASE, "name": "huge_seed", "sampler": {"type": "grid", "seed": 2**32}},
    "negative_startup": {
        **BASE,
        "name": "negative_startup",
        "sampler": {"type": "random"},
        "pruner": {"type": "median", "n_startup_trials": -1},
    },
    "int_key": {**BASE, "name": "int_key", "fixed": {7: 3}},
    "null_key": {**BASE, "name": "null_key", "params": {None: {"type": "categorical", "choices": [1]}}},
    "long_name": {**BASE, "name": "n" * 101},
    # Files that would hang, exhaust memory or silently mislead.
    "alias_bomb": BOMB.format(name="alias_bomb", choices="[1, 2]"),
    "choices_bomb": BOMB.format(name="choices_bomb", choices="*f"),
    "dup_key": "name: dup_key\ndescription: d\npipeline: imdb\nsampler: {type: grid}\ntrials: 1\n"
    "objective: {metric: val_accuracy}\nfixed: {epochs: 1, units: 16, epochs: 5000}\n"
    "params: {layers: {type: categorical, choices: [1]}}\n",
    "brackets": "name: brackets\nfixed: " + "[" * 3000 + "]" * 3000 + "\n",
    "not_utf8": b"name: not_utf8\ndescription: caf\xe9\n",
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
        r"--storage postgresql://bob:\*\*\*@127\.0\.0\.1:1/optuna: no answer from 127\.0\.0\.1:1 within 5 s",
        1,
    ),
    (["fuse_maybe"], r"fuse_maybe\.yaml: fuse: must be true or false, got 'maybe'", 2),
    (["nan_dropout"], r"nan_dropout\.yaml: fixed\.dropout: must be a finite number, got nan", 2),
    (["s", "--set", "learning_rate=.nan"], r"--set learning_rate=nan: learning_rate: must be a finite number, got nan", 2),
    (["s", "--set", "l2=.inf"], r"--set l2=inf: l2: must be a finite number, got inf", 2),
    (["hyperband_zero"], r"hyperband_zero\.yaml: pruner\.min_resource: must be >= 1, got 0", 2),
    (["many_folds"], r"many_folds\.yaml: folds: 100000 folds need at least 100000 rows; the data has 30", 2),
    (["tiny_step"], r"tiny_step\.yaml: params\.dropout\.step: makes a grid of 900000001 values; at most 10000", 2),
    (["negative_seed"], r"negative_seed\.yaml: sampler\.seed: must be 0 \.\. 4294967295, got -1", 2),
    (["huge_seed"], r"huge_seed\.yaml: sampler\.seed: must be 0 \.\. 4294967295, got 4294967296", 2),
    (["negative_startup"], r"negative_startup\.yaml: pruner\.n_startup_trials: must be >= 0, got -1", 2),
    (["int_key"], r"int_key\.yaml: fixed\.7: a key must be a name, got int 7", 2),
    (["null_key"], r"null_key\.yaml: params\.None: a key must be a name, got NoneType None", 2),
    (["long_name"], r"long_name\.yaml: name: must equal the file name", 2),
    (["n" * 300], r"unknown sweep 'n{78}", 2),
    (["alias_bomb"], r"alias_bomb\.yaml: holds more than 100000 values once its aliases are expanded; .* \(line 12\)", 2),
    (["choices_bomb"], r"choices_bomb\.yaml: holds more than 100000 values once its aliases are expanded", 2),
    (["dup_key"], r"dup_key\.yaml: key 'epochs' appears twice, at lines 7 and 7; keep one", 2),
    (["brackets"], r"brackets\.yaml: nests more than 50 levels deep", 2),
    (["not_utf8"], r"not_utf8\.yaml: not UTF-8 text: byte 0xe9 at line 2; save it as UTF-8", 2),
    (["s", "--data-dir", "{bad_labels}"], r"bad_labels/imdb\.npz: y_train must hold 0/1 labels, got -1, 5", 2),
    (["s", "--data-dir", "{fifo}"], r"fifo/imdb\.npz: not a regular file", 2),
    (["s", "--data-dir", "{zero}"], r"zero/imdb\.npz: not a regular file", 2),
    (["s", "--data-dir", "{empty}"], r"empty/imdb\.npz: x_train holds no reviews", 2),
    (["s", "--data-dir", "{huge_header}"], r"huge_header/imdb\.npz: .*its header claims \(1000000000000,\) values", 2),
    (["s", "--data-dir", "{no_file}"], r"--data-dir .*no_file: no imdb\.npz there; put Keras's imdb\.npz in it", 2),
    (["s", "--data-dir", "{dangling}"], r"--data-dir .*dangling: no imdb\.npz there", 2),
    (["s", "--epochs", "1", "--set", "epochs=2"], r"--epochs 1 and --set epochs=2 disagree; give one of them", 2),
    (["s", "--study", "/an/absolute/dir"], r"--study '/an/absolute/dir': a study is named with up to 200 letters", 2),
    (["s", "--tracking-uri", "http://127.0.0.1:1"], r"--tracking-uri http://127\.0\.0\.1:1: no answer from 127\.0\.0\.1:1", 1),
    (
        ["s", "--tracking-uri", "sqlite:///mlruns/optuna.db"],
        r"--tracking-uri and --storage are the same file mlruns/optuna\.db: MLflow and Optuna each need their own",
        2,
    ),
]
DATA_DIRS = (
    "truncated",
    "missing_keys",
    "wrong_dtype",
    "bad_labels",
    "fifo",
    "zero",
    "empty",
    "huge_header",
    "no_file",
    "dangling",
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with search spaces, bad data files, and a store holding one finished trial."""
    root = tmp_path_factory.mktemp("project")
    spaces = root / "spaces"
    spaces.mkdir()
    for name, document in {**SPACES, "s": {**BASE, "fixed": {"epochs": 1}}}.items():
        path = spaces / f"{name}.yaml"
        if isinstance(document, bytes):
            path.write_bytes(document)
        else:
            path.write_text(document if isinstance(document, str) else yaml.safe_dump(document, sort_keys=False))
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
    write_bad_data(root)
    stores = Stores.resolve(root=root / "mlruns")
    run_sweep(load_spec(spaces / "s.yaml", trials=1), RunOptions(stores, DataOptions(root / "good", stores.cache_dir)))
    return root


def write_bad_data(root: Path) -> None:
    """Data directories whose imdb.npz would mislead, hang or exhaust memory if it were read."""
    from sweeps.pipelines.imdb import generate_contents, to_object_array

    contents = generate_contents(30, 20)
    (root / "bad_labels").mkdir()
    labels = contents["y_train"].copy()
    labels[:2] = [5, -1]
    np.savez(
        root / "bad_labels" / "imdb.npz",
        **{
            **{k: to_object_array(v) for k, v in contents.items() if k.startswith("x_")},
            "y_train": labels,
            "y_test": contents["y_test"],
        },
    )
    (root / "fifo").mkdir()
    os.mkfifo(root / "fifo" / "imdb.npz")
    (root / "zero").mkdir()
    (root / "zero" / "imdb.npz").symlink_to("/dev/zero")
    (root / "empty").mkdir()
    nothing = np.empty(0, dtype=object)
    np.savez(root / "empty" / "imdb.npz", x_train=nothing, y_train=np.zeros(0, int), x_test=nothing, y_test=np.zeros(0, int))
    (root / "huge_header").mkdir()
    with zipfile.ZipFile(root / "huge_header" / "imdb.npz", "w") as archive:
        for key in ("x_train", "y_train", "x_test", "y_test"):
            member = io.BytesIO()
            np.lib.format.write_array_header_2_0(member, {"descr": "<i8", "fortran_order": False, "shape": (10**12,)})
            archive.writestr(f"{key}.npy", member.getvalue() + b"\0" * 64)
    (root / "no_file").mkdir()
    (root / "dangling").mkdir()
    (root / "dangling" / "imdb.npz").symlink_to(root / "dangling" / "gone.npz")


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "mlruns").rglob("*"))
        if p.is_file() and "logs" not in p.relative_to(root).parts  # a log says what happened; it records nothing
    }


def test_the_corpus_has_at_least_twenty_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize(("args", "rule", "code"), CASES, ids=[" ".join(c[0])[:40] for c in CASES])
def test_bad_input(project: Path, monkeypatch: pytest.MonkeyPatch, capsys, args: list[str], rule: str, code: int) -> None:
    monkeypatch.chdir(project)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    before = snapshot(project)
    args = [a.format(**{d: str(project / d) for d in DATA_DIRS}) for a in args]
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
