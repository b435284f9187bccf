"""A throwaway PostgreSQL server on 127.0.0.1 for the tests that need one (Debian's package).

Started as the ``postgres`` system user when the tests run as root (PostgreSQL refuses root),
with a password, so tests can check that it never leaks; stopped when the tests end.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


@contextmanager
def server() -> Iterator[tuple[str, str]]:
    """Yield ``(url_prefix, password)``; ``url_prefix + "/optuna"`` names a fresh database."""
    bindir = binaries()
    root = Path(tempfile.mkdtemp(prefix="sweeps-pg-"))
    root.chmod(0o755)
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    password = secrets.token_hex(8)
    (root / "pw").write_text(password)
    if as_postgres:
        shutil.chown(root / "pw", "postgres", "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = lambda *cmd: subprocess.run([*as_postgres, *cmd], check=True, capture_output=True, text=True)
    run(str(bindir / "initdb"), "-D", str(root / "data"), "-U", "sweeps", "-A", "scram-sha-256", f"--pwfile={root / 'pw'}")
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(root / "data"),
        "-l",
        str(root / "log"),
        "-w",
        "start",
        "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200",
    )
    try:
        env = {**os.environ, "PGPASSWORD": password}
        for database in ("optuna", "mlflow"):
            subprocess.run(
                [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "sweeps", database],
                check=True,
                env=env,
                capture_output=True,
            )
        yield f"postgresql://sweeps:{password}@127.0.0.1:{port}", password
    finally:
        subprocess.run(
            [*as_postgres, str(bindir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)
