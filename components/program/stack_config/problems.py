"""Collecting problems: unknown keys with a "did you mean" hint, object-shaped values, value display."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any


class Problems:
    """An ordered, de-duplicated list of problem messages."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        if message not in self.messages:
            self.messages.append(message)

    def object(self, value: Any, where: str, known: Iterable[str]) -> Mapping[str, Any] | None:
        """`value` as a mapping (None when unset), after reporting a wrong type or unknown keys.

        A value that is not an object is reported by type only (it may be a credential) and yields None.
        """
        known = tuple(known)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(
                f"{where} must be an object with keys among {', '.join(known)}, got a {type_name(value)}"
            )
            return None
        for key in value:
            if key not in known:
                self.add(unknown_key(where, key, known))
        return value


def unknown_key(where: str, key: Any, known: Iterable[str]) -> str:
    """`<where> has unknown key 'x' (did you mean 'y'?); allowed: ...`."""
    known = tuple(known)
    message = f"{where} has unknown key {key!r}"
    suggestion = did_you_mean(str(key), known)
    if suggestion is not None:
        message += f" (did you mean {suggestion!r}?)"
    return f"{message}; allowed: {', '.join(known)}"


def did_you_mean(key: str, known: Iterable[str]) -> str | None:
    """The known key `key` was probably meant to be: same letters ignoring case, `_` and `-`, else close."""
    known = tuple(known)
    squashed = {_squash(k): k for k in known}
    if _squash(key) in squashed:
        return squashed[_squash(key)]
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def _squash(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def type_name(value: Any) -> str:
    """A YAML-ish name for the type of `value`, for messages that must not echo it."""
    match value:
        case bool():
            return "boolean"
        case int() | float():
            return "number"
        case str():
            return "string"
        case Mapping():
            return "object"
        case list() | tuple():
            return "list"
    return type(value).__name__
