"""Salad's HTTP job-queue worker in the image: where it is downloaded from at build, and its checksum.

`salad-sd:image.queueWorker` is `{url, sha256}`: a release asset of
github.com/SaladTechnologies/salad-cloud-job-queue-worker (`salad-http-job-queue-worker_x86_64.tar.gz`)
and the sha256 of that download. No default is shipped: the checksum could not be verified from a
public source. Absent: the image is built without the worker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from components.model_image.models import SHA256, ModelConfigError

CONFIG_KEY = "salad-sd:image.queueWorker"


@dataclass(frozen=True)
class QueueWorkerSpec:
    """Where the build downloads the worker from, and what the download must hash to."""

    url: str
    """http(s) URL of the release asset (a .tar.gz holding `salad-http-job-queue-worker`, or the binary)."""
    sha256: str
    """Lowercase hex sha256 of the download; the build fails on any other."""


def parse_queue_worker(raw: object, where: str = CONFIG_KEY) -> QueueWorkerSpec | None:
    """The config object -> QueueWorkerSpec (None when unset); errors name `where`."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ModelConfigError(f"{where} must be an object with url and sha256, got {raw!r}")
    unknown = sorted(set(raw) - {"url", "sha256"})
    if unknown:
        raise ModelConfigError(f"{where} has unknown keys {unknown}; allowed: url, sha256")
    url = raw.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://\S+$", url):
        raise ModelConfigError(
            f"{where}.url must be an http(s) URL of the worker's release asset, got {url!r}"
        )
    sha256 = raw.get("sha256")
    if not isinstance(sha256, str) or not SHA256.match(sha256.lower()):
        raise ModelConfigError(
            f"{where}.sha256 must be 64 hex digits (the download's sha256), got {sha256!r}"
        )
    if set(sha256) == {"0"}:
        raise ModelConfigError(
            f"{where}.sha256 is the all-zero placeholder: put the sha256 of {url} there (the release page "
            "lists it, or download it and run `sha256sum`); see README, Queue mode"
        )
    return QueueWorkerSpec(url=url, sha256=sha256.lower())
