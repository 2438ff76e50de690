"""A stand-in `pulumi` CLI: records every call and answers like the real one, per backend and stack.

It resolves the backend as the CLI does (`PULUMI_BACKEND_URL`, else `backend.url` of the Pulumi.yaml found
upwards from the working directory, else the account the shell is logged into, here Pulumi Cloud); a relative
`file://` path is made absolute against the working directory (the CLI's `filepath.Abs`). The stack is
`--stack`/`-s`, else the one selected for the project. Stacks, config and outputs are kept per backend, so a
command that reaches another backend finds no stack, just as with the real CLI. Secrets need a passphrase on
file backends. Everything lives under `$PULUMI_STUB_STATE`; `calls.jsonl` there holds one record per call.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

LOGGED_IN = "https://api.pulumi.com"
STUB_URL_ENV = "PULUMI_STUB_URL"  # the `url` output `up` records
STATE = Path(os.environ["PULUMI_STUB_STATE"])
BLINDED = "[secret]"
PASSPHRASE_ENV = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(255)


def project_file(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        if (directory / "Pulumi.yaml").is_file():
            return directory / "Pulumi.yaml"
    return None


def backend_url(project: dict[str, Any] | None) -> str:
    declared = ((project or {}).get("backend") or {}).get("url")
    url = os.environ.get("PULUMI_BACKEND_URL") or declared or LOGGED_IN
    if url.startswith("file://") and not url.startswith("file://~"):
        url = "file://" + os.path.abspath(url[len("file://") :])
    return str(url)


def load(name: str) -> Any:
    path = STATE / name
    return json.loads(path.read_text()) if path.exists() else {}


def save(name: str, value: Any) -> None:
    (STATE / name).write_text(json.dumps(value, indent=1))


def split_flags(args: list[str]) -> tuple[list[str], dict[str, Any]]:
    words: list[str] = []
    flags: dict[str, Any] = {}
    valued = {"--stack": "stack", "-s": "stack", "--cwd": "cwd", "-C": "cwd"}
    items = iter(args)
    for arg in items:
        if arg in valued:
            flags[valued[arg]] = next(items)
        elif arg.startswith("--stack="):
            flags["stack"] = arg.split("=", 1)[1]
        elif arg.startswith("-"):
            flags[arg.lstrip("-")] = True
        else:
            words.append(arg)
    return words, flags


def main() -> None:
    args = sys.argv[1:]
    words, flags = split_flags(args)
    if "cwd" in flags:
        os.chdir(flags["cwd"])
    cwd = Path.cwd()
    found = project_file(cwd)
    project = yaml.safe_load(found.read_text()) if found else None
    backend = backend_url(project)
    selected = load("selected.json")
    stack = flags.get("stack") or (selected.get(str(found.parent)) if found else None)
    if words[:2] in (["stack", "select"], ["stack", "init"]) and len(words) > 2:
        stack = words[2]
    record = {
        "argv": args,
        "cwd": str(cwd),
        "backend": backend,
        "stack": stack,
        "passphrase": any(name in os.environ for name in PASSPHRASE_ENV),
        "backend_env": os.environ.get("PULUMI_BACKEND_URL"),
    }
    with (STATE / "calls.jsonl").open("a") as log:
        log.write(json.dumps(record) + "\n")
    if found is None:
        fail(f"no Pulumi.yaml project file found (searching upwards from {cwd})")
    assert found is not None
    stacks = load("stacks.json")
    here = stacks.setdefault(backend, {})

    def needs_passphrase() -> None:
        if backend.startswith("file://") and not record["passphrase"]:
            fail("passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE")

    if words[:2] in (["stack", "select"], ["stack", "init"]):
        name = stack
        if name not in here:
            if words[1] == "select" and not flags.get("create"):
                fail(f"no stack named '{name}' found")
            needs_passphrase()
            stack_file = found.parent / f"Pulumi.{name}.yaml"
            seeded = yaml.safe_load(stack_file.read_text()) if stack_file.exists() else None
            config = (seeded or {}).get("config") or {}
            entries = {key: {"value": value, "secret": False} for key, value in config.items()}
            here[name] = {"config": entries, "outputs": {}}
        selected[str(found.parent)] = name
        save("selected.json", selected)
        save("stacks.json", stacks)
        return
    if stack is None:
        fail("no stack selected; please use `pulumi stack select`")
    if stack not in here:
        fail(f"no stack named '{stack}' found")
    state = here[stack]
    config = state["config"]

    if words[:2] == ["config", "set"]:
        key, value = words[2], words[3]
        if flags.get("secret"):
            needs_passphrase()
        if flags.get("path") and "." in key.split(":", 1)[1]:
            top, *path = key.split(".")
            entry = config.setdefault(top, {"value": {}, "secret": False})
            target = entry["value"]
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = value
            entry["secret"] = entry["secret"] or bool(flags.get("secret"))
        else:
            config[key] = {"value": value, "secret": bool(flags.get("secret"))}
    elif words[:2] == ["config", "get"]:
        entry = config.get(words[2])
        if entry is None:
            fail(f"configuration key '{words[2]}' not found for stack '{stack}'")
        assert entry is not None
        if entry["secret"]:
            needs_passphrase()
        value = entry["value"]
        print(value if isinstance(value, str) else json.dumps(value))
    elif words == ["config"] and flags.get("json"):
        listing = {}
        for key, entry in config.items():
            if entry["secret"]:
                listing[key] = {"value": BLINDED, "secret": True}
            elif isinstance(entry["value"], str):
                listing[key] = {"value": entry["value"], "secret": False}
            else:
                value = entry["value"]
                listing[key] = {"value": json.dumps(value), "objectValue": value, "secret": False}
        print(json.dumps(listing))
    elif words and words[0] in ("preview", "up", "refresh", "destroy"):
        if any(entry["secret"] for entry in config.values()):
            needs_passphrase()
        if words[0] == "up":
            state["outputs"] = {"url": os.environ.get(STUB_URL_ENV, "https://stub.salad.cloud")}
        elif words[0] == "destroy":
            state["outputs"] = {}
    elif words[:2] == ["stack", "output"]:
        outputs = state["outputs"]
        if len(words) > 2:
            print(outputs.get(words[2], ""))
        else:
            print(json.dumps(outputs))
    else:
        fail(f"the stub does not know `pulumi {' '.join(args)}`")
    save("stacks.json", stacks)


if __name__ == "__main__":
    main()
