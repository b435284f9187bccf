"""Your own model: a project's sweeps and pipelines, run through the command like the built-ins (in
this process; `--jobs` starts real worker processes, so its parent is the real command too)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from tests.support import mlflow_runs, run_sweeps

# A pipeline of a user's own, written with the public API only: y = a noisy sum of 4 features.
TINY_PIPELINE = textwrap.dedent('''
    """A tiny regression of my own."""
    import numpy as np

    import sweeps.pipeline as sp

    HYPERPARAMETERS = {**sp.dense_stack(layers=1, units=8, loss="mse", losses=("mse", "mae")),
                       **sp.training(epochs=2, batch_size=16), **sp.split(40)}
    OBJECTIVES = {"val_loss": "minimize"}


    def load_data(hp, options):
        raw = sp.RawSource(task="tiny", filename="tiny.npz", read_file=None, keras_load=None, generate=_generate)
        source, arrays = sp.load_encoded(raw, options, {"task": "tiny"}, lambda arrays: arrays)
        return sp.split_validation(arrays, hp["validation_samples"], source, "rows")


    def build_model(hp, dataset):
        import keras

        inputs = keras.Input(shape=(4,))
        outputs = keras.layers.Dense(1)(sp.hidden_layers(inputs, hp))
        return sp.compile_model(inputs, outputs, hp, ["mae"], name="tiny")


    def _generate():
        rng = np.random.default_rng(0)
        x = rng.normal(size=(200, 4)).astype("float32")
        y = (x.sum(axis=1) + rng.normal(0, 0.1, 200)).astype("float32")
        return {"x_train": x[:160], "y_train": y[:160], "x_test": x[160:], "y_test": y[160:]}
''')


def tiny_space(pipeline: str, **changes: object) -> dict:
    return {
        "name": "tiny",
        "description": "Does width matter for my tiny regression?",
        "pipeline": pipeline,
        "sampler": {"type": "grid", "seed": 1},
        "trials": 2,
        "objective": {"metric": "val_loss"},
        "params": {"units": {"type": "categorical", "choices": [4, 8]}},
        **changes,
    }


def write_project(root: Path, pipeline_file: str = "tasks/tiny.py", **changes: object) -> Path:
    """A project with search_spaces/tiny.yaml and a pipeline file nowhere on the Python path."""
    (root / Path(pipeline_file).parent).mkdir(parents=True, exist_ok=True)
    (root / pipeline_file).write_text(TINY_PIPELINE)
    (root / "search_spaces").mkdir(exist_ok=True)
    space = tiny_space(f"../{pipeline_file}", **changes)
    (root / "search_spaces" / "tiny.yaml").write_text(yaml.safe_dump(space, sort_keys=False))
    return root


def test_a_project_pipeline_file_runs_end_to_end_and_is_recorded_like_a_built_in(tmp_path: Path, sweeps_here) -> None:
    project = write_project(tmp_path, repeats=2)
    listed = sweeps_here("list", cwd=project)
    assert listed.returncode == 0, listed.stderr
    (line,) = [line for line in listed.stdout.splitlines() if line.startswith("tiny ")]
    assert "search_spaces/tiny.yaml" in line and "../tasks/tiny.py" in line and "Does width matter" in line
    assert "imdb_depth" in listed.stdout  # the built-ins are still there

    done = sweeps_here("tiny", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "study tiny: 2 trial(s), 2 run now" in done.stdout and "GENERATED" in done.stdout
    runs = mlflow_runs(project, "tiny")
    trials = [r for r in runs if r.data.tags.get("trial") and "repeat" not in r.data.tags]
    replicates = [r for r in runs if "repeat" in r.data.tags]
    assert sorted(r.data.params["units"] for r in trials) == ["4", "8"] and len(replicates) == 4
    assert all(r.info.status == "FINISHED" for r in runs)
    report = sweeps_here("report", "tiny", cwd=project)
    assert report.returncode == 0, report.stderr
    assert "units=8 vs 4" in report.stdout  # two replicates each: a t-test


def test_a_project_sweep_in_the_nightly_schedule_and_with_jobs(tmp_path: Path, sweeps_here) -> None:
    project = write_project(tmp_path)
    (project / "search_spaces" / "nightly.yaml").write_text("sweeps:\n  tiny: {trials: 2, threshold: 0.5}\n")
    night = sweeps_here("nightly", "--date", "2026-11-20", cwd=project)
    assert night.returncode == 0, night.stderr
    assert "| tiny | val_loss |" in night.stdout
    jobs = run_sweeps("tiny", "--jobs", "2", "--study", "parallel", cwd=project)
    assert jobs.returncode == 0, jobs.stderr
    assert "study parallel: 2 trial(s), 2 run now" in jobs.stdout


def test_a_project_sweep_replaces_a_built_in_of_the_same_name_and_list_says_so(tmp_path: Path, sweeps_here) -> None:
    write_project(tmp_path)
    (tmp_path / "search_spaces" / "tiny.yaml").rename(tmp_path / "search_spaces" / "imdb_depth.yaml")
    space = yaml.safe_load((tmp_path / "search_spaces" / "imdb_depth.yaml").read_text())
    (tmp_path / "search_spaces" / "imdb_depth.yaml").write_text(yaml.safe_dump({**space, "name": "imdb_depth"}))
    listed = sweeps_here("list", cwd=tmp_path)
    (line,) = [line for line in listed.stdout.splitlines() if line.startswith("imdb_depth ")]
    assert "search_spaces/imdb_depth.yaml (replaces the built-in)" in line and "../tasks/tiny.py" in line


def test_a_dotted_module_pipeline_from_another_directory_with_project(tmp_path: Path, sweeps_here) -> None:
    package = tmp_path / "project" / "mypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "tasks.py").write_text(TINY_PIPELINE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    space = elsewhere / "tiny.yaml"
    space.write_text(yaml.safe_dump(tiny_space("mypkg.tasks", trials=1)))
    done = sweeps_here(str(space), "--project", str(tmp_path / "project"), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert "study tiny: 1 trial(s), 1 run now" in done.stdout


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        ("def load_data(hp, options):", "def _load(hp, options):", r"must define a function load_data\(hp, options\)"),
        ("def build_model(hp, dataset):", "def build_model(hp):", r"build_model must accept \(hp, dataset\), got \S+\(hp\)"),
        ('"minimize"}', '"smaller"}', r"OBJECTIVES\['val_loss'\] must be 'maximize' or 'minimize', got 'smaller'"),
        ("import numpy as np", "import numpy as np\n1 / 0", r"tiny\.py:4: importing it failed: ZeroDivisionError"),
        (
            'loss="mse", losses=("mse", "mae")',
            'loss="binary_crossentropy", losses=sp.CLASSIFICATION_LOSSES',
            r"HYPERPARAMETERS\['loss'\]: the default 'binary_crossentropy' breaks its own rule "
            r"\(one of categorical_crossentropy, sparse_categorical_crossentropy\)$",
        ),
    ],
    ids=["missing function", "wrong signature", "bad objective", "import fails", "default breaks its rule"],
)
def test_a_broken_project_pipeline_is_one_line_naming_its_file_before_any_store(
    tmp_path: Path, sweeps_here, old: str, new: str, rule: str
) -> None:
    project = write_project(tmp_path)
    pipeline = project / "tasks" / "tiny.py"
    pipeline.write_text(pipeline.read_text().replace(old, new, 1))
    done = sweeps_here("tiny", cwd=project)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: pipeline ../tasks/tiny.py") and str(pipeline) in last, last
    assert __import__("re").search(rule, last), last
    assert "Traceback" not in done.stderr and not (project / "mlruns").exists()


def test_a_swept_key_the_pipeline_does_not_declare_is_refused(tmp_path: Path, sweeps_here) -> None:
    project = write_project(tmp_path, params={"filters": {"type": "categorical", "choices": [8, 16]}})
    done = sweeps_here("tiny", cwd=project)
    assert done.returncode == 2
    assert "params.filters: unknown hyperparameter for this pipeline" in done.stderr.splitlines()[-1]


def test_init_writes_a_project_that_runs_at_once_and_refuses_to_overwrite(tmp_path: Path, sweeps_here) -> None:
    made = sweeps_here("init", "churn", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "search_spaces" / "churn.yaml").is_file() and (tmp_path / "pipelines" / "churn.py").is_file()
    again = sweeps_here("init", "churn", cwd=tmp_path)
    assert again.returncode == 2 and "already exists; init never overwrites" in again.stderr
    done = sweeps_here("churn", "--trials", "2", "--epochs", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "study churn[epochs=1]: 2 trial(s), 2 run now" in done.stdout and "GENERATED" in done.stdout
    report = sweeps_here("report", "churn", cwd=tmp_path)
    assert report.returncode == 0 and "objective: val_loss (minimize)" in report.stdout


def test_init_reads_a_real_csv_from_the_data_dir(tmp_path: Path, sweeps_here) -> None:
    assert sweeps_here("init", "churn", cwd=tmp_path).returncode == 0
    data = tmp_path / "data"
    data.mkdir()
    rows = ["age,plan,left"] + [f"{20 + i % 50},{'ab'[i % 2]},{'yes' if i % 3 else 'no'}" for i in range(120)]
    (data / "churn.csv").write_text("\n".join(rows) + "\n")
    checked = sweeps_here("check", "churn", "--data-dir", str(data), "--set", "target=left", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert f"data: data-dir {data / 'churn.csv'}" in checked.stdout
    missing = sweeps_here("check", "churn", "--data-dir", str(data), cwd=tmp_path)
    assert missing.returncode == 2
    assert "no column 'target' to predict; the columns are age, plan, left (set target)" in missing.stderr


def test_check_shows_the_model_and_the_hyperparameters_or_one_line(tmp_path: Path, sweeps_here) -> None:
    project = write_project(tmp_path / "good")
    good = sweeps_here("check", "tiny", cwd=project)
    assert good.returncode == 0, good.stderr
    assert 'Model: "tiny"' in good.stdout and "one batch: " in good.stdout and "val_loss=" in good.stdout
    assert __import__("re").search(r"(?m)^units\s+8\s+integer 1 \.\. 65536\s+swept: 4, 8$", good.stdout), good.stdout
    project = write_project(tmp_path / "broken")  # (a file of its own: this process has imported the good one)
    pipeline = project / "tasks" / "tiny.py"
    pipeline.write_text(pipeline.read_text().replace("keras.layers.Dense(1)", "keras.layers.Dense(units=None)"))
    broken = sweeps_here("check", "tiny", cwd=project)
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert broken.stderr.strip().splitlines()[-1].startswith("error: pipeline ../tasks/tiny.py: ")
    assert f"{pipeline}:" in broken.stderr.strip().splitlines()[-1]
