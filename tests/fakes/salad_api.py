"""A test emulator of SaladCloud's public API (container groups), served over real HTTP.

    from tests.fakes.salad_api import SaladEmulator, Timings

    with SaladEmulator(api_key="test-key") as emu:
        requests.get(f"{emu.base_url}/organizations/acme/projects/dev/containers",
                     headers={"Salad-Api-Key": emu.api_key})

CLI: ``python -m tests.fakes.salad_api --port 8787 [--api-key K] [--prefix /api/public] [--speed X]``
(``--realistic`` for minutes-long timings).

Lifecycle and versioning decisions are documented in `salad_world.py`; validation rules in `salad_rules.py`.
Request order: read request → log → fault injection → auth (401) → route (404/405) → operation.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.salad_catalog import gpu_classes
from tests.fakes.salad_http import API_KEY_HEADER, Request, Response, SaladApp, html_page, problem
from tests.fakes.salad_incident_routes import ROUTES as INCIDENT_ROUTES
from tests.fakes.salad_model import Timings
from tests.fakes.salad_queues import QueueService
from tests.fakes.salad_rules import merge_patch
from tests.fakes.salad_world import World

__all__ = ["LoggedRequest", "SaladEmulator", "Timings"]

Json = Any
PathRe = str | re.Pattern[str]
DROPPED = 0  # LoggedRequest.status of a request answered by closing the connection


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str  # without the prefix
    query: str
    content_type: str | None
    body: Json  # parsed JSON, or None
    raw_body: bytes
    status: int  # DROPPED when the connection was dropped
    time: float  # time.monotonic() when the request arrived
    headers: dict[str, str]  # without Salad-Api-Key


@dataclass
class _Fault:
    kind: str  # "status" | "drop" | "delay" | "create_then_503"
    times: int
    method: str | None = None
    path_re: PathRe | None = None
    status: int = 0
    retry_after: str | None = None
    html: bool = False
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        if self.kind == "create_then_503":
            return method == "POST" and re.search(r"/containers$", path) is not None
        return (self.method is None or self.method == method) and (
            self.path_re is None or re.search(self.path_re, path) is not None
        )


class SaladEmulator:
    """In-process SaladCloud API emulator on 127.0.0.1 (random port unless given)."""

    def __init__(
        self,
        api_key: str = "test-key",
        prefix: str = "/api/public",
        timings: Timings | None = None,
        *,
        speed: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.world = World(timings or Timings(), speed)
        self.app = SaladApp(self.world, api_key)
        self.app.routes += INCIDENT_ROUTES
        self.queues = QueueService(self.world)  # job queues, stand-in worker, autoscaler (salad_queues.py)
        self.app.routes[:0] = self.queues.routes()  # first: it also checks the queue of a new group
        self._host, self._port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._log: list[LoggedRequest] = []

    # --- server ---------------------------------------------------------------------------------------------

    def start(self) -> SaladEmulator:
        if self._server is not None:
            return self
        server = _Server((self._host, self._port), _Handler)
        server.emulator = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name="salad-emulator", daemon=True
        )
        self._thread.start()
        self.queues.start()
        return self

    def stop(self) -> None:
        self.queues.stop()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SaladEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start()")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}{self.prefix}"

    # --- fault knobs ----------------------------------------------------------------------------------------

    def inject_status(
        self,
        status: int,
        *,
        times: int = 1,
        method: str | None = None,
        path_re: PathRe | None = None,
        retry_after: str | None = None,
        html: bool = False,
    ) -> None:
        """Answer `status` (ProblemDetails JSON, or an HTML page) to the next `times` matching requests."""
        self._add_fault(
            _Fault("status", times, method, path_re, status=status, retry_after=retry_after, html=html)
        )

    def inject_drop(
        self, *, times: int = 1, method: str | None = None, path_re: PathRe | None = None
    ) -> None:
        """Read the next matching requests, then close the connection without any response."""
        self._add_fault(_Fault("drop", times, method, path_re))

    def inject_delay(
        self, seconds: float, *, times: int = 1, method: str | None = None, path_re: PathRe | None = None
    ) -> None:
        """Wait `seconds`, then serve the next matching requests normally."""
        self._add_fault(_Fault("delay", times, method, path_re, seconds=seconds))

    def inject_create_then_503(self, *, times: int = 1) -> None:
        """The next `times` successful creates really create the group but answer 503 with an HTML body."""
        self._add_fault(_Fault("create_then_503", times))

    def _add_fault(self, fault: _Fault) -> None:
        if fault.times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, path: str, kinds: tuple[str, ...]) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.matches(method, path):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # --- world knobs and inspection -------------------------------------------------------------------------

    def fail_image_preparation(
        self, image_substring: str, description: str = "Failed to pull image: manifest unknown"
    ) -> None:
        self.world.fail_image_preparation(image_substring, description)

    def never_ready(self, image_substring: str) -> None:
        self.world.never_ready(image_substring)

    def fail_instances(self, image_substring: str, mode: str) -> None:
        """Instances of matching images fail in `mode` (see salad_incidents.MODES)."""
        with self.world.lock:
            self.world.incidents.add_rule(image_substring, mode)

    def set_replicas_quota(self, quota: int) -> None:
        with self.world.lock:
            self.world.incidents.replicas_quota = quota

    def limit_instance_actions(self, per_minute: int, window_seconds: float = 60.0) -> None:
        """Instance actions allowed per group in each `window_seconds` (reported as the per-minute quota)."""
        with self.world.lock:
            self.world.incidents.actions_per_minute = per_minute
            self.world.incidents.action_window = window_seconds

    def no_gpu_availability(self, none: bool = True) -> None:
        """The availability query answers 0 nodes for every priority."""
        with self.world.lock:
            self.world.incidents.gpus_available = not none

    def reject_edits_while_pending(self, enabled: bool = True) -> None:
        """PATCH of a group whose image is being prepared answers 400 (Salad disables Edit meanwhile)."""
        self.app.reject_edits_while_pending = enabled

    def env_semantics(self, mode: str) -> None:
        """How a PATCH's environment map is applied: "merge" (RFC 7386, per key) or "replace" (whole map)."""
        if mode not in ("merge", "replace"):
            raise ValueError(mode)
        self.world.env_semantics = mode

    def env_null_deletes(self, enabled: bool = True) -> None:
        """Accept RFC 7386's `{"NAME": null}` in environment_variables (outside the spec: 400 otherwise)."""
        self.app.env_null_deletes = enabled

    def hardware_edits_bump_version(self, enabled: bool = True) -> None:
        """A resources edit bumps the version; the kept instances stay on the old one."""
        self.world.hardware_edits_bump_version = enabled

    def version_after_preparation(self, enabled: bool = True) -> None:
        """An image change shows its new version only once the image is prepared (not in the PATCH answer)."""
        self.world.version_after_preparation = enabled

    def brief_stop_with_autostart(self, seconds: float) -> None:
        """With autostart on, the group shows `stopped` for `seconds` after preparing; /start answers 400."""
        self.world.brief_stop_seconds = seconds

    def setback(self, image_substring: str) -> None:
        """The first instance of such an image goes backwards once it runs (interruption, reallocations)."""
        self.world.setback(image_substring)

    def edit_out_of_band(self, org: str, project: str, name: str, patch: dict[str, Json]) -> None:
        """Apply a merge-patch directly (no validation), with the same versioning rules as PATCH."""
        now = self.world.now()
        with self.world.lock:
            g = self.world.find(org, project, name, now)
            if g is None:
                raise KeyError(f"{org}/{project}/{name}")
            self.world.apply_patch(g, patch, now)

    def delete_out_of_band(self, org: str, project: str, name: str) -> None:
        """The group vanishes immediately (GET answers 404 from now on)."""
        if not self.world.remove(org, project, name):
            raise KeyError(f"{org}/{project}/{name}")

    def group(self, org: str, project: str, name: str) -> dict[str, Json] | None:
        now = self.world.now()
        with self.world.lock:
            g = self.world.find(org, project, name, now)
            return None if g is None else self.world.render(g, now)

    def instances(self, org: str, project: str, name: str) -> list[dict[str, Json]]:
        now = self.world.now()
        with self.world.lock:
            g = self.world.find(org, project, name, now)
            return [] if g is None else self.world.render_instances(g, now)

    def snapshot(
        self, org: str, project: str, name: str
    ) -> tuple[dict[str, Json], list[dict[str, Json]]] | None:
        """The group JSON and its instances JSON evaluated at the same instant (None when missing)."""
        now = self.world.now()
        with self.world.lock:
            g = self.world.find(org, project, name, now)
            if g is None:
                return None
            return self.world.render(g, now), self.world.render_instances(g, now)

    def stored_document(self, org: str, project: str, name: str) -> dict[str, Json] | None:
        """The stored request-shaped document (includes registry_authentication, which GET never shows)."""
        now = self.world.now()
        with self.world.lock:
            g = self.world.find(org, project, name, now)
            return None if g is None else merge_patch({}, g.doc)

    def first_ready_time(self, org: str, project: str, name: str, version: int | None = None) -> float | None:
        now = self.world.now()
        with self.world.lock:
            g = self.world.find(org, project, name, now)
            return None if g is None else self.world.first_ready_time(g, version, now)

    def request_log(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def requests_to(self, method: str, suffix: str = "") -> list[LoggedRequest]:
        """The logged `method` requests whose path ends with `suffix`, in arrival order."""
        return [r for r in self.request_log() if r.method == method and r.path.endswith(suffix)]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    @property
    def gpu_classes(self) -> list[dict[str, Json]]:
        return gpu_classes()

    # --- request handling (called from server threads) ------------------------------------------------------

    def _log_request(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._log.append(entry)

    def _strip_prefix(self, path: str) -> str | None:
        if not self.prefix:
            return path
        if path == self.prefix or path.startswith(self.prefix + "/"):
            return path[len(self.prefix) :]
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    emulator: SaladEmulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # the client went away (e.g. it timed out during an injected delay)
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else keep-alive clients wait ~40 ms per response (Nagle + delayed ACK)
    timeout = 60
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def _serve(self) -> None:
        emu = self.server.emulator
        arrived = time.monotonic()
        url = urlsplit(self.path)
        raw = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        rel = emu._strip_prefix(url.path)
        path = url.path if rel is None else rel
        method = self.command

        def log(status: int) -> None:
            try:
                body = json.loads(raw) if raw else None
            except (ValueError, UnicodeDecodeError):
                body = None
            shown = {k: v for k, v in self.headers.items() if k.lower() != API_KEY_HEADER}
            entry = LoggedRequest(
                method, path, url.query, self.headers.get("Content-Type"), body, raw, status, arrived, shown
            )
            emu._log_request(entry)

        fault = emu._take_fault(method, path, ("status", "drop", "delay"))
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind == "drop":
            log(DROPPED)
            self._drop()
            return
        if fault is not None and fault.kind == "status":
            resp = html_page(fault.status) if fault.html else problem(fault.status, "injected fault")
            if fault.retry_after is not None:
                resp.headers["Retry-After"] = fault.retry_after
        elif rel is None:
            resp = emu.app.auth_problem(headers) or problem(404, f"no route for {url.path}")
        else:
            resp = emu.app.handle(Request(method, rel, headers, raw, time.monotonic()))
            if resp.status == 201 and emu._take_fault(method, rel, ("create_then_503",)) is not None:
                resp = html_page(503)
        log(resp.status)
        self._send(resp)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after each chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, resp: Response) -> None:
        self.send_response(resp.status)
        if resp.content_type is not None:
            self.send_header("Content-Type", resp.content_type)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        self.wfile.write(resp.body)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.salad_api", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--prefix", default="/api/public")
    parser.add_argument("--speed", type=float, default=1.0, help="divide every duration by this factor")
    parser.add_argument(
        "--realistic", action="store_true", help="minutes-long timings (combine with --speed)"
    )
    args = parser.parse_args(argv)
    timings = Timings.realistic() if args.realistic else Timings()
    emu = SaladEmulator(args.api_key, args.prefix, timings, speed=args.speed, host=args.host, port=args.port)
    emu.start()
    print(emu.base_url, flush=True)
    print(f"Salad-Api-Key: {emu.api_key}  (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
