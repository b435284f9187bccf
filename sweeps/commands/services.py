"""Servers a command runs in the foreground (the MLflow UI or tracking server, Optuna's storage
proxy): each started in a process group of its own, announced only once it answers, and stopped
together - whole process trees - on Ctrl-C or SIGTERM, within seconds.

MLflow's server starts uvicorn workers and, unless told not to, a job runner with several
consumer processes; signalling the group reaches every one of them.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from sweeps.errors import ConfigError, ServiceError

STOP_GRACE = 4.0  # seconds a stopped server gets to exit before it is killed (well inside the 10 s promised)
# MLflow's UI and tracking server as web processes only: the job runner (GenAI evaluation jobs,
# not used here) would start several more processes and a minute of start-up.
QUIET_SERVER = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


@dataclass
class Service:
    """One server process: what to run, where it listens, where its output goes."""

    name: str
    command: list[str]
    host: str
    port: int
    log: Path
    probe_path: str | None = "/health"  # an HTTP path that answers 200 when ready; None: the port accepts
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None


def check_port_free(service: Service) -> None:
    """Raise ``ServiceError`` (one line) when the port is taken, ``ConfigError`` when the host is
    not one of this machine's addresses."""
    with socket.socket(socket.AF_INET6 if ":" in service.host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: a closed port's TIME_WAIT is no use
        try:
            probe.bind((service.host, service.port))
        except OSError as error:
            if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:  # the host, not the port
                raise ConfigError(f"--host {service.host}: not an address of this machine ({error.strerror})") from None
            raise ServiceError(
                f"{service.name}: port {service.port} on {service.host} is in use ({error.strerror}); choose another with --port"
            ) from None


def start(services: list[Service], timeout: float = 180.0) -> None:
    """Start every service and wait until each answers; stop them all if one fails.

    Raises:
        ServiceError: a port is in use, a server exited (its log's last line said), or it did not
            answer within ``timeout`` seconds.
    """
    for service in services:
        check_port_free(service)
    try:
        for service in services:
            service.log.parent.mkdir(parents=True, exist_ok=True)
            with open(service.log, "w") as log:
                service.process = subprocess.Popen(
                    service.command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env={**os.environ, **service.env},
                    start_new_session=True,  # a process group of its own, stopped as one
                )
        deadline = time.monotonic() + timeout
        for service in services:
            _wait_until_answers(service, deadline)
    except BaseException:
        stop(services)
        raise


def serve_until_stopped(services: list[Service]) -> None:
    """Wait while the services run; stop all of them on Ctrl-C/SIGTERM or when one exits.

    Raises:
        ServiceError: a service exited by itself (the others are stopped first).
    """
    try:
        while True:
            for service in services:
                if service.process.poll() is not None:
                    raise ServiceError(f"{service.name} stopped (exit {service.process.returncode}): {_last_line(service.log)}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop(services)


def stop(services: list[Service]) -> None:
    """Stop every service's whole process group: SIGTERM, then SIGKILL after ``STOP_GRACE``."""
    running = [s.process for s in services if s.process is not None and s.process.poll() is None]
    for process in running:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for process in [s.process for s in services if s.process is not None]:
        _signal_group(process, signal.SIGKILL)  # whatever is left in the group: workers, job runners
        process.wait()


def url_host(host: str) -> str:
    """The host name to put in a URL for a server listening on ``host``."""
    return socket.gethostname() if host in ("0.0.0.0", "::", "") else host


def _wait_until_answers(service: Service, deadline: float) -> None:
    probe_host = "127.0.0.1" if service.host in ("0.0.0.0", "") else service.host
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise ServiceError(f"{service.name} did not start (exit {service.process.returncode}): {_last_line(service.log)}")
        if _answers(probe_host, service.port, service.probe_path):
            return
        time.sleep(0.3)
    raise ServiceError(f"{service.name} did not answer on port {service.port} in time; see {service.log}")


def _answers(host: str, port: int, path: str | None) -> bool:
    try:
        if path is None:
            with socket.create_connection((host, port), timeout=2):
                return True
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)  # the group it leads (start_new_session)
    except (ProcessLookupError, PermissionError):
        pass


def _last_line(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no output"
    return lines[-1][:300] if lines else "no output"
