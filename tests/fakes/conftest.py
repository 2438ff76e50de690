"""Fixtures shared by the Salad emulator tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.salad_api import SaladEmulator


@pytest.fixture
def emu() -> Iterator[SaladEmulator]:
    """A fresh emulator with the default timings."""
    with SaladEmulator() as e:
        yield e
