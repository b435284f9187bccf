"""``sweeps nightly``, ``sweeps schedule`` and ``sweeps history``: sweeps that run every night."""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
from pathlib import Path
from typing import Any

from sweeps.commands.common import add_data_dir_option, add_project_options, add_store_options, data_options, import_tensorflow
from sweeps.defaults import NIGHTLY_TIME, SCHEDULE_FILE
from sweeps.errors import EXIT_FAILURE, EXIT_OK, EXIT_REGRESSION, ConfigError, first_line


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``nightly``, ``schedule`` and ``history`` to the command line."""
    night = commands.add_parser(
        "nightly", parents=[common], help=cmd_nightly.__doc__.splitlines()[0], description=cmd_nightly.__doc__
    )
    night.add_argument("--date", help="the night to run, YYYY-MM-DD (default: today)")
    night.add_argument(
        "--schedule", type=Path, help=f"schedule file (default: the project's {SCHEDULE_FILE}, else the built-in one)"
    )
    add_data_dir_option(night)
    add_store_options(night, artifacts=True)
    add_project_options(night)
    night.set_defaults(handler=cmd_nightly)

    schedule = commands.add_parser("schedule", parents=[common], help=cmd_schedule.__doc__, description=cmd_schedule.__doc__)
    kind = schedule.add_mutually_exclusive_group(required=True)
    kind.add_argument("--cron", action="store_true", help="a crontab line")
    kind.add_argument("--systemd", action="store_true", help="a systemd service and timer")
    schedule.add_argument("--at", default=NIGHTLY_TIME, metavar="HH:MM", help=f"time of day (default {NIGHTLY_TIME})")
    schedule.set_defaults(handler=cmd_schedule)

    history = commands.add_parser("history", parents=[common], help=cmd_history.__doc__, description=cmd_history.__doc__)
    history.add_argument("name", help="a sweep listed in the nightly schedule")
    add_store_options(history, storage=False)
    history.set_defaults(handler=cmd_history)


def cmd_nightly(args: argparse.Namespace) -> int:
    """Run the sweeps listed in search_spaces/nightly.yaml for one date and compare with the night before.

    Exit code 3 when a sweep's best result got worse than its threshold allows, 1 when a sweep failed.
    """
    from sweeps.spec.catalog import schedule_file
    from sweeps.spec.schedule import load_schedule
    from sweeps.tracking.stores import Stores

    date = _date(args.date)
    entries = load_schedule(args.schedule or schedule_file(args.project, args.spaces))
    specs = [_spec(args, entry) for entry in entries]  # every sweep checked before any runs
    data_options(args, None)
    stores = Stores.resolve(args.tracking_uri, args.storage)
    stores.check(args.connect_timeout)
    import_tensorflow(quietly=not args.debug)
    nights = [_night(args, entry, spec, date, stores) for entry, spec in zip(entries, specs, strict=True)]
    return _summarise(date, nights, stores)


def _spec(args: argparse.Namespace, entry: Any) -> Any:
    """A scheduled sweep's spec with the night's budget and overrides (a config error says which entry)."""
    from sweeps.spec.catalog import find_sweep
    from sweeps.spec.sweep import load_spec

    try:
        path = find_sweep(entry.sweep, args.project, args.spaces).path
        return load_spec(path, entry.overrides, entry.trials, project=args.project)
    except ConfigError as error:
        raise ConfigError(f"the schedule's {entry.sweep}: {error}") from None


def _night(args: argparse.Namespace, entry: Any, spec: Any, date: dt.date, stores: Any) -> Any:
    """Run one scheduled sweep for ``date``; a failure is recorded in its ``Night``, not raised."""
    from sweeps.reporting import nightly
    from sweeps.runner.sweep import RunOptions, run_sweep
    from sweeps.tracking.tracker import Tracker

    night = nightly.Night(entry.sweep)
    print(f"== {entry.sweep} @ {date}", file=sys.stderr)
    try:
        night.metric, night.direction = spec.metric, spec.direction
        result = run_sweep(
            spec,
            RunOptions(
                stores,
                data_options(args, stores.cache_dir),
                study=nightly.study_for(entry.sweep, date),
                tags={"nightly": date.isoformat()},
                artifact_location=args.artifact_location,
            ),
        )
        if result.best is not None:
            night.best, night.params = result.best.value, result.best.params
        before = nightly.previous_night(Tracker(stores.tracking_uri, spec.name), date)
        if before is not None:
            night.previous_date, night.previous, _ = before
    except Exception as error:  # one sweep failing does not stop the others
        night.error = first_line(error)
        print(f"error: {entry.sweep}: {night.error}", file=sys.stderr)
    return nightly.compare(night, entry.threshold)


def _summarise(date: dt.date, nights: list[Any], stores: Any) -> int:
    from sweeps.reporting import nightly
    from sweeps.tracking.tracker import Tracker

    text = nightly.summary(date, nights)
    path = stores.cache_dir.parent / "nightly" / f"{date.isoformat()}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    nightly.record_summary(lambda name: Tracker(stores.tracking_uri, name), date, text, nights)
    print(text)
    print(f"summary written to {path} and to the MLflow experiment '{nightly.NIGHTLY_EXPERIMENT}'", file=sys.stderr)
    if any(n.verdict == nightly.REGRESSED for n in nights):
        return EXIT_REGRESSION
    return EXIT_FAILURE if any(n.verdict == nightly.FAILED for n in nights) else EXIT_OK


def cmd_schedule(args: argparse.Namespace) -> int:
    """Print a crontab line or systemd units that run the nightly sweeps from this directory."""
    hour, minute = _time(args.at)
    project = Path.cwd().resolve()
    python, log = shlex.quote(sys.executable), shlex.quote(str(project / "mlruns" / "logs" / "nightly.log"))
    command = f"{python} -m sweeps nightly >> {log} 2>&1"
    if args.cron:
        print(f"{minute} {hour} * * * cd {shlex.quote(str(project))} && mkdir -p mlruns/logs && {command}")
        return EXIT_OK
    print(f"""# ~/.config/systemd/user/sweeps-nightly.service
[Unit]
Description=sweeps: nightly sweeps of {project}

[Service]
Type=oneshot
WorkingDirectory={project}
ExecStartPre=/bin/mkdir -p {project / "mlruns" / "logs"}
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


def cmd_history(args: argparse.Namespace) -> int:
    """List a sweep's nightly results over time: date, best value, best configuration, change."""
    from sweeps.reporting import nightly
    from sweeps.reporting.tables import render_table
    from sweeps.tracking.stores import Stores
    from sweeps.tracking.tracker import Tracker

    reader = Tracker.for_reading(Stores.resolve(args.tracking_uri).tracking_uri)  # one line when there is no store yet
    rows = nightly.history(reader, args.name)
    if not rows:
        raise ConfigError(f"'{args.name}' has no nightly runs; list it in {SCHEDULE_FILE} and run `sweeps nightly`")
    print(render_table(["date", "best", "best configuration", "change"], rows))
    return EXIT_OK


def _date(text: str | None) -> dt.date:
    try:
        return dt.date.fromisoformat(text) if text else dt.date.today()
    except ValueError:
        raise ConfigError(f"--date {text}: expected YYYY-MM-DD") from None


def _time(text: str) -> tuple[int, int]:
    try:
        moment = dt.time.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--at {text}: expected HH:MM, e.g. {NIGHTLY_TIME}") from None
    return moment.hour, moment.minute
