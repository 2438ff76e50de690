"""Reads a stack's `url` output and Salad API key through the pulumi CLI (when it is installed).

The CLI runs in the project directory (where Pulumi.yaml is) unless told otherwise, so it uses the same
backend as every other command: Pulumi.yaml's `backend.url` (a path relative to that directory), or
PULUMI_BACKEND_URL when set.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import components
from components.container_group.settings import API_KEY

PROJECT_DIR = components.PROJECT_DIR
"""Where pulumi runs for `--stack` (Pulumi.yaml's directory, so its relative backend URL resolves there)."""


class StackError(RuntimeError):
    """The stack could not be read; the message says what to do instead."""


def _pulumi(stack: str, *args: str, cwd: str | None) -> str:
    executable = shutil.which("pulumi")
    if executable is None:
        raise StackError(
            f"--stack {stack} needs the pulumi CLI, which is not on PATH; install it "
            "(https://www.pulumi.com/docs/install/) or pass --url https://<your gateway host> "
            "(the stack's `url` output)"
        )
    try:
        done = subprocess.run(
            [executable, *args, "--stack", stack, "--non-interactive"],
            cwd=cwd or PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise StackError(f"running `pulumi {' '.join(args)}` failed: {error}") from error
    if done.returncode != 0:
        message = " ".join(done.stderr.split())[-500:] or f"exit status {done.returncode}"
        raise StackError(f"`pulumi {' '.join(args)} --stack {stack}` failed: {message}")
    return done.stdout


def stack_outputs(stack: str, *, cwd: str | None = None) -> dict[str, Any]:
    """All of the stack's outputs (`pulumi stack output --json`)."""
    raw = _pulumi(stack, "stack", "output", "--json", cwd=cwd)
    try:
        outputs = json.loads(raw or "{}")
    except ValueError as error:
        raise StackError(
            f"`pulumi stack output --json` printed something that is not JSON: {raw[:200]!r}"
        ) from error
    return outputs if isinstance(outputs, dict) else {}


def stack_url(stack: str, *, cwd: str | None = None, outputs: dict[str, Any] | None = None) -> str:
    """The stack's `url` output (the Container Gateway's https URL); `outputs` if already read."""
    url = (stack_outputs(stack, cwd=cwd) if outputs is None else outputs).get("url")
    if not isinstance(url, str) or not url:
        raise StackError(
            f"stack {stack} has no `url` output (has it been deployed, with the Container Gateway on?); "
            "pass --url instead"
        )
    return url


def stack_api_key(stack: str, *, cwd: str | None = None) -> str | None:
    """The stack's `salad:apiKey` config value, or None when it is not set or cannot be read."""
    return stack_config_value(stack, API_KEY, cwd=cwd)


def stack_config_value(stack: str, key: str, *, cwd: str | None = None) -> str | None:
    """One config value of the stack (e.g. `salad:organization`), or None when unset or unreadable."""
    try:
        value = _pulumi(stack, "config", "get", key, cwd=cwd).strip()
    except StackError:
        return None
    return value or None
