#!/usr/bin/env python3
"""A stand-in for AUTOMATIC1111's webui.py (v1.7 API mode), standard library only.

It runs inside minimal containers in place of the real `webui.py`, and in-process in tests:

    python3 fake_webui.py --listen --port 7859 --api --ckpt /data/models/Stable-diffusion/x.safetensors

- Binds IPv4 `0.0.0.0` with `--listen`, else `127.0.0.1` (`--server-name HOST` wins when given; a host
  containing ':' binds IPv6). `--port` defaults to 7860 (7861 with `--nowebui`). Unknown flags are ignored.
- UI-mode routes (absent with `--nowebui`, as in A1111): `GET /internal/ping` -> `{}`,
  `GET /internal/profile-startup` -> `{}`.
- API routes (only with `--api` or `--nowebui`, else 404):
  `GET /sdapi/v1/sd-models`, `GET /sdapi/v1/options`, `POST /sdapi/v1/txt2img`.
  The checkpoint directory is `--ckpt-dir`, else the directory of `--ckpt`, else
  `$FAKE_WEBUI_MODELS_DIR`, else `/data/models/Stable-diffusion`.
- txt2img answers real PNGs (width x height, RGB) built with zlib+struct, deterministic from the seed;
  seed -1 picks a random seed, which `info` reports like A1111 does.
- `GET /fake/argv` -> the process's argv as a JSON list (program name first, like `sys.argv`).

Knobs (environment, read on every request so tests may flip them):
- `FAKE_WEBUI_FAIL=1`: txt2img answers 500 with an HTML body.
- `FAKE_WEBUI_NO_IMAGES=1`: txt2img answers `{"images": [], ...}`.
- `FAKE_WEBUI_LOAD_SECONDS=S`: the checkpoint "loads" in a background thread for S seconds after start;
  ping answers at once, txt2img waits for the load (like A1111's `Thread(target=load_model)`).
- `FAKE_WEBUI_SECONDS_PER_STEP=S`: txt2img takes steps x S seconds (GPU time, for benchmarks).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import socket
import struct
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VERSION = "v1.7.0"
DEFAULT_MODELS_DIR = "/data/models/Stable-diffusion"
CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt")
MAX_SIDE = 2048


# ---------------------------------------------------------------- PNG


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def make_png(width: int, height: int, seed: int) -> bytes:
    """An RGB PNG whose pixels are a gradient tinted by the seed (same seed, same bytes)."""
    rng = random.Random(seed)
    tint = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    rows = []
    for y in range(height):
        g = (tint[1] + y * 255 // max(height - 1, 1)) % 256
        row = bytearray(b"\x00")  # filter type: none
        for x in range(width):
            row += bytes(((tint[0] + x * 255 // max(width - 1, 1)) % 256, g, (tint[2] + x + y) % 256))
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
        + _chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------- options


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="webui.py", add_help=False)
    parser.add_argument("--listen", action="store_true")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--server-name", default=None)
    parser.add_argument("--api", action="store_true")
    parser.add_argument("--nowebui", action="store_true")
    parser.add_argument("--ckpt", default=None)
    parser.add_argument("--ckpt-dir", default=None)
    options, _unknown = parser.parse_known_args(argv)
    return options


def _models_dir(options: argparse.Namespace) -> str:
    if options.ckpt_dir:
        return str(options.ckpt_dir)
    if options.ckpt:
        return os.path.dirname(os.path.abspath(str(options.ckpt)))
    return os.environ.get("FAKE_WEBUI_MODELS_DIR", DEFAULT_MODELS_DIR)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _model_entry(path: str, models_dir: str) -> dict[str, Any]:
    try:
        title = os.path.relpath(path, models_dir)
    except ValueError:
        title = os.path.basename(path)
    if title.startswith(".."):
        title = os.path.basename(path)
    return {
        "title": title,
        "model_name": os.path.splitext(title.replace(os.sep, "_"))[0],
        "hash": None,
        "sha256": None,
        "filename": path,
        "config": None,
    }


def _int_field(request: dict[str, Any], name: str, default: int) -> int:
    value = request.get(name)
    return default if value is None else int(value)


class FakeWebui:
    """The state behind the routes: options, the checkpoint list and the model-load flag."""

    def __init__(self, argv: list[str], *, program: str = "fake_webui.py") -> None:
        self.argv = [program, *argv]
        self.options = parse_args(argv)
        self.api = bool(self.options.api or self.options.nowebui)
        self.ui = not self.options.nowebui
        self.models_dir = _models_dir(self.options)
        self.ckpt = os.path.abspath(self.options.ckpt) if self.options.ckpt else None
        self.model_loaded = threading.Event()
        self.started = time.time()
        load_seconds = float(os.environ.get("FAKE_WEBUI_LOAD_SECONDS", "0") or 0)
        if load_seconds > 0:
            threading.Thread(target=self._load_model, args=(load_seconds,), daemon=True).start()
        else:
            self.model_loaded.set()

    def _load_model(self, seconds: float) -> None:
        self.model_loaded.wait(seconds)  # nothing sets it meanwhile: a plain, interruptible delay
        self.model_loaded.set()
        print(f"Model loaded in {seconds:.1f}s (fake).", flush=True)

    def sd_models(self) -> list[dict[str, Any]]:
        paths: list[str] = []
        if os.path.isdir(self.models_dir):
            for root, _dirs, files in os.walk(self.models_dir):
                paths += [os.path.join(root, f) for f in files if f.lower().endswith(CHECKPOINT_SUFFIXES)]
        if self.ckpt and self.ckpt not in paths:
            paths.append(self.ckpt)
        return [_model_entry(p, self.models_dir) for p in sorted(paths)]

    def current_model(self) -> dict[str, Any] | None:
        if self.ckpt:
            return _model_entry(self.ckpt, self.models_dir)
        models = self.sd_models()
        return models[0] if models else None

    def sd_options(self) -> dict[str, Any]:
        model = self.current_model()
        return {
            "sd_model_checkpoint": os.path.basename(self.ckpt) if self.ckpt else (model or {}).get("title"),
            "sd_checkpoint_hash": None,
            "samples_format": "png",
            "CLIP_stop_at_last_layers": 1,
            "sd_vae": "Automatic",
        }

    def txt2img(self, request: dict[str, Any]) -> dict[str, Any]:
        """A1111's TextToImageResponse for `request` (raises ValueError for invalid fields)."""
        width = _int_field(request, "width", 512)
        height = _int_field(request, "height", 512)
        if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
            raise ValueError(f"width and height must be between 1 and {MAX_SIDE}")
        steps = _int_field(request, "steps", 50)
        count = max(_int_field(request, "batch_size", 1), 1) * max(_int_field(request, "n_iter", 1), 1)
        requested_seed = _int_field(request, "seed", -1)
        seed = random.randrange(4294967294) if requested_seed == -1 else requested_seed
        seeds = [seed + i for i in range(count)]
        model = self.current_model() or {"model_name": None}
        prompt = str(request.get("prompt") or "")
        negative = str(request.get("negative_prompt") or "")
        parameters = {
            "prompt": prompt,
            "negative_prompt": negative,
            "seed": requested_seed,
            "steps": steps,
            "width": width,
            "height": height,
            "cfg_scale": request.get("cfg_scale", 7.0),
            "sampler_name": request.get("sampler_name"),
            "batch_size": request.get("batch_size", 1),
            "n_iter": request.get("n_iter", 1),
            **{k: v for k, v in request.items() if k not in {"prompt", "negative_prompt", "seed"}},
        }
        infotexts = [
            f"{prompt}\nNegative prompt: {negative}\nSteps: {steps}, Seed: {s}, Size: {width}x{height}, "
            f"Model: {model['model_name']}, Version: {VERSION}"
            for s in seeds
        ]
        info = {
            "prompt": prompt,
            "all_prompts": [prompt] * count,
            "negative_prompt": negative,
            "all_negative_prompts": [negative] * count,
            "seed": seed,
            "all_seeds": seeds,
            "subseed": seed,
            "all_subseeds": seeds,
            "width": width,
            "height": height,
            "steps": steps,
            "sampler_name": request.get("sampler_name") or "Euler",
            "cfg_scale": request.get("cfg_scale", 7.0),
            "batch_size": count,
            "sd_model_name": model["model_name"],
            "sd_model_hash": None,
            "version": VERSION,
            "infotexts": infotexts,
        }
        images = [] if _env_flag("FAKE_WEBUI_NO_IMAGES") else [
            base64.b64encode(make_png(width, height, s)).decode("ascii") for s in seeds
        ]
        return {"images": images, "parameters": parameters, "info": json.dumps(info)}


