"""``sweeps nightly``, ``sweeps schedule`` and ``sweeps history``: sweeps that run every night."""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
from pathlib import Path

from sweeps.commands.common import find_space, import_tensorflow, spaces_dir
from sweeps.errors import EXIT_FAILURE, EXIT_OK, EXIT_REGRESSION, ConfigError

DEFAULT_TIME = "02:30"


def cmd_nightly(args: argparse.Namespace) -> int:
    """Run the sweeps listed in search_spaces/nightly.yaml for one date and compare with the night before.

    Exit code 3 when a sweep's best result got worse than its threshold allows, 1 when a sweep failed.
    """
    import_tensorflow(quietly=not args.debug)
    from pipelines._data import DataOptions
    from sweeps import nightly
    from sweeps.runner import RunOptions, run_sweep
    from sweeps.spec import load_spec
    from sweeps.stores import Stores
    from sweeps.tracking import Tracker

    date = _date(args.date)
    entries = nightly.load_schedule(args.schedule or spaces_dir(args) / "nightly.yaml")
    stores = Stores.resolve(args.tracking_uri, args.storage)
    data = DataOptions(args.data_dir and Path(args.data_dir), stores.cache_dir)
    nights = []
    for entry in entries:
        night = nightly.Night(entry.sweep)
        print(f"== {entry.sweep} @ {date}", file=sys.stderr)
        try:
            spec = load_spec(find_space(argparse.Namespace(name=entry.sweep, spaces=args.spaces)), entry.overrides, entry.trials)
            night.metric, night.direction = spec.metric, spec.direction
            result = run_sweep(spec, RunOptions(stores, data, study=nightly.study_for(entry.sweep, date),
                                                tags={"nightly": date.isoformat()}))
            if result.best is not None:
                night.best, night.params = result.best.value, result.best.params
            before = nightly.previous_night(Tracker(stores.tracking_uri, spec.name), date)
            if before is not None:
                night.previous_date, night.previous, _ = before
        except Exception as error:  # one sweep failing does not stop the others
            night.error = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
            print(f"error: {entry.sweep}: {night.error}", file=sys.stderr)
        nights.append(nightly.compare(night, entry.threshold))
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
ExecStartPre=/bin/mkdir -p {project / 'mlruns' / 'logs'}
ExecStart=/bin/sh -c {shlex.quote(f'exec {command}')}

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
    from sweeps import nightly
    from sweeps.console import render_table
    from sweeps.query import _client
    from sweeps.tracking import Tracker

    client = _client(args.tracking_uri)  # fails with one line when there is no store yet
    if client.get_experiment_by_name(args.name) is None:
        raise ConfigError(f"no runs of sweep '{args.name}' yet; run `sweeps nightly` first")
    rows = nightly.history(Tracker(client.tracking_uri, args.name))
    if not rows:
        raise ConfigError(f"'{args.name}' has no nightly runs; list it in search_spaces/nightly.yaml")
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
        raise ConfigError(f"--at {text}: expected HH:MM, e.g. {DEFAULT_TIME}") from None
    return moment.hour, moment.minute
