"""A local stand-in for SaladCloud's Container Gateway: a threaded reverse proxy on 127.0.0.1.

In front of an upstream (the fake webui) it can:
- demand `Salad-Api-Key` (`auth=True`): 403 without the right key, like Salad's gateway;
- answer scripted statuses first (`script(503, 503, 403)`: e.g. right after a deploy), before auth;
- cut requests off with 504 when the upstream takes longer than `cutoff_seconds` (the 100-s limit,
  scaled down), or force the next N requests to be cut off after that delay (`cut_off_next(N)`);
- log every request it received, headers included (`seen`), and strip the key before forwarding;
- misbehave by echoing the request headers in its own error pages (`echo_headers=True`).
Plain HTTP: the real gateway is HTTPS, which changes nothing the client decides.
"""

from __future__ import annotations

import http.client
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

API_KEY_HEADER = "Salad-Api-Key"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length", "salad-api-key"}


def _page(status: int, title: str, extra: str = "") -> bytes:
    return (
        f"<!DOCTYPE html><html><head><title>{status} {title}</title></head>"
        f"<body><center><h1>{status} {title}</h1></center>{extra}"
        "<hr><center>cloudflare</center></body></html>"
    ).encode()


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    status: int

    @property
    def api_key(self) -> str | None:
        return self.headers.get(API_KEY_HEADER.lower())


class _Upstream:
    """One forwarded request, run in its own thread so the gateway can stop waiting for it."""

    def __init__(self, base: str, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.done = threading.Event()
        self.answer: tuple[int, str, bytes] | None = None
        self.error: Exception | None = None
        parts = urlsplit(base)
        self._args = (parts.hostname or "127.0.0.1", parts.port or 80, method, path, headers, body)
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        host, port, method, path, headers, body = self._args
        try:
            connection = http.client.HTTPConnection(host, port, timeout=600)
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            self.answer = (response.status, response.getheader("Content-Type") or "", response.read())
            connection.close()
        except Exception as error:  # the proxy reports it as 502
            self.error = error
        finally:
            self.done.set()


class FakeGateway:
    def __init__(self, upstream: str, *, auth: bool = False, api_key: str | None = None,
                 cutoff_seconds: float = 100.0, echo_headers: bool = False) -> None:
        self.upstream = upstream.rstrip("/")
        self.auth = auth
        self.api_key = api_key
        self.cutoff_seconds = cutoff_seconds
        self.echo_headers = echo_headers
        self._script: deque[int] = deque()
        self._forced_cutoffs = 0
        self._seen: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ---------------------------------------------------------------- control

    def script(self, *statuses: int) -> FakeGateway:
        """Answer the next requests with these statuses, in order, before anything else."""
        with self._lock:
            self._script.extend(statuses)
        return self

    def cut_off_next(self, count: int = 1) -> FakeGateway:
        """Answer the next `count` requests with 504 after `cutoff_seconds`, without forwarding them."""
        with self._lock:
            self._forced_cutoffs += count
        return self

    @property
    def seen(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._seen)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the gateway first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeGateway:
        gateway = self

        class Handler(_GatewayHandler):
            owner = gateway

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-gateway", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGateway:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- decisions

    def _next_scripted(self) -> tuple[int | None, bool]:
        with self._lock:
            status = self._script.popleft() if self._script else None
            forced = status is None and self._forced_cutoffs > 0
            if forced:
                self._forced_cutoffs -= 1
            return status, forced

    def _record(self, seen: SeenRequest) -> None:
        with self._lock:
            self._seen.append(seen)


class _GatewayHandler(BaseHTTPRequestHandler):
    owner: FakeGateway
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        gateway = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, content_type, answer = self._decide(gateway, headers, body)
        gateway._record(SeenRequest(self.command, self.path, headers, status))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def _decide(self, gateway: FakeGateway, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        html = "text/html; charset=utf-8"
        extra = f"<pre>{headers}</pre>" if gateway.echo_headers else ""
        scripted, forced_cutoff = gateway._next_scripted()
        if scripted is not None:
            return scripted, html, _page(scripted, "Scripted", extra)
        if gateway.auth and headers.get(API_KEY_HEADER.lower()) != gateway.api_key:
            return 403, html, _page(403, "Forbidden", extra)
        if forced_cutoff:
            threading.Event().wait(gateway.cutoff_seconds)  # the gateway holding the request, then giving up
            return 504, html, _page(504, "Gateway Time-out")
        forwarded = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = _Upstream(gateway.upstream, self.command, self.path, forwarded, body)
        if not upstream.done.wait(gateway.cutoff_seconds):
            return 504, html, _page(504, "Gateway Time-out")
        if upstream.answer is None:
            return 502, html, _page(502, "Bad Gateway")
        return upstream.answer
