"""`python -m components.txt2img` run as a real command against the fakes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.txt2img.cli import output_paths
from components.txt2img.png import inspect_png
from tests.fakes.fake_webui import WebuiServer
from tests.paths import REPO_ROOT
from tests.txt2img.conftest import GATEWAY_KEY, MODEL, GatewayFactory

FAST_FLAGS = ["--retry-interval", "0.01", "--wait-seconds", "5"]


def run_cli(
    *args: str, env: dict[str, str] | None = None, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "SALAD_API_KEY"}
    environment.update(env or {})
    if path is not None:
        environment["PATH"] = path
    done = subprocess.run(
        [sys.executable, "-m", "components.txt2img", *args],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=60, check=False,
    )
    assert GATEWAY_KEY not in done.stdout + done.stderr, "the API key was printed"
    return done


def test_writes_a_decodable_png_and_prints_seed_model_and_time(webui: WebuiServer, tmp_path: Path) -> None:
    out = tmp_path / "apple.png"

    done = run_cli("--url", webui.url, "--prompt", "an apple", "--steps", "1", "--seed", "1234",
                   "--width", "80", "--height", "56", "--out", str(out), *FAST_FLAGS)

    assert done.returncode == 0, done.stderr
    info = inspect_png(out.read_bytes())
    assert (info.width, info.height) == (80, 56)
    assert f"wrote {out} (80x56 PNG)" in done.stdout
    assert "seed: 1234" in done.stdout
    assert f"model: {MODEL}" in done.stdout
    assert "time: " in done.stdout


def test_through_an_auth_gateway_after_503s_with_the_key_from_the_environment(
    start_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = start_gateway(auth=True).script(503, 503)
    out = tmp_path / "img.png"

    done = run_cli("--url", gateway.url, "--steps", "1", "--width", "64", "--height", "64",
                   "--out", str(out), *FAST_FLAGS, env={"SALAD_API_KEY": GATEWAY_KEY})

    assert done.returncode == 0, done.stderr
    assert inspect_png(out.read_bytes()).width == 64
    assert done.stderr.count("waiting: HTTP 503 Service Unavailable") == 2
    assert "repeating the request with Salad-Api-Key" in done.stderr
    assert [s.api_key for s in gateway.seen] == [None, None, None, GATEWAY_KEY]
    assert "(4 attempts)" in done.stdout


def test_key_stays_home_when_the_gateway_does_not_ask(start_gateway: GatewayFactory, tmp_path: Path) -> None:
    gateway = start_gateway(auth=False)

    done = run_cli("--url", gateway.url, "--steps", "1", "--out", str(tmp_path / "x.png"), *FAST_FLAGS,
                   env={"SALAD_API_KEY": GATEWAY_KEY})

    assert done.returncode == 0, done.stderr
    assert [s.api_key for s in gateway.seen] == [None]


def test_several_images_are_numbered(webui: WebuiServer, tmp_path: Path) -> None:
    out = tmp_path / "pics" / "pic.png"

    done = run_cli("--url", webui.url, "--steps", "1", "--width", "32", "--height", "32", "--seed", "7",
                   "--batch-size", "2", "--out", str(out), *FAST_FLAGS)

    assert done.returncode == 0, done.stderr
    for name in ("pic-1.png", "pic-2.png"):
        assert inspect_png((tmp_path / "pics" / name).read_bytes()).height == 32
    assert "seed: 7, 8" in done.stdout


def test_output_paths() -> None:
    assert output_paths(Path("a/b.png"), 1) == [Path("a/b.png")]
    assert output_paths(Path("a/b"), 2) == [Path("a/b-1.png"), Path("a/b-2.png")]


def test_bounded_failure_exits_1_with_a_clear_message(start_gateway: GatewayFactory, tmp_path: Path) -> None:
    gateway = start_gateway().script(*[503] * 10_000)

    done = run_cli("--url", gateway.url, "--out", str(tmp_path / "x.png"),
                   "--retry-interval", "0.01", "--wait-seconds", "0.3")

    assert done.returncode == 1
    assert "error: gave up after" in done.stderr and "503 Service Unavailable" in done.stderr
    assert not (tmp_path / "x.png").exists()


def test_answer_without_images_exits_1(
    webui: WebuiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_WEBUI_NO_IMAGES", "1")  # the fake runs in this process and reads it per request

    done = run_cli("--url", webui.url, "--out", str(tmp_path / "x.png"), *FAST_FLAGS)

    assert done.returncode == 1
    assert "error: the answer has no images" in done.stderr
    assert not (tmp_path / "x.png").exists()


def test_stack_without_the_pulumi_cli_says_to_pass_url(tmp_path: Path) -> None:
    python_dir = str(Path(sys.executable).parent)
    assert shutil.which("pulumi", path=python_dir) is None

    done = run_cli("--stack", "dev", path=python_dir)

    assert done.returncode == 2
    assert "needs the pulumi CLI" in done.stderr and "--url" in done.stderr
    assert "Traceback" not in done.stderr


def fake_pulumi(directory: Path, outputs: dict[str, object], api_key: str | None) -> Path:
    """A `pulumi` executable answering `stack output --json` and `config get salad:apiKey`; logs its argv."""
    log = directory / "pulumi-calls.jsonl"
    script = directory / "pulumi"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "args = sys.argv[1:]\n"
        "if args[:3] == ['stack', 'output', '--json']:\n"
        f"    print(json.dumps({outputs!r}))\n"
        "elif args[:3] == ['config', 'get', 'salad:apiKey']:\n"
        f"    key = {api_key!r}\n"
        "    if key is None:\n"
        "        sys.exit('error: configuration key not found')\n"
        "    print(key)\n"
        "else:\n"
        "    sys.exit('unexpected: ' + ' '.join(args))\n"
    )
    script.chmod(0o755)
    return log


def test_stack_reads_url_and_key_through_the_pulumi_cli(
    start_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = start_gateway(auth=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = fake_pulumi(bin_dir, {"url": gateway.url, "dns": "x"}, GATEWAY_KEY)

    done = run_cli("--stack", "dev", "--steps", "1", "--out", str(tmp_path / "s.png"), *FAST_FLAGS,
                   path=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    assert done.returncode == 0, done.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls[0][:3] == ["stack", "output", "--json"] and "dev" in calls[0]
    assert calls[1][:3] == ["config", "get", "salad:apiKey"] and "dev" in calls[1]
    assert [s.api_key for s in gateway.seen] == [None, GATEWAY_KEY]


def test_stack_without_url_output_is_a_clear_error(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_pulumi(bin_dir, {}, None)

    done = run_cli("--stack", "dev", path=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    assert done.returncode == 2
    assert "no `url` output" in done.stderr


def test_url_and_stack_are_exclusive() -> None:
    done = run_cli("--url", "http://x", "--stack", "dev")
    assert done.returncode == 2
    assert "not allowed with" in done.stderr


@pytest.mark.parametrize("flag", ["--steps", "--width", "--height"])
def test_sizes_must_be_positive(flag: str) -> None:
    done = run_cli("--url", "http://x", flag, "0")
    assert done.returncode == 2 and "must be at least 1" in done.stderr
