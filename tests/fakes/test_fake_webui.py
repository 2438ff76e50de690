"""The fake A1111: routes, flags, knobs, real PNGs, and running as a stdlib-only script."""

from __future__ import annotations

import ast
import base64
import json
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fakes import fake_webui
from tests.fakes.fake_webui import WebuiServer, serve
from tests.fakes.waiting import wait_until
from tests.net import free_port

SCRIPT = Path(fake_webui.__file__)


def decode_png(data: bytes) -> tuple[int, int, bytes]:
    """Signature, IHDR and inflated IDAT, read here independently of components.txt2img.png."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, dict[bytes, bytes]()
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunks[kind] = chunks.get(kind, b"") + data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color) == (8, 2)
    raw = zlib.decompress(chunks[b"IDAT"])
    assert len(raw) == height * (1 + 3 * width)
    return width, height, raw


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_WEBUI_QUIET", "1")
    for knob in ("FAKE_WEBUI_FAIL", "FAKE_WEBUI_NO_IMAGES", "FAKE_WEBUI_LOAD_SECONDS"):
        monkeypatch.delenv(knob, raising=False)


@pytest.fixture
def models(tmp_path: Path) -> Path:
    folder = tmp_path / "models" / "Stable-diffusion"
    (folder / "sub").mkdir(parents=True)
    for name in ("dreamshaper_8.safetensors", "other.ckpt", "sub/nested.safetensors", "notes.txt"):
        (folder / name).write_bytes(b"x")
    return folder


@pytest.fixture
def running(models: Path) -> Iterator[list[WebuiServer]]:
    servers: list[WebuiServer] = []
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def start(running: list[WebuiServer], *argv: str) -> str:
    server = serve(list(argv), host="127.0.0.1", port=0)
    running.append(server)
    return server.url


def txt2img(url: str, **body: Any) -> requests.Response:
    return requests.post(f"{url}/sdapi/v1/txt2img", json=body, timeout=10)


def test_probe_and_model_routes(running: list[WebuiServer], models: Path) -> None:
    checkpoint = str(models / "dreamshaper_8.safetensors")
    url = start(running, "--listen", "--api", "--xformers", "--ckpt", checkpoint)

    assert requests.get(f"{url}/internal/ping", timeout=5).json() == {}
    assert requests.get(f"{url}/internal/profile-startup", timeout=5).json() == {}
    listed = requests.get(f"{url}/sdapi/v1/sd-models", timeout=5).json()
    titles = [m["title"] for m in listed]
    assert titles == ["dreamshaper_8.safetensors", "other.ckpt", "sub/nested.safetensors"]
    assert listed[0] == {"title": "dreamshaper_8.safetensors", "model_name": "dreamshaper_8", "hash": None,
                         "sha256": None, "filename": checkpoint, "config": None}
    options = requests.get(f"{url}/sdapi/v1/options", timeout=5).json()
    assert options["sd_model_checkpoint"] == "dreamshaper_8.safetensors"
    assert requests.get(f"{url}/nope", timeout=5).status_code == 404


def test_ckpt_outside_the_models_dir_is_listed_too(running: list[WebuiServer], tmp_path: Path) -> None:
    lone = tmp_path / "elsewhere" / "solo.safetensors"
    lone.parent.mkdir()
    lone.write_bytes(b"x")
    url = start(running, "--api", "--ckpt", str(lone), "--ckpt-dir", str(tmp_path / "empty"))

    assert [m["model_name"] for m in requests.get(f"{url}/sdapi/v1/sd-models", timeout=5).json()] == ["solo"]


def test_txt2img_returns_a_real_png_and_a1111_shaped_answer(running: list[WebuiServer], models: Path) -> None:
    url = start(running, "--api", "--ckpt", str(models / "dreamshaper_8.safetensors"))

    answer = txt2img(url, prompt="a cat", negative_prompt="dog", steps=1, width=40, height=24, seed=5).json()

    width, height, raw = decode_png(base64.b64decode(answer["images"][0]))
    assert (width, height) == (40, 24)
    assert raw[0] == 0 and len(set(raw)) > 10  # filter byte, then varied pixels
    info = json.loads(answer["info"])
    assert (info["seed"], info["sd_model_name"], info["version"]) == (5, "dreamshaper_8", "v1.7.0")
    assert (info["prompt"], info["negative_prompt"]) == ("a cat", "dog")
    assert (info["width"], info["height"]) == (40, 24)
    assert answer["parameters"]["steps"] == 1


def test_images_depend_only_on_the_seed(running: list[WebuiServer], models: Path) -> None:
    url = start(running, "--api")
    first = txt2img(url, width=16, height=16, seed=9).json()["images"]
    again = txt2img(url, width=16, height=16, seed=9).json()["images"]
    other = txt2img(url, width=16, height=16, seed=10).json()["images"]

    assert first == again != other


def test_random_seed_is_reported_and_reproducible(running: list[WebuiServer], models: Path) -> None:
    url = start(running, "--api")
    answer = txt2img(url, width=8, height=8, seed=-1).json()
    seed = json.loads(answer["info"])["seed"]

    assert seed >= 0 and answer["parameters"]["seed"] == -1
    assert txt2img(url, width=8, height=8, seed=seed).json()["images"] == answer["images"]


def test_batch_gives_consecutive_seeds(running: list[WebuiServer], models: Path) -> None:
    url = start(running, "--api")
    answer = txt2img(url, width=8, height=8, seed=3, batch_size=2, n_iter=2).json()

    assert len(answer["images"]) == 4
    assert json.loads(answer["info"])["all_seeds"] == [3, 4, 5, 6]


def test_without_api_flag_sdapi_is_404_but_probes_answer(running: list[WebuiServer], models: Path) -> None:
    url = start(running, "--listen")

    assert requests.get(f"{url}/internal/ping", timeout=5).status_code == 200
    assert requests.get(f"{url}/sdapi/v1/sd-models", timeout=5).status_code == 404
    assert txt2img(url).status_code == 404


def test_nowebui_has_api_but_no_internal_routes(running: list[WebuiServer], models: Path) -> None:
    url = start(running, "--nowebui")

    assert requests.get(f"{url}/internal/ping", timeout=5).status_code == 404
    assert requests.get(f"{url}/sdapi/v1/options", timeout=5).status_code == 200


def test_fail_and_no_images_knobs(
    running: list[WebuiServer], models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = start(running, "--api")

    monkeypatch.setenv("FAKE_WEBUI_FAIL", "1")
    failed = txt2img(url)
    assert failed.status_code == 500 and failed.headers["Content-Type"].startswith("text/html")
    assert "<html>" in failed.text

    monkeypatch.delenv("FAKE_WEBUI_FAIL")
    monkeypatch.setenv("FAKE_WEBUI_NO_IMAGES", "1")
    empty = txt2img(url, width=8, height=8)
    assert empty.status_code == 200 and empty.json()["images"] == []


def test_invalid_body_is_422(running: list[WebuiServer], models: Path) -> None:
    url = start(running, "--api")

    assert requests.post(f"{url}/sdapi/v1/txt2img", data=b"{nope", timeout=5).status_code == 422
    assert txt2img(url, width=0).status_code == 422


def test_txt2img_waits_for_the_model_load_while_ping_answers(
    running: list[WebuiServer], models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_WEBUI_LOAD_SECONDS", "0.5")
    url = start(running, "--api")
    server = running[-1]

    assert not server.webui.model_loaded.is_set()
    assert requests.get(f"{url}/internal/ping", timeout=5).status_code == 200
    assert txt2img(url, width=8, height=8).status_code == 200
    assert server.webui.model_loaded.is_set()


def test_script_imports_only_the_standard_library() -> None:
    tree = ast.parse(SCRIPT.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported - {"__future__"} <= set(sys.stdlib_module_names)


def test_runs_as_webui_py_in_isolated_mode_with_any_flags(models: Path, tmp_path: Path) -> None:
    port = free_port()
    argv = ["--listen", "--port", str(port), "--api", "--xformers", "--no-hashing",
            "--ckpt", str(models / "dreamshaper_8.safetensors")]
    copy = tmp_path / "webui.py"
    copy.write_text(SCRIPT.read_text())
    env = {"PATH": os.environ.get("PATH", ""), "FAKE_WEBUI_QUIET": "1"}
    process = subprocess.Popen([sys.executable, "-I", "-u", str(copy), *argv], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"

        def pinged() -> bool:
            try:
                return requests.get(f"{url}/internal/ping", timeout=1).status_code == 200
            except requests.ConnectionError:
                return process.poll() is not None  # stop waiting if it died

        wait_until(pinged, timeout=15, message="the fake webui to answer /internal/ping")
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert requests.get(f"{url}/fake/argv", timeout=5).json() == [str(copy), *argv]
        assert decode_png(base64.b64decode(txt2img(url, width=8, height=8).json()["images"][0]))[:2] == (8, 8)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.stdout is not None
    assert f"Running on local URL:  http://0.0.0.0:{port}" in process.stdout.read()
