"""`python -m components.model_image.fetch` against a local HTTP server (Range support, request log)."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from components.model_image import fetch as fetch_models
from components.model_image.fetch import FetchError, fetch, main
from components.model_image.models import ChecksumMismatchError, ModelSpec

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Files(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {"/model.safetensors": PAYLOAD}
        self.requests: list[tuple[str, str | None]] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: _Files

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers.get("Range")))
        data = self.server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        status, start = 200, 0
        if self.headers.get("Range", "").startswith("bytes="):
            start = int(self.headers["Range"][6:].rstrip("-"))
            if start >= len(data):
                self.send_error(416)
                return
            status = 206
        self.send_response(status)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])


@pytest.fixture
def server() -> Iterator[_Files]:
    files = _Files()
    thread = threading.Thread(target=files.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield files
    files.shutdown()
    files.server_close()


def test_downloads_a_missing_model_verifies_it_and_shows_progress(server: _Files, tmp_path: Path) -> None:
    model = ModelSpec("model.safetensors", "checkpoint", server.url("/model.safetensors"), SHA)
    out = io.StringIO()
    assert fetch([model], tmp_path, out) == ["model.safetensors"]
    assert (tmp_path / "models" / "checkpoint" / "model.safetensors").read_bytes() == PAYLOAD
    assert "model.safetensors: 100% of 1.0 MB" in out.getvalue()
    assert "ok checkpoint model.safetensors" in out.getvalue()
    assert not list(tmp_path.rglob("*.part"))


def test_present_and_verified_files_are_not_downloaded_or_rehashed_again(
    server: _Files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = ModelSpec("model.safetensors", "checkpoint", server.url("/model.safetensors"), SHA)
    fetch([model], tmp_path, io.StringIO())
    monkeypatch.setattr("components.model_image.models.sha256_file", lambda path: pytest.fail("re-hashed"))
    assert fetch([model], tmp_path, io.StringIO()) == []
    assert len(server.requests) == 1


def test_a_partial_download_is_resumed_with_a_range_request(server: _Files, tmp_path: Path) -> None:
    model = ModelSpec("model.safetensors", "lora", server.url("/model.safetensors"), SHA)
    part = tmp_path / "models" / "lora" / "model.safetensors.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(PAYLOAD[:1000])
    fetch([model], tmp_path, io.StringIO())
    assert server.requests == [("/model.safetensors", "bytes=1000-")]
    assert (tmp_path / "models" / "lora" / "model.safetensors").read_bytes() == PAYLOAD


def test_a_download_with_the_wrong_checksum_is_discarded(server: _Files, tmp_path: Path) -> None:
    model = ModelSpec("model.safetensors", "vae", server.url("/model.safetensors"), "0" * 64)
    with pytest.raises(FetchError, match=f"has sha256 {SHA}, expected 0000"):
        fetch([model], tmp_path, io.StringIO())
    assert not list((tmp_path / "models" / "vae").iterdir())


def test_a_present_file_with_the_wrong_checksum_is_an_error_not_replaced(
    server: _Files, tmp_path: Path
) -> None:
    model = ModelSpec("model.safetensors", "vae", server.url("/model.safetensors"), SHA)
    target = tmp_path / "models" / "vae" / "model.safetensors"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"something else")
    with pytest.raises(ChecksumMismatchError, match="delete the file and run"):
        fetch([model], tmp_path, io.StringIO())
    assert server.requests == []


def test_http_errors_and_missing_urls_name_the_file(server: _Files, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"download of 'gone.pt' from .*/gone.pt answered HTTP 404"):
        fetch([ModelSpec("gone.pt", "embedding", server.url("/gone.pt"))], tmp_path, io.StringIO())
    with pytest.raises(FetchError, match=r"model 'byhand.pt' is missing at .* and has no url"):
        fetch([ModelSpec("byhand.pt", "embedding")], tmp_path, io.StringIO())


def test_tokens_go_only_to_their_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf-secret")
    monkeypatch.delenv("CIVITAI_TOKEN", raising=False)
    assert fetch_models._headers("https://huggingface.co/x/resolve/main/y") == {
        "Authorization": "Bearer hf-secret"
    }
    assert fetch_models._headers("https://cdn-lfs.huggingface.co/y") == {"Authorization": "Bearer hf-secret"}
    assert fetch_models._headers("https://evil-huggingface.co/y") == {}
    assert fetch_models._headers("https://civitai.com/api/download/models/1") == {}


def _stack_file(project: Path, stack: str, models_yaml: str) -> None:
    (project / f"Pulumi.{stack}.yaml").write_text(
        "config:\n  salad-sd:image:\n    repository: docker.io/me/sd\n" + models_yaml
    )


def test_cli_reads_the_stack_file(server: _Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _stack_file(
        tmp_path,
        "dev",
        f"    models:\n      - file: model.safetensors\n        kind: checkpoint\n"
        f"        url: {server.url('/model.safetensors')}\n        sha256: {SHA}\n",
    )
    assert main(["--stack", "dev", "--project-dir", str(tmp_path)]) == 0
    assert (tmp_path / "image" / "models" / "checkpoint" / "model.safetensors").is_file()
    assert "1 model(s) ready" in capsys.readouterr().out


def test_cli_reports_errors_and_empty_lists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _stack_file(tmp_path, "bad", "    models:\n      - file: x\n        kind: upscaler\n")
    assert main(["--config", str(tmp_path / "Pulumi.bad.yaml")]) == 1
    assert "salad-sd:image.models[0].kind must be one of" in capsys.readouterr().err
    _stack_file(tmp_path, "empty", "")
    assert main(["--config", str(tmp_path / "Pulumi.empty.yaml"), "--context", str(tmp_path / "ctx")]) == 0
    assert "is empty" in capsys.readouterr().out
    assert main(["--stack", "absent", "--project-dir", str(tmp_path)]) == 1
