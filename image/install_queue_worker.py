"""Build step: downloads Salad's HTTP job-queue worker, checks its sha256, installs it.

    python install_queue_worker.py URL SHA256 [DESTINATION]
    python install_queue_worker.py "" ""       # leaves the worker out (nothing to do)

DESTINATION defaults to /usr/local/bin/salad-http-job-queue-worker.
URL is a release asset of github.com/SaladTechnologies/salad-cloud-job-queue-worker: a .tar.gz holding
`salad-http-job-queue-worker` (extracted), or the binary itself. SHA256 is the download's, checked
before anything is installed. Standard library only.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

BINARY = "salad-http-job-queue-worker"
DESTINATION = f"/usr/local/bin/{BINARY}"


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        return bytes(response.read())


def binary_from(download: bytes) -> bytes:
    """The worker binary: the archive's `salad-http-job-queue-worker` member, or the download itself."""
    try:
        archive = tarfile.open(fileobj=io.BytesIO(download), mode="r:*")  # noqa: SIM115 (closed below)
    except tarfile.TarError:
        return download
    with archive:
        for member in archive.getmembers():
            if member.isfile() and os.path.basename(member.name) == BINARY:
                extracted = archive.extractfile(member)
                assert extracted is not None
                return extracted.read()
        names = ", ".join(m.name for m in archive.getmembers()[:10])
    raise SystemExit(f"queue worker: the archive holds no {BINARY} (found: {names})")


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    url, sha256 = argv[0], argv[1].lower()
    if not url:
        print("queue worker: left out (no salad-sd:image.queueWorker)", flush=True)
        return 0
    try:
        download = fetch(url)
    except OSError as error:
        print(f"queue worker: download of {url} failed: {error}", file=sys.stderr)
        return 1
    actual = hashlib.sha256(download).hexdigest()
    if actual != sha256:
        print(
            f"queue worker: {url} has sha256 {actual}, but salad-sd:image.queueWorker.sha256 is {sha256}",
            file=sys.stderr,
        )
        return 1
    target = Path(argv[2] if len(argv) == 3 else DESTINATION)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(binary_from(download))
    target.chmod(0o755)
    print(f"queue worker: installed {target} from {url} (sha256 {actual})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
