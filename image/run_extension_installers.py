"""Build step: runs every baked extension's install.py the way A1111's launcher does (the webui root as
working directory and on PYTHONPATH), so that the base's entrypoint, which runs them all again under
`set -e` at every container start, finds nothing left to do.

    python run_extension_installers.py EXTENSIONS_DIR            # first run: may use the network
    python run_extension_installers.py --offline EXTENSIONS_DIR  # proof: fails if any would need it

`--offline` runs them again with the network off as far as a build without `RUN --network` allows:
pip's index and every HTTP(S) proxy point at a local tripwire that answers 403 and records each request,
and Hugging Face runs offline. The step fails, naming the extension, when an install.py exits non-zero
or sent anything to the tripwire (even if it swallowed the error): on a Salad node it would need the
network, or fail, on every start. The webui root is $ROOT (default: the working directory).
Standard library only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


class Tripwire(ThreadingHTTPServer):
    """An HTTP server (also used as proxy) that refuses and records every request."""

    daemon_threads = True

    def __init__(self) -> None:
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), _Refuse)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Refuse(BaseHTTPRequestHandler):
    server: Tripwire

    def _refuse(self) -> None:
        self.server.requests.append(f"{self.command} {self.path}")
        self.send_response(403, "network is off for this check")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = do_PUT = do_CONNECT = _refuse

    def log_message(self, format: str, *args: object) -> None:
        pass


def offline_env(tripwire: Tripwire) -> dict[str, str]:
    env = {variable: tripwire.url for variable in PROXY_VARIABLES}
    env.update(
        NO_PROXY="",
        no_proxy="",
        PIP_INDEX_URL=f"{tripwire.url}/simple/",
        INDEX_URL=f"{tripwire.url}/simple/",  # A1111's launcher passes it to pip as --index-url
        PIP_EXTRA_INDEX_URL="",
        PIP_FIND_LINKS="",
        PIP_RETRIES="0",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        GIT_TERMINAL_PROMPT="0",
    )
    return env


def installers(extensions_dir: Path) -> list[Path]:
    return sorted(extensions_dir.glob("*/install.py"))


def run_installer(script: Path, root: Path, extra_env: dict[str, str]) -> int:
    env = {**os.environ, "PIP_NO_CACHE_DIR": "1", **extra_env}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    print(f"extensions: running {script} in {root}", flush=True)
    return subprocess.run([sys.executable, str(script)], cwd=root, env=env).returncode


def main(argv: list[str]) -> int:
    offline = argv[:1] == ["--offline"]
    args = argv[1:] if offline else argv
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(os.environ.get("ROOT") or os.getcwd())
    scripts = installers(Path(args[0]))
    if not scripts:
        print("extensions: no install.py to run", flush=True)
        return 0
    if not offline:
        for script in scripts:
            code = run_installer(script, root, {})
            if code != 0:
                print(f"extensions: {script.parent.name}: install.py failed (exit {code})", file=sys.stderr)
                return 1
        return 0

    tripwire = Tripwire()
    threading.Thread(target=tripwire.serve_forever, daemon=True).start()
    failed = []
    for script in scripts:
        before = len(tripwire.requests)
        code = run_installer(script, root, offline_env(tripwire))
        tried = tripwire.requests[before:]
        if code != 0 or tried:
            what = f"exit {code}" if code else "exit 0"
            if tried:
                what += "; network requests: " + ", ".join(tried[:5]) + (" ..." if len(tried) > 5 else "")
            failed.append(f"{script.parent.name} ({what})")
    tripwire.shutdown()
    if failed:
        print(
            "extensions: with the network off, these install.py scripts failed or tried the network, so "
            "they would at every container start (the base runs them under set -e): " + "; ".join(failed),
            file=sys.stderr,
        )
        return 1
    print(f"extensions: {len(scripts)} install.py ran again with the network off, nothing needed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
