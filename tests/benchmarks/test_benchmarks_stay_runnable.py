"""The benchmarks stay runnable as the code around them moves.

Their full runs take minutes each and are recorded in ``benchmarks/results/``; here each script
answers ``--help`` and every name it imports from ``sweeps`` or ``tests`` still exists (a module
renamed or a function moved is what breaks a benchmark nobody runs for a while).
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

SCRIPTS = sorted((REPO / "benchmarks").glob("*.py"))


def _imported_names(script: Path) -> list[tuple[str, str | None]]:
    """(module, name) for every ``from sweeps|tests... import name`` and ``import sweeps...`` in the script."""
    found = []
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in {"sweeps", "tests"}:
            found.extend((node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names if alias.name.split(".")[0] == "sweeps")
    return found


def test_there_are_benchmarks_to_check() -> None:
    assert {script.stem for script in SCRIPTS} >= {"fused", "imdb_speed", "workers"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda script: script.stem)
def test_a_benchmark_answers_help_and_its_imports_resolve(script: Path) -> None:
    shown = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and shown.stdout.startswith("usage:"), shown.stderr
    names = _imported_names(script)
    assert names, f"{script.name} imports nothing from sweeps"
    for module, name in names:
        loaded = importlib.import_module(module)
        if name is not None and not hasattr(loaded, name):
            importlib.import_module(f"{module}.{name}")  # a submodule imported by name
