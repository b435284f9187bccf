"""Reading a YAML file a person wrote, refusing what no sweep file needs and what could hang or
exhaust the machine: more than 1 MB, text that is not UTF-8, duplicate keys (the last would
silently win), more than ``MAX_ALIASES`` aliases (a few bytes of them can expand into millions of
nodes), more than ``MAX_NODES`` nodes, nesting deeper than ``MAX_DEPTH``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sweeps.errors import ConfigError, shown

MAX_BYTES = 1_000_000
MAX_ALIASES = 50
MAX_NODES = 100_000
MAX_DEPTH = 50


def read_yaml(path: Path, what: str) -> tuple[str, Any]:
    """The text of ``path`` and its YAML document.

    Raises:
        ConfigError: the file cannot be read, is not UTF-8, breaks one of the limits, or is not
            valid YAML (line and column named); ``what`` says what the file was meant to be.
    """
    try:
        if not path.is_file():
            raise ConfigError(f"{path}: cannot read {what}: not a file")
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError(f"{path}: {what} is {path.stat().st_size} bytes; at most {MAX_BYTES} are read")
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read {what}: {error.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not UTF-8 text: byte 0x{raw[error.start]:02x} at line {line}; save it as UTF-8") from None
    return text, parse(text, str(path))


def parse(text: str, where: str) -> Any:
    """The YAML document in ``text``, with the limits above (``where`` names it in errors)."""
    loader = _Loader(text, where)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{where}: not valid YAML{at}: {shown(getattr(error, 'problem', None) or error, 200)}") from None
    finally:
        loader.dispose()


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, counting aliases and nodes, limiting depth, refusing duplicate keys."""

    def __init__(self, text: str, where: str) -> None:
        super().__init__(text)
        self.where, self.aliases, self.nodes, self.depth = where, 0, 0, 0
        self.sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise self._refuse(f"uses more than {MAX_ALIASES} aliases (*name); write the values out")
            self.nodes += self._size(self.anchors.get(self.peek_event().anchor))  # what the alias stands for
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self._refuse(f"holds more than {MAX_NODES} values once its aliases are expanded; a sweep file is much smaller")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise self._refuse(f"nests more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def _size(self, node: yaml.Node | None) -> int:
        """How many values ``node`` holds, its aliases expanded (counted once per node, remembered)."""
        if node is None or isinstance(node, yaml.ScalarNode):
            return 1
        if id(node) not in self.sizes:
            children = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else node.value
            self.sizes[id(node)] = 1 + sum(self._size(child) for child in children)
        return self.sizes[id(node)]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in lines:
                    raise ConfigError(f"{self.where}: key {shown(key)} appears twice, at lines {lines[key]} and {line}; keep one")
                lines[key] = line
            except TypeError:  # an unhashable key: the reader refuses it with the key's path
                pass
        return super().construct_mapping(node, deep)

    def _refuse(self, rule: str) -> ConfigError:
        return ConfigError(f"{self.where}: {rule} (line {self.peek_event().start_mark.line + 1})")
