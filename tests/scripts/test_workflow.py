"""The README's commands from a fresh checkout, against a stub `pulumi` that resolves backends like the CLI:
every command must reach the same backend and stack, and `scripts/deploy.sh` must stop before fetching or
building anything when a required setting is missing, printing the command that sets it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.txt2img import stack_outputs
from tests.paths import REPO_ROOT

STUB = Path(__file__).with_name("pulumi_stub.py")
PLACEHOLDER = re.compile(r"<[^<>]*>")
SECTION = "## Set-up"
DEAD_URL = "http://127.0.0.1:9"  # discard port: nothing listens, so txt2img fails fast after reading it


@dataclass
class Checkout:
    """A copy of the project as a fresh clone has it, with a stub `pulumi` and a recording venv python."""

    root: Path
    state: Path
    env: dict[str, str]

    def calls(self) -> list[dict[str, Any]]:
        path = self.state / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def python_calls(self) -> list[list[str]]:
        path = self.state / "python.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def run(self, command: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", command], cwd=self.root, env={**self.env, **extra_env},
            capture_output=True, text=True, timeout=120, check=False,
        )


def _tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    return [name for name in listed if (REPO_ROOT / name).is_file() and not (REPO_ROOT / name).is_symlink()]


@pytest.fixture
def checkout(tmp_path: Path) -> Checkout:
    if shutil.which("git") is None:
        pytest.skip("git is needed to list the checkout's files")
    root = tmp_path / "salad-sd"
    for name in _tracked_files():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, root / name)
    state = tmp_path / "stub-state"
    state.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = f"exec {shlex.quote(sys.executable)} {shlex.quote(str(STUB))}"
    (bin_dir / "pulumi").write_text(f'#!/bin/sh\n{stub} "$@"\n')
    (bin_dir / "pulumi").chmod(0o755)
    # ./venv as scripts/venv.sh leaves it (requirements stamp current, so no pip run); its python records
    # every call and stands in for the model fetch (multi-GB downloads), running everything else for real.
    venv_bin = root / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    requirements = (root / "requirements.txt").read_bytes()
    (root / "venv" / ".requirements.sha256").write_text(hashlib.sha256(requirements * 2).hexdigest() + "\n")
    (venv_bin / "python").write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"open({str(state / 'python.jsonl')!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1:3] == ['-m', 'components.model_image.fetch']:\n"
        "    sys.exit(print('fetch stand-in'))\n"
        "if sys.argv[1:3] == ['-m', 'components.model_image.layer_sizes']:\n"  # needs docker and the image
        "    print('layer sizes stand-in')\n"
        "    sys.exit(int(os.environ.get('STUB_LAYER_SIZES_STATUS', '0')))\n"
        f"os.execv({sys.executable!r}, [{sys.executable!r}, *sys.argv[1:]])\n"
    )
    (venv_bin / "python").chmod(0o755)
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("PULUMI_", "SALAD_"))
    }
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PULUMI_STUB_STATE=str(state),
        PULUMI_STUB_URL=DEAD_URL,
        PYTHON=sys.executable,
    )
    return Checkout(root, state, env)


def readme_commands() -> list[str]:
    """The command lines of the README's set-up section, in order, placeholders filled in."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index(SECTION) :]
    section = section[: section.find("\n## ", 1)]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line and not line.startswith(("#", "scripts/test.sh")):
                commands.append(PLACEHOLDER.sub("x-placeholder", line))
    return commands


def test_readme_shows_the_whole_workflow() -> None:
    commands = readme_commands()
    assert any(c.startswith("export PULUMI_CONFIG_PASSPHRASE") for c in commands)
    for needed in ("salad:organization", "salad:project", "salad:apiKey", "image.repository",
                   "image.registry.server", "image.registry.username", "image.registry.password"):
        assert any("pulumi config set" in c and needed in c for c in commands), needed
    for verb in ("scripts/deploy.sh dev", "pulumi preview", "pulumi up", "pulumi refresh",
                 "pulumi stack output", "pulumi destroy", "components.txt2img --stack dev"):
        assert any(c.startswith(verb) or verb in c for c in commands), verb
    assert commands.index("scripts/deploy.sh dev") > max(
        i for i, c in enumerate(commands) if c.startswith("pulumi config set")
    )


@pytest.mark.parametrize("override", [False, True], ids=["Pulumi.yaml backend", "PULUMI_BACKEND_URL"])
def test_every_readme_command_hits_one_backend_and_stack(checkout: Checkout, override: bool) -> None:
    env: dict[str, str] = {}
    expected = f"file://{checkout.root}/.pulumi-state"
    if override:
        other = checkout.root.parent / "team-state"
        other.mkdir()
        env["PULUMI_BACKEND_URL"] = expected = f"file://{other}"
    for command in readme_commands():
        if command.startswith("export "):
            name, _, value = command.removeprefix("export ").partition("=")
            env[name] = shlex.split(value)[0] if value else ""
            continue
        if "components.txt2img" in command:
            command += " --wait-seconds 0 --retry-interval 0.01"
        done = checkout.run(command, **env)
        if "components.txt2img" in command:
            # It read the url output of the deployed stack (then found nothing listening there).
            assert done.returncode == 1 and DEAD_URL in done.stderr, done.stderr
        else:
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"

    calls = checkout.calls()
    seen = {" ".join(c["argv"][:2]) for c in calls} | {c["argv"][0] for c in calls}
    assert {"stack select", "config set", "config --json", "preview", "up", "refresh", "stack output",
            "destroy"} <= seen
    assert {(c["backend"], c["stack"]) for c in calls} == {(expected, "dev")}, calls
    assert all(c["passphrase"] for c in calls)
    # deploy.sh fetched the models (stand-in) and txt2img ran in the project directory.
    python = checkout.python_calls()
    assert ["-m", "components.model_image.fetch", "--stack", "dev"] in python
    txt2img = [c for c in calls if c["argv"][:2] == ["stack", "output"] and "--json" in c["argv"]]
    assert txt2img and all(c["cwd"] == str(checkout.root) for c in txt2img)


