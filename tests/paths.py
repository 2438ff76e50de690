"""Where the project lives, for tests that read its files or run its programs."""

from __future__ import annotations

from pathlib import Path
from typing import Final

REPO_ROOT: Final[Path] = Path(__file__).resolve().parents[1]
"""The project directory: holds `Pulumi.yaml`, `__main__.py`, `components/`, `image/` and `tests/`."""

STACK_FILES: Final[list[Path]] = sorted(REPO_ROOT.glob("Pulumi.*.yaml"))
"""The checked-in `Pulumi.<stack>.yaml` files, sorted by name."""
