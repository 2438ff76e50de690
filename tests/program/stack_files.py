"""The checked-in stack files as a user has them once the placeholders are filled in."""

from __future__ import annotations

from typing import Any

FILLED_WORKER_SHA256 = "ab" * 32


def with_worker_checksum(image: dict[str, Any] | None) -> dict[str, Any] | None:
    """`salad-sd:image` with the queue worker's all-zero placeholder sha256 replaced (the shipped placeholder
    itself is refused at config time: tests/program/test_secrets_and_errors.py)."""
    worker = (image or {}).get("queueWorker")
    if image is None or not isinstance(worker, dict) or set(str(worker.get("sha256"))) != {"0"}:
        return image
    return {**image, "queueWorker": {**worker, "sha256": FILLED_WORKER_SHA256}}
