"""Record wait sequences (group, instances, system logs per poll) from the emulator's failure modes.

    venv/bin/python -m tests.container_group.recordings.record

Writes `<scenario>.json` next to this file: what the provider's wait loop would observe, poll by poll, kept
only when something changed. `test_recordings.py` replays them through the pure checkers, the way
pulumi-kubernetes replays `recordings/workflows/pod/*.json` through its await states. Salad's real API
cannot be reached from here; when real answers are captured, drop them in with the same shape.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from components.salad.client import SaladClient
from components.salad.rate_budget import RateBudget
from tests.fakes.salad_api import SaladEmulator
from tests.fakes.salad_incidents import MODES
from tests.fakes.salad_testkit import IMAGE, valid_body

HERE = Path(__file__).parent
ORG, PROJECT, NAME = "acme-corp", "dev-env", "sd-rec"
POLL = 0.02
ENOUGH_FAILURES = 5  # a recording of a failure mode ends once this many failure events were logged
FAILED_IMAGE = IMAGE + "-failing"


def _poll(client: SaladClient, steps: list[dict[str, Any]]) -> None:
    group = client.get_container_group(ORG, PROJECT, NAME)
    instances = client.list_instances(ORG, PROJECT, NAME)
    logs = client.get_system_logs(ORG, PROJECT, NAME)
    step = {"group": _trim_group(group), "instances": instances, "system_logs": logs}
    if not steps or _changed(steps[-1], step):
        steps.append(step)


def _failures(step: dict[str, Any], mode: str | None, version: int) -> int:
    name = MODES.get(mode or "", None)
    return sum(1 for e in step["system_logs"] if e["event_name"] == name and e["version"] == str(version))


def _all_ready(step: dict[str, Any], version: int) -> bool:
    ready = [i for i in step["instances"] if i["ready"] and i["version"] == version]
    return len(ready) == step["group"]["replicas"]


def _trim_group(group: dict[str, Any]) -> dict[str, Any]:
    return {k: group[k] for k in ("name", "version", "current_state", "pending_change", "replicas")}


def _changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    def states(step: dict[str, Any]) -> Any:
        return [(i["id"], i["state"], i["ready"]) for i in step["instances"]], len(step["system_logs"])

    return states(before) != states(after)


def record(scenario: str, mode: str | None, *, update_to: str | None = None, polls: int = 60) -> None:
    with SaladEmulator() as emu:
        client = SaladClient(emu.api_key, emu.base_url, rate_budget=RateBudget(100_000, 1.0, burst=1000))
        if mode is not None:
            emu.fail_instances("-failing", mode)
        body = valid_body(NAME, replicas=2)
        body["container"]["image"] = FAILED_IMAGE
        since = emu.world.iso(emu.world.now())
        client.create_container_group(ORG, PROJECT, body)
        version = 1
        steps: list[dict[str, Any]] = []
        if update_to is not None:
            for _ in range(polls):
                _poll(client, steps)
                if _failures(steps[-1], mode, version) >= ENOUGH_FAILURES:
                    break
                time.sleep(POLL)
            since = emu.world.iso(emu.world.now())
            patched = client.update_container_group(ORG, PROJECT, NAME, {"container": {"image": update_to}})
            version = int(patched["version"])
        for _ in range(polls):
            _poll(client, steps)
            if _failures(steps[-1], mode, version) >= ENOUGH_FAILURES or _all_ready(steps[-1], version):
                break
            time.sleep(POLL)
        header = {"scenario": scenario, "mode": mode, "since": since, "version": version}
        lines = [json.dumps(step, separators=(",", ":")) for step in steps]
        text = json.dumps(header)[:-1] + ', "steps": [\n' + ",\n".join(lines) + "\n]}\n"
        (HERE / f"{scenario}.json").write_text(text)
        print(f"{scenario}: {len(steps)} steps")


def main() -> None:
    for mode in ("crash_loop", "out_of_memory", "startup_probe", "disk_exceeded", "image_pull"):
        record(mode, mode)
    record("healthy", None)
    # The old version crash-loops; the update to a good image must not be failed by the old events.
    record("update_from_crash_loop", "crash_loop", update_to=IMAGE + "-fixed", polls=60)


if __name__ == "__main__":
    main()
