"""``sweeps init`` and ``sweeps check``: starting a project of your own, and trying a pipeline."""

from __future__ import annotations

import argparse
import re
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

from sweeps.commands import COMMANDS
from sweeps.commands.common import (
    add_backend_option,
    add_command,
    add_data_dir_option,
    add_project_options,
    data_options,
    parse_overrides,
    start_backend,
)
from sweeps.defaults import SCHEDULE_FILE
from sweeps.errors import EXIT_OK, EXIT_USAGE, ConfigError

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
PLACEHOLDER = "__NAME__"


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``init`` and ``check`` to the command line."""
    init = add_command(commands, common, "init", cmd_init)
    init.add_argument("name", help="the new sweep's name (letters, digits and _; it also names the pipeline)")
    add_project_options(init, existing=False)

    validate = add_command(commands, common, "validate", cmd_validate)
    validate.add_argument(
        "names",
        nargs="*",
        metavar="NAME|FILE",
        help="sweeps or .yaml files (default: every sweep and the schedule)",
    )
    add_project_options(validate)

    check = add_command(commands, common, "check", cmd_check)
    check.add_argument("name", help="a sweep's name or the path of its .yaml file")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="as for run")
    add_backend_option(check)
    add_data_dir_option(check)
    add_project_options(check)


def cmd_init(args: argparse.Namespace) -> int:
    """Write a working project skeleton: a search space and a pipeline for a tabular CSV task.

    search_spaces/NAME.yaml says what to try, pipelines/NAME.py how to train; `python -m sweeps
    NAME` runs at once (on a generated CSV until you give it yours with --data-dir).
    """
    from sweeps.spec.catalog import builtin_spaces, project_dir, project_spaces

    if not NAME.match(args.name):
        raise ConfigError(f"init {args.name}: a name is letters, digits and '_', starting with a letter")
    if args.name in COMMANDS or f"{args.name}.yaml" == SCHEDULE_FILE:
        what = "the nightly schedule's file name" if args.name not in COMMANDS else f"the command `sweeps {args.name}`"
        raise ConfigError(f"init {args.name}: {args.name} is {what}, so a sweep cannot be called that; pick another name")
    targets = {
        project_spaces(args.project, args.spaces) / f"{args.name}.yaml": "tabular_sweep.yaml",
        project_dir(args.project) / "pipelines" / f"{args.name}.py": "tabular_pipeline.py",
    }
    existing = [str(path) for path in targets if path.exists()]
    if existing:
        raise ConfigError(f"init {args.name}: {', '.join(existing)} already exists; init never overwrites (pick another name)")
    for path, template in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files("sweeps.templates").joinpath(template).read_text().replace(PLACEHOLDER, args.name))
        print(f"wrote {path}")
    if (builtin_spaces() / f"{args.name}.yaml").exists():
        print(f"note: this project's {args.name} replaces the built-in sweep of that name", file=sys.stderr)
    print(f"next: python -m sweeps check {args.name}   # one batch, to see the model and the hyperparameters")
    print(f"      python -m sweeps {args.name} [--data-dir DIR with {args.name}.csv]")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """Check sweep files and their pipelines' contracts, without training or TensorFlow: every problem listed.

    Exit code 2 when any file has a problem. A valid file may still fail on its data or in
    training: `sweeps check NAME` tries one batch.
    """
    from sweeps.spec.catalog import catalog, find_sweep, schedule_file
    from sweeps.spec.loading import file_problems

    checked: list[tuple[str, list[str]]] = []  # (what was checked, its problems)
    for name in args.names or catalog(args.project, args.spaces):
        try:
            sweep = find_sweep(name, args.project, args.spaces)
        except ConfigError as error:
            checked.append((name, [str(error)]))
            continue
        checked.append((f"{sweep.name} ({sweep.origin})", file_problems(sweep.path, args.project)))
    if not args.names:
        schedule = schedule_file(args.project, args.spaces)
        checked.append((f"the schedule {schedule}", _schedule_problems(schedule, args)))
    for label, problems in checked:
        print(f"{label}: " + (f"{len(problems)} problem(s)" if problems else "ok"))
        for problem in problems:
            print(f"  {problem}")
    failing = sum(bool(problems) for _, problems in checked)
    if failing:
        print(f"{failing} of {len(checked)} checked have problems", file=sys.stderr)
    return EXIT_USAGE if failing else EXIT_OK


def _schedule_problems(path: Path, args: argparse.Namespace) -> list[str]:
    """The schedule's problems: its own, and each entry naming a sweep that does not exist."""
    from sweeps.spec.catalog import find_sweep
    from sweeps.spec.schedule import load_schedule

    try:
        entries = load_schedule(path)
    except ConfigError as error:
        return [str(error)]
    problems = []
    for entry in entries:
        try:
            find_sweep(entry.sweep, args.project, args.spaces)
        except ConfigError as error:
            problems.append(f"{path}: sweeps.{entry.sweep}: {error}")
    return problems


def cmd_check(args: argparse.Namespace) -> int:
    """Try a sweep's pipeline: load its data, build the model, train one batch, show the hyperparameters.

    Fast feedback while writing a pipeline: anything wrong is one line naming the file, exit 2.
    Nothing is recorded.
    """
    from sweeps.spec.catalog import find_sweep
    from sweeps.spec.loading import load_spec

    sweep = find_sweep(args.name, args.project, args.spaces)
    data = data_options(args, None)
    spec = load_spec(sweep.path, parse_overrides(args.overrides), project=args.project)
    start_backend(args, [spec])
    from sweeps.reporting.tables import render_table
    from sweeps.tracking.callbacks import model_summary
    from sweeps.training.check import try_one_batch
    from sweeps.training.fit import FitRequest

    hp = spec.hyperparameters({})
    dataset = spec.pipeline.load_data(hp, data)
    print(f"{spec.name} ({sweep.origin}): pipeline {spec.pipeline.name} ({spec.pipeline.path})")
    print(f"data: {dataset.source.describe()} ({dataset.sizes()})")
    model, logs = try_one_batch(FitRequest(spec.pipeline, dataset, hp, spec.objective))
    print(model_summary(model))
    print(
        "one batch: " + "  ".join(f"{key}={value:.4g}" for key, value in logs.items()) + f"  (objective {spec.objective.metric})"
    )
    print(render_table(["hyperparameter", "default", "rule", "in this sweep"], _hyperparameter_rows(spec)))
    return EXIT_OK


def _hyperparameter_rows(spec: Any) -> list[list[str]]:
    """name, default, rule, and whether the sweep varies it, fixes it, or leaves the default."""
    rows = []
    for name, decl in spec.pipeline.hyperparameters.items():
        if name in spec.params:
            param = spec.params[name]
            used = f"swept: {', '.join(map(str, param.choices))}" if param.choices else f"swept: {param.low} .. {param.high}"
        elif name in spec.fixed:
            used = f"fixed: {spec.fixed[name]}"
        else:
            used = "default"
        rows.append([name, str(decl.default), decl.rule(), used])
    return rows
