"""Finds processes a test session started and left running (read from /proc; Linux only).

A process counts as this session's when it is a descendant of the pytest process; or carries the session's
tag in its environment (`SALAD_SD_TEST_SESSION`, set in os.environ at session start, so every helper
inherits it, even one that left its parent's process group or was reparented to init); or was reparented
to init, started after the session began and runs from this checkout (its command line or working
directory is in it: a helper started with a clean environment). Services started before the session (the
Docker daemon and the registry of scripts/ci-services.sh) and other developers' runs match none of these.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TAG_ENV = "SALAD_SD_TEST_SESSION"
PROC = Path("/proc")


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    state: str
    start_ticks: int
    cmdline: str
    cwd: str

    def describe(self) -> str:
        return f"pid {self.pid} (parent {self.ppid}, cwd {self.cwd or '?'}): {self.cmdline or '?'}"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def read_process(pid: int) -> Process | None:
    stat = _read(PROC / str(pid) / "stat").decode(errors="replace")
    if not stat:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the command name may hold spaces and parentheses
    try:
        cwd = os.readlink(PROC / str(pid) / "cwd")
    except OSError:
        cwd = ""
    cmdline = _read(PROC / str(pid) / "cmdline").replace(b"\0", b" ").decode(errors="replace").strip()
    return Process(pid, int(fields[1]), fields[0], int(fields[19]), cmdline, cwd)


def processes() -> dict[int, Process]:
    found = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (process := read_process(int(entry.name))) is not None:
            found[process.pid] = process
    return found


def descendants(root: int, table: dict[int, Process]) -> set[int]:
    children: dict[int, list[int]] = {}
    for process in table.values():
        children.setdefault(process.ppid, []).append(process.pid)
    found: set[int] = set()
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def has_tag(pid: int, tag: str) -> bool:
    return f"{TAG_ENV}={tag}".encode() in _read(PROC / str(pid) / "environ").split(b"\0")


def uptime_ticks() -> int:
    return int(float(_read(PROC / "uptime").split()[0]) * os.sysconf("SC_CLK_TCK"))


@dataclass(frozen=True)
class Session:
    """One pytest run: its process, tag, start time and checkout."""

    pid: int
    tag: str
    started_ticks: int
    checkout: Path

    @classmethod
    def begin(cls, checkout: Path) -> Session:
        """Tags this process's environment (inherited by every helper started from now on)."""
        tag = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        os.environ[TAG_ENV] = tag
        return cls(os.getpid(), tag, uptime_ticks(), checkout.resolve())

    def _in_checkout(self, process: Process) -> bool:
        root = str(self.checkout)
        return process.cwd == root or process.cwd.startswith(root + "/") or root + "/" in process.cmdline

    def _ours(self, process: Process) -> bool:
        """Tagged by this session, or an orphan of this checkout born during it."""
        if has_tag(process.pid, self.tag):
            return True
        orphan = process.ppid == 1 and process.start_ticks >= self.started_ticks
        return orphan and self._in_checkout(process)

    def leftovers(self) -> list[Process]:
        """This session's processes that are still running (zombies have exited already)."""
        table = {pid: p for pid, p in processes().items() if p.state not in ("Z", "X")}
        ours = descendants(self.pid, table)
        ours |= {pid for pid, process in table.items() if pid != self.pid and self._ours(process)}
        return sorted((table[pid] for pid in ours if pid in table), key=lambda p: p.pid)

    def wait_for_leftovers(self, timeout: float) -> list[Process]:
        """The leftovers still running after `timeout` seconds (processes may be exiting right now)."""
        deadline = time.monotonic() + timeout
        while (left := self.leftovers()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return left


def kill(leftovers: Iterable[Process]) -> None:
    """SIGKILL these processes (only ever the session's own)."""
    for process in leftovers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(process.pid, signal.SIGKILL)
