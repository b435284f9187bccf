"""``sweeps schedule``: the crontab line or systemd units that run ``sweeps nightly`` every night."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from sweeps.commands.common import add_command
from sweeps.commands.nightly import scheduled_spec
from sweeps.defaults import NIGHTLY_TIME
from sweeps.errors import EXIT_OK, ConfigError


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``schedule`` to the command line."""
    schedule = add_command(commands, common, "schedule", cmd_schedule)
    kind = schedule.add_mutually_exclusive_group(required=True)
    kind.add_argument("--cron", action="store_true", help="a crontab line")
    kind.add_argument("--systemd", action="store_true", help="a systemd service and timer")
    schedule.add_argument("--at", default=NIGHTLY_TIME, metavar="H:MM", help=f"time of day (default {NIGHTLY_TIME})")
    schedule.add_argument("--schedule", type=Path, help="the schedule file the nightly run reads (default: as `nightly`)")
    schedule.add_argument("--data-dir", type=Path, help="the data directory the nightly run reads (env SWEEPS_DATA_DIR)")
    schedule.add_argument("--tracking-uri", help="the MLflow store the nightly run writes to (env MLFLOW_TRACKING_URI)")
    schedule.add_argument("--storage", help="the Optuna storage the nightly run writes to (env SWEEPS_STORAGE)")
    schedule.set_defaults(project=None, spaces=None)  # the sweeps of this directory


def cmd_schedule(args: argparse.Namespace) -> int:
    """Print a crontab line or systemd units that run the nightly sweeps from this directory.

    The options given (and the environment's SWEEPS_DATA_DIR, MLFLOW_TRACKING_URI, SWEEPS_STORAGE,
    which cron does not pass on) are written into the command, paths made absolute.
    """
    from sweeps.spec.catalog import schedule_file
    from sweeps.spec.schedule import load_schedule
    from sweeps.tracking.stores import Stores

    hour, minute = _time(args.at)
    for entry in load_schedule(args.schedule or schedule_file()):  # a schedule that would fail every night: now
        scheduled_spec(args, entry)
    project = Path.cwd().resolve()
    logs = Stores.resolve().log_dir  # relative: under the project
    log = shlex.quote(str(project / logs / "nightly.log"))
    command = shlex.join([sys.executable, "-m", "sweeps", "nightly", *_nightly_options(args)]) + f" >> {log} 2>&1"
    if args.cron:
        print(f"{minute} {hour} * * * cd {shlex.quote(str(project))} && mkdir -p {shlex.quote(str(logs))} && {command}")
        return EXIT_OK
    print(f"""# ~/.config/systemd/user/sweeps-nightly.service
[Unit]
Description=sweeps: nightly sweeps of {project}

[Service]
Type=oneshot
WorkingDirectory={project}
ExecStartPre=/bin/mkdir -p {project / logs}
ExecStart=/bin/sh -c {shlex.quote(f"exec {command}")}

# ~/.config/systemd/user/sweeps-nightly.timer
[Unit]
Description=sweeps: run the nightly sweeps at {hour:02d}:{minute:02d}

[Timer]
OnCalendar=*-*-* {hour:02d}:{minute:02d}:00
Persistent=true

[Install]
WantedBy=timers.target""")
    return EXIT_OK


def _nightly_options(args: argparse.Namespace) -> list[str]:
    """The options the scheduled ``nightly`` runs with: the ones given, else the environment's.

    Raises:
        ConfigError: a file or directory named does not exist (a scheduled run would fail at night).
    """
    import os

    from sweeps.tracking.stores import absolute

    options = []
    for flag, value, env in (
        ("--schedule", args.schedule, None),
        ("--data-dir", args.data_dir, "SWEEPS_DATA_DIR"),
        ("--tracking-uri", args.tracking_uri, "MLFLOW_TRACKING_URI"),
        ("--storage", args.storage, "SWEEPS_STORAGE"),
    ):
        value = value or (os.environ.get(env) if env else None)
        if not value:
            continue
        if flag in ("--schedule", "--data-dir"):  # (the schedule file was read already: it exists)
            path = Path(value).resolve()
            if flag == "--data-dir" and not path.is_dir():
                raise ConfigError(f"{flag} {value}: not a directory; the scheduled run could not read it")
            value = str(path)
        options += [flag, absolute(str(value))]
    return options


def _time(text: str) -> tuple[int, int]:
    """``H:MM`` or ``HH:MM`` as (hour, minute)."""
    hour, sep, minute = text.strip().partition(":")
    digits = sep and hour.isdigit() and minute.isdigit() and len(hour) <= 2 and len(minute) == 2
    if digits and int(hour) < 24 and int(minute) < 60:
        return int(hour), int(minute)
    raise ConfigError(f"--at {text}: expected H:MM or HH:MM on a 24-hour clock, e.g. {NIGHTLY_TIME}")
