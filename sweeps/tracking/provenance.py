"""Where a run came from: the code's commit."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path


@cache
def git_commit(directory: Path) -> str:
    """The commit checked out in ``directory`` (``-dirty`` if it has changes), or ``unknown``."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return "unknown"
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=directory, capture_output=True, text=True, timeout=10
        )
        return commit.stdout.strip() + ("-dirty" if status.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
