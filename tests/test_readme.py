"""The README and the docs say what the command line does: every option they show exists on
the command they show it with, and the README's reference lists every option of every command."""

from __future__ import annotations

import argparse
import re

import pytest

from sweeps.cli import build_parser, command_parsers
from sweeps.commands import COMMANDS
from tests.support import REPO

PARSERS = command_parsers(build_parser())
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def options_of(command: str) -> set[str]:
    """The options ``sweeps COMMAND --help`` lists (``--help`` itself aside)."""
    return {
        flag
        for action in PARSERS[command]._actions
        if action.help != argparse.SUPPRESS
        for flag in action.option_strings
        if flag.startswith("--") and flag != "--help"
    }


def command_of(line: str) -> str | None:
    """The command a ``python -m sweeps ...`` line runs (``None`` for the program's own options)."""
    words = [w for w in line.split("python -m sweeps", 1)[1].split() if not w.startswith("-")]
    if not words:
        return None
    return words[0] if words[0] in COMMANDS else "run"


def sweeps_lines(text: str) -> list[tuple[str, str]]:
    """``(command, line)`` for every ``python -m sweeps`` line of the code blocks in ``text``,
    with the option lines indented under it in a reference block joined to it."""
    found: list[tuple[str, str]] = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            code = line.split("#")[0]
            if "python -m sweeps" in code:
                found.append((command_of(code), code))
            elif found and code.startswith(" ") and code.strip().startswith(("--", "[")):
                found[-1] = (found[-1][0], found[-1][1] + " " + code)
    return [(command, line) for command, line in found if command is not None]


@pytest.mark.parametrize("page", ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))])
def test_every_option_shown_exists_on_its_command(page: str) -> None:
    wrong = [
        f"{command}: {option}"
        for command, line in sweeps_lines((REPO / page).read_text())
        for option in OPTION.findall(line.split("python -m sweeps", 1)[1])
        if option not in options_of(command) | {"--version", "--help"}
    ]
    assert not wrong, f"{page} shows options its commands do not take: {wrong}"


def test_the_readme_reference_lists_every_option_of_every_command() -> None:
    text = (REPO / "README.md").read_text()
    reference = text.split("### Commands", 1)[1].split("\n## ", 1)[0]
    listed: dict[str, set[str]] = {}
    for command, line in sweeps_lines(reference):
        listed.setdefault(command, set()).update(OPTION.findall(line.split("python -m sweeps", 1)[1]))
    assert "`--debug`" in reference  # every command's, said once for all
    missing = {command: sorted(options_of(command) - listed.get(command, set()) - {"--debug"}) for command in COMMANDS}
    assert not {command: options for command, options in missing.items() if options}, missing


def test_the_readmes_set_up_commands_come_first() -> None:
    text = (REPO / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, flags=re.S).group(1)
    assert first_block.splitlines() == [
        "pip install -e . && python -m sweeps imdb_depth",
        'pip install -e ".[test]" && python -m pytest -q',
    ]
