"""How Salad applies a merge-patch, and so what the wait after it must see (salad-api.md §7, [STRAT]).

VERSIONED edits (image, command, environment, probes, gateway port) create a new version and restart every
replica: the wait counts only instances of a version newer than the one before the update.
HARDWARE edits (cpu, memory, GPU classes, storage, shm) keep replicas whose node still fits and reallocate
the others: any version counts, and Salad's `pending_change` must clear.
UNVERSIONED edits (replicas, display name, countries, priority, image caching, registry login) restart
nothing: only the ready count matters.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

from components.container_group.properties import PROBE_KEYS

_VERSIONED_CONTAINER_KEYS = ("image", "command", "environment_variables")


class UpdateKind(Enum):
    UNVERSIONED = "unversioned"
    HARDWARE = "hardware"
    VERSIONED = "versioned"


_ORDER = (UpdateKind.UNVERSIONED, UpdateKind.HARDWARE, UpdateKind.VERSIONED)


def classify(patch: dict[str, Any]) -> UpdateKind:
    """The kind of one merge-patch; a patch with edits of several kinds takes the one that restarts most."""
    container = patch.get("container")
    container = container if isinstance(container, dict) else {}
    if (
        any(key in patch for key in PROBE_KEYS)
        or "networking" in patch
        or any(key in container for key in _VERSIONED_CONTAINER_KEYS)
    ):
        return UpdateKind.VERSIONED
    if container.get("resources"):
        return UpdateKind.HARDWARE
    return UpdateKind.UNVERSIONED


def classify_all(patches: Iterable[dict[str, Any]]) -> UpdateKind:
    """The kind of a sequence of patches sent for one update."""
    return max((classify(patch) for patch in patches), key=_ORDER.index, default=UpdateKind.UNVERSIONED)