# ---------------------------------------------------------------- HTTP

_FAIL_PAGE = (
    "<!DOCTYPE html><html><head><title>Internal Server Error</title></head>"
    "<body><h1>Internal Server Error</h1><p>RuntimeError: CUDA error: out of memory (fake)</p></body></html>"
)


class _Handler(BaseHTTPRequestHandler):
    server: WebuiServer
    protocol_version = "HTTP/1.1"
    server_version = "uvicorn"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        if _env_flag("FAKE_WEBUI_QUIET"):
            return
        sys.stderr.write(f"fake-webui: {self.address_string()} - {format % args}\n")

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode())

    def _not_found(self) -> None:
        self._json(404, {"detail": "Not Found"})

    def _route_allowed(self, path: str) -> bool:
        webui = self.server.webui
        if path.startswith("/internal/"):
            return webui.ui
        if path.startswith("/sdapi/"):
            return webui.api
        return True

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        webui = self.server.webui
        if not self._route_allowed(path):
            return self._not_found()
        if path == "/internal/ping":
            return self._json(200, {})
        if path == "/internal/profile-startup":
            return self._json(200, {})
        if path == "/sdapi/v1/sd-models":
            return self._json(200, webui.sd_models())
        if path == "/sdapi/v1/options":
            return self._json(200, webui.sd_options())
        if path == "/fake/argv":
            return self._json(200, webui.argv)
        return self._not_found()

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path != "/sdapi/v1/txt2img" or not self._route_allowed(path):
            return self._not_found()
        try:
            request = json.loads(raw or b"{}")
            if not isinstance(request, dict):
                raise ValueError("body must be a JSON object")
        except ValueError as error:
            return self._json(422, {"detail": [{"loc": ["body"], "msg": str(error), "type": "value_error"}]})
        if _env_flag("FAKE_WEBUI_FAIL"):
            return self._send(500, _FAIL_PAGE.encode(), "text/html; charset=utf-8")
        self.server.webui.model_loaded.wait()
        per_step = float(os.environ.get("FAKE_WEBUI_SECONDS_PER_STEP", "0") or 0)
        if per_step > 0:
            time.sleep(per_step * int(request.get("steps") or 1))
        try:
            answer = self.server.webui.txt2img(request)
        except (TypeError, ValueError) as error:
            return self._json(422, {"detail": [{"loc": ["body"], "msg": str(error), "type": "value_error"}]})
        self._json(200, answer)


class WebuiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], webui: FakeWebui) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.webui = webui
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), int(self.server_address[1])
        if host in {"0.0.0.0", "::"}:
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"


def make_server(argv: list[str], *, host: str | None = None, port: int | None = None) -> WebuiServer:
    """A bound (not yet serving) fake webui for `argv`; `host`/`port` override the flags (port 0 = random)."""
    webui = FakeWebui(argv)
    options = webui.options
    bind_host = host or options.server_name or ("0.0.0.0" if options.listen else "127.0.0.1")
    bind_port = port if port is not None else (options.port or (7861 if options.nowebui else 7860))
    return WebuiServer((bind_host, bind_port), webui)


def serve(argv: list[str], *, host: str | None = None, port: int | None = None) -> WebuiServer:
    """Start a fake webui in a daemon thread and return it; stop it with `server.shutdown()`."""
    server = make_server(argv, host=host, port=port)
    threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-webui", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    server = make_server(args)
    server.webui.argv = [sys.argv[0] if argv is None else "fake_webui.py", *args]
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"Running on local URL:  http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
