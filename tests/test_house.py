"""House rules a newcomer can rely on: small modules and functions, one door per outside system,
documentation that stands on its own, and cheap commands that stay cheap."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

SOURCES = sorted([*(REPO / "sweeps").rglob("*.py"), *(REPO / "pipelines").rglob("*.py")])
HEAVY = ("tensorflow", "keras", "mlflow", "optuna")
# Who may import each outside system (paths relative to the repository).
DOORS = {
    "mlflow": ("sweeps/tracking/",),
    "optuna": (
        "sweeps/engines/optuna.py",
        "sweeps/engines/optuna_study.py",
        "sweeps/engines/optuna_proxy.py",
        "sweeps/engines/optuna_in_order.py",
        "sweeps/reporting/optuna_plots.py",
        "sweeps/reporting/importance.py",  # Optuna's importance evaluators, on any engine's records
    ),
}


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def module_name(path: Path) -> str:
    """The name ``path`` is imported by, as installed (``pipelines/`` is ``sweeps.pipelines``)."""
    parts = path.relative_to(REPO).with_suffix("").parts
    parts = ("sweeps", *parts) if parts[0] == "pipelines" else parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def our_modules_imported(path: Path, ours: set[str]) -> set[str]:
    """Which of the modules ``ours`` the module at ``path`` imports, anywhere in it: relative imports
    resolved, ``from package import module`` counted as that module."""
    package = module_name(path).split(".")[: None if path.name == "__init__.py" else -1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            within = package[: len(package) - node.level + 1] if node.level else []  # from . import x: this package
            base = ".".join([*within, *([node.module] if node.module else [])])
            found |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
    return found & ours - {module_name(path)}


def code_strings(path: Path) -> list[ast.Constant]:
    """The string literals of the module at ``path`` that are code, not docstrings."""
    tree = ast.parse(path.read_text())
    documented = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    docstrings = {
        id(node.body[0].value) for node in ast.walk(tree) if isinstance(node, documented) and ast.get_docstring(node) is not None
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_modules_functions_and_parameter_lists_stay_small() -> None:
    too_big = []
    for path in SOURCES:
        text = path.read_text()
        if len(text.splitlines()) > 250:
            too_big.append(f"{path.relative_to(REPO)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                names = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
                parameters = [name for name in names if name not in ("self", "cls")]
                if lines > 60 or len(parameters) > 6:
                    too_big.append(f"{path.relative_to(REPO)}: {node.name}: {lines} lines, {len(parameters)} parameters")
    assert not too_big, "\n".join(too_big)


@pytest.mark.parametrize("system", sorted(DOORS))
def test_one_door_per_outside_system(system: str) -> None:
    trespassers = [
        str(path.relative_to(REPO))
        for path in SOURCES
        if any(name == system or name.startswith(f"{system}.") for name in imported(path))
        and not str(path.relative_to(REPO)).startswith(DOORS[system])
    ]
    assert not trespassers, f"{system} imported outside {DOORS[system]}: {trespassers}"


def test_where_the_local_stores_live_is_spelled_in_defaults_only() -> None:
    """Code builds the paths under ``mlruns/`` from ``sweeps.defaults``; documentation may name them."""
    from sweeps.defaults import SCHEDULE_FILE, STORE_ROOT, STUDY_FILE, TRACKING_FILE

    names = (str(STORE_ROOT), TRACKING_FILE, STUDY_FILE, SCHEDULE_FILE)
    spelled = [
        f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}"
        for path in SOURCES
        if path != REPO / "sweeps" / "defaults.py"
        for node in code_strings(path)
        if any(name in node.value for name in names)
    ]
    assert not spelled, "\n".join(spelled)


def test_no_two_modules_import_each_other() -> None:
    """Each pair of modules has one direction: the shared piece lives where both can import it."""
    names = {module_name(path): path for path in SOURCES}
    imports = {name: our_modules_imported(path, set(names)) for name, path in names.items()}
    cycles = sorted(f"{a} <-> {b}" for a in imports for b in imports[a] if a < b and a in imports[b])
    assert not cycles, f"import each other: {cycles}"


def test_built_in_pipelines_and_the_init_template_use_only_the_public_pipeline_api() -> None:
    for path in [*(REPO / "pipelines").glob("*.py"), REPO / "sweeps" / "templates" / "tabular_pipeline.py"]:
        ours = {name for name in imported(path) if name.split(".")[0] == "sweeps"}
        assert ours <= {"sweeps.pipeline"}, f"{path.name} imports {ours}"


def test_documentation_stands_on_its_own() -> None:
    """Nothing in the repository cites design notes that are not in it."""
    files = [*SOURCES, *(REPO / "tests").rglob("*.py"), *(REPO / "benchmarks").glob("*.py"), REPO / "README.md"]
    notes = ("DESIGN" + ".md", "STYLE" + ".md")  # spelled apart so this file does not cite them itself
    citing = [str(p.relative_to(REPO)) for p in files if any(note in p.read_text() for note in notes)]
    assert not citing


def heavy_modules_after(argv: list[str], cwd: Path) -> list[str]:
    """The heavy modules the command line ``argv`` imported, run in a fresh interpreter."""
    script = "\n".join(
        [
            "import json, sys",
            "from sweeps.cli import main",
            "try:",
            f"    main({argv!r})",
            "except SystemExit:",
            "    pass",
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))",
        ]
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "argv",
    [
        ["list"],
        ["--help"],
        ["schedule", "--cron"],
        ["no_such_sweep"],
        ["imdb_depth", "--set", "activation=swish"],
        ["imdb_depth", "--trials", "0"],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_cheap_commands_and_usage_errors_import_nothing_heavy(tmp_path: Path, argv: list[str]) -> None:
    assert heavy_modules_after(argv, tmp_path) == []


def test_report_and_history_read_mlflow_without_tensorflow_or_optuna(tmp_path: Path) -> None:
    from sweeps.tracking.tracker import FINISHED, Tracker

    tracker = Tracker(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}", "known")
    tags = {"sweep": "known", "study": "known", "objective.metric": "val_accuracy", "state": "COMPLETE"}
    parent = tracker.start_run("known", tags)
    for trial, layers in enumerate((1, 2)):
        run = tracker.start_run(f"trial-{trial}", {**tags, "trial": trial}, parent)
        tracker.log(run, params={"layers": layers}, metrics={"best_val_accuracy": 0.8 + trial / 100})
        tracker.end_run(run, FINISHED)
    tracker.end_run(parent, FINISHED)
    assert heavy_modules_after(["report", "known"], tmp_path) == ["mlflow"]
    assert heavy_modules_after(["history", "known"], tmp_path) == ["mlflow"]
