"""A tiny dynamic ResourceProvider used only to test the engine harness.

Importable with no side effects: the harness pickles ``EchoProvider`` by reference and the provider process
imports this module (cwd = project root). Resource inputs: ``name`` (replaces), ``count`` (number, must not
be negative), and optionally ``message``, ``image``, ``tags``, ``explode`` (makes ``create`` raise).
"""

from __future__ import annotations

from typing import Any, Final

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown, contains_unknowns

INPUT_KEYS: Final[tuple[str, ...]] = ("name", "count", "message", "image", "tags", "explode")
REPLACE_KEYS: Final[tuple[str, ...]] = ("name",)
CREATE_LINE: Final[str] = "echo-provider: created"
DELETE_LINE: Final[str] = "echo-provider: deleted"


def _inputs(props: dict[str, Any]) -> dict[str, Any]:
    return {key: props[key] for key in INPUT_KEYS if key in props}


class EchoProvider(ResourceProvider):
    """Echoes its inputs; records what it saw so tests can assert on the wire behaviour."""

    def __init__(self) -> None:
        super().__init__()
        self.greeting: str | None = None
        self.token: str | None = None

    def configure(self, req: ConfigureRequest) -> None:
        # Bare keys resolve to "<PULUMI_PROJECT>:<key>".
        self.greeting = req.config.get("greeting")
        self.token = req.config.get("token")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures: list[CheckFailure] = []
        count = news.get("count")
        if isinstance(count, (int, float)) and not isinstance(count, bool) and count < 0:
            failures.append(CheckFailure("count", f"count must be >= 0, got {count}"))
        checked = dict(news)
        checked["seenUnknownInstances"] = sorted(k for k, v in news.items() if isinstance(v, Unknown))
        checked["seenNestedUnknowns"] = sorted(
            k for k, v in news.items() if not isinstance(v, Unknown) and contains_unknowns(v)
        )
        return CheckResult(checked, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [
            key
            for key in INPUT_KEYS
            if (key in olds or key in news)
            and (contains_unknowns(news.get(key)) or olds.get(key) != news.get(key))
        ]
        replaces = [key for key in changed if key in REPLACE_KEYS]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=bool(replaces))

    def _outs(self, props: dict[str, Any], operation: str) -> dict[str, Any]:
        return {
            **_inputs(props),
            "operation": operation,
            "greeting": self.greeting,
            "token": self.token,
            "countType": type(props.get("count")).__name__,
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        if props.get("explode"):
            raise RuntimeError(f"boom: refusing to create {props.get('name')!r}")
        print(f"{CREATE_LINE} {props['name']}")
        return CreateResult(f"echo-{props['name']}", self._outs(props, "create"))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**self._outs(news, "update"), "previousCount": olds.get("count")})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, self._outs(props, "read"), inputs=_inputs(props))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        print(f"{DELETE_LINE} {id_} ({props.get('operation')})")
