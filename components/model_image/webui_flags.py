"""The webui flags the image refuses in CLI_ARGS / WEBUI_EXTRA_ARGS, read from the same file the
entrypoint reads (image/refused-webui-flags.txt), so the config check and the container agree.

The rule, the same as the entrypoint's: an argument (`--flag` or `--flag=value`) is refused when its flag
is a refused flag, or a strict prefix of one (A1111's argparse expands unique prefixes) that is not an
A1111 flag of its own (an `allow` line)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

REFUSED_FLAGS_FILE = Path(__file__).resolve().parents[2] / "image" / "refused-webui-flags.txt"
FLAG_VARIABLES = ("CLI_ARGS", "WEBUI_EXTRA_ARGS")  # the env variables the entrypoint adds to the webui's argv


@dataclass(frozen=True)
class FlagRules:
    refused: dict[str, str]  # flag -> why it is refused
    allowed: frozenset[str]  # A1111 flags that are strict prefixes of a refused one


@cache
def flag_rules() -> FlagRules:
    refused = {}
    allowed = set()
    for line in REFUSED_FLAGS_FILE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        flag, _, reason = line.strip().partition(" ")
        if flag == "allow":
            allowed.add(reason.split()[0])
        else:
            refused[flag] = reason.strip()
    return FlagRules(refused=refused, allowed=frozenset(allowed))


def refused_flags() -> dict[str, str]:
    """Flag -> why it is refused."""
    return flag_rules().refused


def refusal(flag: str) -> str | None:
    """Why `flag` (without its `=value`) is refused, or None when it is not."""
    rules = flag_rules()
    if flag in rules.refused:
        return rules.refused[flag]
    if len(flag) <= 2 or not flag.startswith("--") or flag in rules.allowed:
        return None
    for refused, reason in rules.refused.items():
        if refused.startswith(flag):
            return f"a prefix of {refused}, which A1111 accepts for it: {reason}"
    return None


def refused_in(arguments: str) -> list[tuple[str, str]]:
    """The refused flags among whitespace-separated `arguments` (as `--flag` or `--flag=value`), with why."""
    found = []
    for argument in arguments.split():
        flag = argument.split("=", 1)[0]
        reason = refusal(flag)
        if reason is not None:
            found.append((flag, reason))
    return found