def test_txt2img_runs_pulumi_in_the_project_directory_from_anywhere(
    checkout: Checkout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`stack_url` runs the CLI where Pulumi.yaml is, so a shell elsewhere still reaches its backend."""
    env = {"PULUMI_CONFIG_PASSPHRASE": "p"}
    for command in ("pulumi stack select --create dev", "pulumi up"):
        assert checkout.run(command, **env).returncode == 0
    for name, value in {**checkout.env, **env}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(stack_outputs, "PROJECT_DIR", checkout.root)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    assert stack_outputs.stack_url("dev") == DEAD_URL
    last = checkout.calls()[-1]
    assert last["cwd"] == str(checkout.root)
    assert last["backend"] == f"file://{checkout.root}/.pulumi-state"


def test_the_project_directory_is_where_pulumi_yaml_is() -> None:
    assert stack_outputs.PROJECT_DIR == REPO_ROOT and (REPO_ROOT / "Pulumi.yaml").is_file()


# --- scripts/deploy.sh preflight --------------------------------------------------------------------------

REQUIRED = {
    "organization": ("pulumi config set --stack t salad:organization x-org", "salad:organization"),
    "project": ("pulumi config set --stack t salad:project x-project", "salad:project"),
    "apiKey": ("pulumi config set --stack t --secret salad:apiKey x-key", "--secret salad:apiKey"),
    "repository": (
        "pulumi config set --stack t --path 'salad-sd:image.repository' registry.example.com/t/salad-sd",
        "--path 'salad-sd:image.repository'",
    ),
}


@pytest.mark.parametrize("missing", list(REQUIRED))
def test_deploy_stops_before_any_fetch_or_build_with_the_command_to_run(
    checkout: Checkout, missing: str
) -> None:
    env = {"PULUMI_CONFIG_PASSPHRASE": "p"}
    assert checkout.run("pulumi stack select --create t", **env).returncode == 0
    for name, (command, _) in REQUIRED.items():
        if name != missing:
            assert checkout.run(command, **env).returncode == 0

    done = checkout.run("scripts/deploy.sh t", **env)

    assert done.returncode == 2, done.stderr
    wanted = REQUIRED[missing][1]
    lines = [line for line in done.stderr.splitlines() if wanted in line]
    assert len(lines) == 1, done.stderr
    command = re.search(rf"pulumi config set --stack t {re.escape(wanted)} \S*<[^>]+>\S*$", lines[0])
    assert command, lines[0]
    assert sum("pulumi config set" in line for line in done.stderr.splitlines()) == 1, done.stderr
    assert not any(c["argv"][:1] in (["up"], ["preview"]) for c in checkout.calls())
    assert checkout.python_calls() == [], "venv python ran: something was fetched or built"
    assert not (checkout.root / "image" / "models").exists()

    # The printed command, placeholder filled in, is all it takes.
    assert checkout.run(PLACEHOLDER.sub("x-value", command.group(0)), **env).returncode == 0
    again = checkout.run("scripts/deploy.sh t", **env)
    assert again.returncode == 0, again.stderr
    assert [c["argv"][0] for c in checkout.calls()][-1] == "up"


def test_deploy_takes_the_api_key_from_the_environment(checkout: Checkout) -> None:
    env = {"PULUMI_CONFIG_PASSPHRASE": "p"}
    assert checkout.run("pulumi stack select --create t", **env).returncode == 0
    for name, (command, _) in REQUIRED.items():
        if name != "apiKey":
            assert checkout.run(command, **env).returncode == 0

    done = checkout.run("scripts/deploy.sh t", **env, SALAD_API_KEY="from-env")

    assert done.returncode == 0, done.stderr
    assert ["-m", "components.model_image.fetch", "--stack", "t"] in checkout.python_calls()
    assert [c["argv"][0] for c in checkout.calls()][-1] == "up"


@pytest.mark.parametrize("status", [0, 1])
def test_deploy_warns_in_one_line_when_the_size_report_fails(checkout: Checkout, status: int) -> None:
    env = {"PULUMI_CONFIG_PASSPHRASE": "p", "SALAD_API_KEY": "from-env"}
    assert checkout.run("pulumi stack select --create t", **env).returncode == 0
    for name, (command, _) in REQUIRED.items():
        if name != "apiKey":
            assert checkout.run(command, **env).returncode == 0

    done = checkout.run("scripts/deploy.sh t", **env, STUB_LAYER_SIZES_STATUS=str(status))

    assert done.returncode == 0, done.stderr  # the deploy itself succeeded
    assert ["-m", "components.model_image.layer_sizes", "--stack", "t"] in checkout.python_calls()
    warnings = [line for line in done.stderr.splitlines() if line.startswith("deploy: warning:")]
    assert warnings == (
        ["deploy: warning: could not print the image's size by layer group (see above); the deploy succeeded"]
        if status
        else []
    )
