"""Typed access to a parsed YAML mapping, with errors that name the file and the key path."""

from __future__ import annotations

from typing import Any

from sweeps.errors import ConfigError, shown
from sweeps.formatting import near_miss


class Reader:
    """One YAML mapping read with ``get``/``section``; every error names ``where`` and the key path.

    Args:
        where: the file (or option) being read, the start of every message.
        data: the mapping; anything else is an error.
        prefix: the dotted path of this mapping inside the file (``params.layers.``).
    """

    def __init__(self, where: str, data: Any, prefix: str) -> None:
        self.where, self.prefix = where, prefix
        if not isinstance(data, dict):
            got = "nothing" if data is None else type(data).__name__
            raise ConfigError(f"{where}: {prefix.rstrip('.') or 'top level'}: must be a mapping of keys, got {got}")
        for key in data:
            if not isinstance(key, str):
                raise ConfigError(f"{where}: {prefix}{shown(key)}: a key must be a name, got {type(key).__name__} {shown(key)}")
        self.data = data

    def error(self, key: str, rule: str) -> ConfigError:
        return ConfigError(f"{self.where}: {self.prefix}{key}: {rule}")

    def only(self, allowed: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in allowed:
                close = near_miss(str(key), allowed)
                hint = f" (did you mean {close!r}?)" if close else f"; allowed: {', '.join(allowed)}"
                raise self.error(str(key), f"unknown key{hint}")

    _MISSING = object()

    def get(self, key: str, kind: type, default: Any = _MISSING, nullable: bool = False) -> Any:
        if key not in self.data:
            if default is self._MISSING:
                raise self.error(key, "is required")
            return default
        value = self.data[key]
        if value is None and nullable:
            return None
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            raise self.error(key, f"must be {_TYPE_NAMES[kind]}, got {shown(value)}")
        return value

    def choice(self, key: str, allowed: tuple[str, ...], default: Any = _MISSING, context: str = "") -> str:
        """A string that is one of ``allowed``; a near miss is named (``keras-tuner``: did you
        mean ``keras_tuner``?)."""
        value = self.get(key, str, default=default)
        if value not in allowed:
            close = near_miss(value, allowed)
            hint = f" (did you mean {close!r}?)" if close else ""
            raise self.error(key, f"must be one of {', '.join(allowed)}{context}, got {value!r}{hint}")
        return value

    def positive(self, key: str, default: Any = _MISSING) -> int:
        """An integer ``>= 1``."""
        value = self.get(key, int, default=default)
        if value < 1:
            raise self.error(key, f"must be >= 1, got {value}")
        return value

    def section(self, key: str, default: Any = _MISSING) -> Reader:
        return Reader(self.where, self.get(key, dict, default=default), f"{self.prefix}{key}.")


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", dict: "a mapping"}
