"""Preflight of `scripts/deploy.sh`: does the stack hold what `pulumi up` needs, before models are fetched
or anything is built? Prints, for each missing setting, one line with the exact command that sets it.

    python3 -m components.program.preflight STACK      # exit 0: ready, 2: settings missing, 1: pulumi failed

Standard library only: it runs with the system python3, before ./venv exists. Config is read through the
pulumi CLI (so it sees the same backend and stack as `pulumi up`); `pulumi config --json` shows secrets
blinded, so no passphrase is needed unless the `salad-sd:image` object itself is secret.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

API_KEY_ENV = "SALAD_API_KEY"  # components.container_group.settings.API_KEY_ENV, not imported: stdlib only
IMAGE = "salad-sd:image"
BLINDED = "[secret]"

Run = Callable[[Sequence[str]], str]


class PulumiFailed(RuntimeError):
    """The pulumi CLI could not read the stack's config; the message is its own."""


def run_pulumi(args: Sequence[str]) -> str:
    done = subprocess.run(["pulumi", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        message = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise PulumiFailed(f"`pulumi {' '.join(args)}` failed: {message}")
    return done.stdout


def missing_settings(stack: str, run: Run = run_pulumi, env: Mapping[str, str] = os.environ) -> list[str]:
    """One message per missing required setting, each ending in the command that sets it."""
    config: dict[str, Any] = json.loads(run(["config", "--json", "--stack", stack]) or "{}")
    set_it = f"pulumi config set --stack {stack}"
    problems = []
    for key, what in (("salad:organization", "organization"), ("salad:project", "project")):
        if not _present(config.get(key)):
            problems.append(f"{key} is not set: {set_it} {key} <your Salad {what} name>")
    if not _present(config.get("salad:apiKey")) and not env.get(API_KEY_ENV, "").strip():
        problems.append(
            f"salad:apiKey is not set (nor {API_KEY_ENV}): "
            f"{set_it} --secret salad:apiKey <your Salad API key>"
        )
    if not _has_push_target(_image(config.get(IMAGE), stack, run)):
        problems.append(
            f"{IMAGE} has neither repository nor ref (the push target): {set_it} --path "
            f"'{IMAGE}.repository' <registry>/<namespace>/salad-sd"
        )
    return problems


def _present(entry: Any) -> bool:
    if not isinstance(entry, Mapping):
        return False
    value = entry.get("value")
    return entry.get("objectValue") is not None or (isinstance(value, str) and value.strip() != "")


def _image(entry: Any, stack: str, run: Run) -> Any:
    """The `salad-sd:image` object: from the listing, or decrypted when the whole key is secret."""
    if not isinstance(entry, Mapping):
        return None
    if entry.get("objectValue") is not None:
        return entry["objectValue"]
    raw = entry.get("value")
    if raw == BLINDED or entry.get("secret"):
        raw = run(["config", "get", IMAGE, "--stack", stack])
    try:
        return json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def _has_push_target(image: Any) -> bool:
    return isinstance(image, Mapping) and any(
        isinstance(image.get(key), str) and image[key].strip() for key in ("repository", "ref")
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python3 -m components.program.preflight STACK", file=sys.stderr)
        return 2
    stack = args[0]
    try:
        problems = missing_settings(stack)
    except (OSError, ValueError, PulumiFailed) as error:
        print(f"deploy: cannot read the config of stack {stack}: {error}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"deploy: {problem}", file=sys.stderr)
    if problems:
        print(f"deploy: nothing fetched or built; set these, then run scripts/deploy.sh {stack}",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
