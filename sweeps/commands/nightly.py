"""``sweeps nightly``, ``sweeps schedule`` and ``sweeps history``: sweeps that run every night."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from sweeps.commands.common import (
    add_backend_option,
    add_command,
    add_data_dir_option,
    add_project_options,
    add_store_options,
    check_readable,
    data_options,
    start_backend,
)
from sweeps.defaults import SCHEDULE_FILE
from sweeps.errors import EXIT_FAILURE, EXIT_OK, EXIT_REGRESSION, ConfigError, first_line
from sweeps.logs import library_logs_to, say


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``nightly`` and ``history`` to the command line."""
    night = add_command(commands, common, "nightly", cmd_nightly)
    night.add_argument("--date", help="the night to run, YYYY-MM-DD (default: today)")
    night.add_argument(
        "--schedule", type=Path, help=f"schedule file (default: the project's {SCHEDULE_FILE}, else the built-in one)"
    )
    add_backend_option(night)
    add_data_dir_option(night)
    add_store_options(night, artifacts=True)
    add_project_options(night)

    history = add_command(commands, common, "history", cmd_history)
    history.add_argument("name", help="a sweep listed in the nightly schedule")
    add_store_options(history, reads_studies=False)
    add_project_options(history)


def cmd_nightly(args: argparse.Namespace) -> int:
    """Run the sweeps listed in search_spaces/nightly.yaml for one date and compare with the night before.

    Exit code 3 when a sweep's best result got worse than its threshold allows, 1 when a sweep failed.
    """
    from sweeps.spec.catalog import schedule_file
    from sweeps.spec.schedule import load_schedule
    from sweeps.tracking.stores import Stores

    date = _date(args.date)
    entries = load_schedule(args.schedule or schedule_file(args.project, args.spaces))
    specs = [scheduled_spec(args, entry) for entry in entries]  # every sweep checked before any runs
    data_options(args, None)
    stores = Stores.resolve(args.tracking_uri, args.storage)
    stores.check(args.connect_timeout)
    backend = start_backend(args, specs, stores.cache_dir / "compiled")
    with library_logs_to(stores.log_dir / f"nightly-{date.isoformat()}.log") as log:
        say(f"nightly {date}: {len(entries)} sweep(s) on backend {backend}; library warnings and notes in {log}")
        nights = [_night(args, entry, spec, date, stores) for entry, spec in zip(entries, specs, strict=True)]
        return _summarise(date, nights, stores)


def scheduled_spec(args: argparse.Namespace, entry: Any) -> Any:
    """A scheduled sweep's spec with the night's budget and overrides (a config error says which entry)."""
    from sweeps.spec.catalog import find_sweep
    from sweeps.spec.loading import load_spec

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
    say(f"== {entry.sweep} @ {date}")
    try:
        night.metric, night.direction = spec.objective.metric, spec.objective.direction
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
        say(f"error: {entry.sweep}: {night.error}")
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


def cmd_history(args: argparse.Namespace) -> int:
    """List a sweep's nightly results over time: date, best value, best configuration, change."""
    from sweeps.reporting import nightly
    from sweeps.reporting.tables import render_table
    from sweeps.tracking.stores import Stores
    from sweeps.tracking.tracker import Tracker

    check_readable(args, reads_studies=False)
    reader = Tracker.for_reading(Stores.resolve(args.tracking_uri).tracking_uri)  # one line when there is no store yet
    rows = nightly.history(reader, args.name)
    if not rows:
        raise ConfigError(_no_history(args))
    print(render_table(["date", "best", "best configuration", "change"], rows))
    return EXIT_OK


def _no_history(args: argparse.Namespace) -> str:
    """Why a sweep has no nightly results: not in the schedule, or no night has run yet."""
    from sweeps.spec.catalog import schedule_file
    from sweeps.spec.schedule import load_schedule

    path = schedule_file(args.project, args.spaces)
    if args.name in {entry.sweep for entry in load_schedule(path)}:  # (a broken schedule says so instead)
        return f"'{args.name}' is in the schedule {path} but no night has run yet; run `sweeps nightly`"
    return f"'{args.name}' has no nightly runs and is not in the schedule {path}; add it there and run `sweeps nightly`"


def _date(text: str | None) -> dt.date:
    try:
        return dt.date.fromisoformat(text) if text else dt.date.today()
    except ValueError:
        raise ConfigError(f"--date {text}: expected YYYY-MM-DD") from None
