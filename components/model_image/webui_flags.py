"""The webui flags the image refuses in CLI_ARGS / WEBUI_EXTRA_ARGS, read from the same file the
entrypoint reads (image/refused-webui-flags.txt), so the config check and the container agree."""

from __future__ import annotations

from functools import cache
from pathlib import Path

REFUSED_FLAGS_FILE = Path(__file__).resolve().parents[2] / "image" / "refused-webui-flags.txt"
FLAG_VARIABLES = ("CLI_ARGS", "WEBUI_EXTRA_ARGS")  # the env variables the entrypoint adds to the webui's argv


@cache
def refused_flags() -> dict[str, str]:
    """Flag -> why it is refused."""
    flags = {}
    for line in REFUSED_FLAGS_FILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            flag, _, reason = line.strip().partition(" ")
            flags[flag] = reason.strip()
    return flags


def refused_in(arguments: str) -> list[tuple[str, str]]:
    """The refused flags among whitespace-separated `arguments` (as `--flag` or `--flag=value`), with why."""
    found = []
    for argument in arguments.split():
        flag = argument.split("=", 1)[0]
        if flag in refused_flags():
            found.append((flag, refused_flags()[flag]))
    return found
