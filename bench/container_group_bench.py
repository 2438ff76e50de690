"""Benchmark of the ContainerGroup provider against the Salad emulator; prints figures, asserts nothing.

    venv/bin/python -m bench.container_group_bench            # realistic Salad timings, 6x faster (~2 min)
    venv/bin/python -m bench.container_group_bench --speed 30 # quicker, less realistic

Figures and targets (DEVELOPERS.md, issues 3, 10 and 11): API calls for create, a no-op diff (target 0), a
replicas update (target 1 PATCH) and delete; PATCH requests of a probe protocol switch (target <= 2) and
of an env variable removal under each env-map semantics Salad may have (on the emulator's short timings:
the count does not depend on them); readiness detection latency, from the emulator's first ready instance
to `create` returning (target <= 5 s); peak request rate with 10 groups deploying in parallel, system-log
events polled too (target <= 200/min); time from the `maxFailures`-th failure event to the error (within
three poll cycles).
The provider runs with its production pacing (first poll 1 s, then every 5 s) and rate budget.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from components.container_group.provider import ContainerGroupError, ContainerGroupProvider
from tests.fakes.salad_api import LoggedRequest, SaladEmulator, Timings

ORG, PROJECT = "bench-org", "bench"
API_KEY = "bench-key"
IMAGE = "registry.example/salad-sd@sha256:" + "b" * 64


def provider_for(emulator: SaladEmulator) -> ContainerGroupProvider:
    provider = ContainerGroupProvider()
    config = {
        "salad:apiKey": API_KEY,
        "salad:apiUrl": emulator.base_url,
        "salad:organization": ORG,
        "salad:project": PROJECT,
    }
    provider.configure(ConfigureRequest(Config(config, "salad-sd")))
    return provider


def wire_inputs(name: str, replicas: float = 2.0) -> dict[str, Any]:
    return {
        "name": name,
        "image": IMAGE,
        "replicas": replicas,
        "cpu": 4.0,
        "memory": 12288.0,
        "gpu_classes": ["RTX 3060 Ti"],
        "gateway": {"port": 7860.0},
        "liveness_probe": {"http": {"path": "/internal/ping", "port": 7860.0}},
    }


def checked(
    provider: ContainerGroupProvider, inputs: dict[str, Any], olds: dict[str, Any] | None = None
) -> Any:
    result = provider.check(olds or {}, inputs)
    assert not result.failures, result.failures
    return result.inputs


def calls_between(log: list[LoggedRequest], start: float, end: float) -> list[LoggedRequest]:
    return [r for r in log if start <= r.time <= end]


def describe(calls: list[LoggedRequest]) -> str:
    kinds: dict[str, int] = {}
    for call in calls:
        last = call.path.rsplit("/", 1)[-1]
        known = ("instances", "gpu-classes", "containers", "start", "system-logs", "quotas", "log-entries")
        target = last if last in (*known, "sce-gpu-availability") else "group"
        kind = f"{call.method} {target}"
        kinds[kind] = kinds.get(kind, 0) + 1
    return f"{len(calls)} ({', '.join(f'{k}: {v}' for k, v in sorted(kinds.items()))})"


def single_group(emulator: SaladEmulator) -> None:
    provider = provider_for(emulator)
    name = "bench-single"
    t0 = time.monotonic()
    created = provider.create(checked(provider, wire_inputs(name)))
    t1 = time.monotonic()
    state = dict(created.outs or {})
    print(f"create: {describe(calls_between(emulator.request_log(), t0, t1))} in {t1 - t0:.1f}s")

    t0 = time.monotonic()
    news = checked(provider, wire_inputs(name), state)
    no_op = provider.diff(created.id, state, news)
    t1 = time.monotonic()
    print(
        f"no-op check+diff: {len(calls_between(emulator.request_log(), t0, t1))} calls "
        f"(changes={no_op.changes})"
    )

    t0 = time.monotonic()
    news = checked(provider, wire_inputs(name, replicas=3.0), state)
    state = dict(provider.update(created.id, state, news).outs or {})
    t1 = time.monotonic()
    update_calls = calls_between(emulator.request_log(), t0, t1)
    patches = sum(1 for c in update_calls if c.method == "PATCH")
    print(f"replicas update: {describe(update_calls)}, PATCH requests: {patches}")

    t0 = time.monotonic()
    provider.delete(created.id, state)
    t1 = time.monotonic()
    print(f"delete: {describe(calls_between(emulator.request_log(), t0, t1))} in {t1 - t0:.1f}s")


def patch_count(emulator: SaladEmulator, name: str, before: dict[str, Any], after: dict[str, Any]) -> str:
    """Create `name` with `before`, update it to `after`; the update's PATCH statuses (and its error)."""
    provider = provider_for(emulator)
    created = provider.create(checked(provider, {**wire_inputs(name), **before}))
    state = dict(created.outs or {})
    news = checked(provider, {**wire_inputs(name), **after}, state)
    t0 = time.monotonic()
    outcome = "ok"
    try:
        state = dict(provider.update(created.id, state, news).outs or {})
    except Exception as error:  # the figure to print is the failure itself
        outcome = f"error: {str(error)[:90]}..."
    t1 = time.monotonic()
    statuses = [c.status for c in calls_between(emulator.request_log(), t0, t1) if c.method == "PATCH"]
    provider.delete(created.id, state)
    return f"{len(statuses)} PATCH requests (statuses {statuses}), {outcome}"


def edits(count_only_timings: Timings) -> None:
    http = {"liveness_probe": {"http": {"path": "/internal/ping", "port": 7860.0}}}
    tcp = {"liveness_probe": {"tcp": {"port": 7860.0}}}
    exec_ = {"liveness_probe": {"exec": {"command": ["true"]}}}
    env_before = {"environment_variables": {"CLI_ARGS": "--api", "OLD": "1"}}
    env_after = {"environment_variables": {"CLI_ARGS": "--api"}}
    cases: list[tuple[str, str, bool, dict[str, Any], dict[str, Any]]] = [
        ("probe http -> tcp", "merge", False, http, tcp),
        ("probe tcp -> exec", "merge", False, tcp, exec_),
        ("env removal, Salad replaces the map", "replace", False, env_before, env_after),
        ("env removal, Salad merges, honours null", "merge", True, env_before, env_after),
        ("env removal, Salad merges, refuses null", "merge", False, env_before, env_after),
    ]
    for index, (label, semantics, null_deletes, before, after) in enumerate(cases):
        with SaladEmulator(api_key=API_KEY, timings=count_only_timings) as emulator:
            emulator.env_semantics(semantics)
            emulator.env_null_deletes(null_deletes)
            print(f"{label}: {patch_count(emulator, f'bench-edit-{index}', before, after)}")


def parallel_groups(emulator: SaladEmulator, count: int) -> None:
    provider = provider_for(emulator)  # one shared instance, as in the engine's provider process
    names = [f"bench-par-{i}" for i in range(count)]
    returned: dict[str, float] = {}

    def deploy(name: str) -> None:
        provider.create(checked(provider, wire_inputs(name)))
        returned[name] = time.monotonic()

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(deploy, names))
    end = time.monotonic()

    latencies = []
    for name in names:
        first_ready = emulator.first_ready_time(ORG, PROJECT, name)
        assert first_ready is not None
        latencies.append(returned[name] - first_ready)
    times = sorted(r.time for r in calls_between(emulator.request_log(), start, end))
    busiest_minute = max(sum(1 for t in times if s <= t < s + 60) for s in times)
    busiest_10s = max(sum(1 for t in times if s <= t < s + 10) for s in times)
    print(
        f"{count} groups in parallel: {len(times)} requests in {end - start:.0f}s "
        f"({len(times) / (end - start) * 60:.0f}/min average)"
    )
    print(
        f"  busiest 60 s window: {busiest_minute} requests; busiest 10 s window: {busiest_10s} "
        f"(= {busiest_10s * 6}/min)   target <= 200/min"
    )
    print(
        f"  readiness detection latency: mean {statistics.mean(latencies):.2f}s, "
        f"max {max(latencies):.2f}s   target <= 5 s"
    )
    for name in names:
        provider.delete("", {"name": name, "organization": ORG, "project": PROJECT})


def failure_to_error(emulator: SaladEmulator, max_failures: int = 3) -> None:
    """A create whose instances run out of memory: how long after the decisive event the error comes."""
    provider = provider_for(emulator)
    name = "bench-oom"
    emulator.fail_instances("sha256:" + "b" * 8, "out_of_memory")
    inputs = {**wire_inputs(name), "max_failures": float(max_failures)}
    t0 = time.monotonic()
    try:
        provider.create(checked(provider, inputs))
    except ContainerGroupError:
        failed_at = time.monotonic()
    else:
        raise AssertionError("the create was expected to fail")
    group = emulator.world.incidents.history[name]
    logs = emulator.world.incidents.system_logs(group, failed_at, emulator.world.iso, limit=None)
    oom = sorted(e["event_time"] for e in logs if "Out of System Memory" in e["event_name"])
    decisive = _monotonic(emulator, oom[max_failures - 1])
    calls = calls_between(emulator.request_log(), t0, failed_at)
    decided = next(c.time for c in calls if c.method == "DELETE")  # the clean-up starts once it gave up
    print(
        f"out-of-memory create: gave up {decided - decisive:.1f}s after failure event #{max_failures} "
        f"(target: within 3 polls = 15 s), error {failed_at - decisive:.1f}s after it (half-created group "
        f"deleted first), {failed_at - t0:.0f}s after the create began; calls {describe(calls)}"
    )


def _monotonic(emulator: SaladEmulator, iso: str) -> float:
    now = emulator.world.now()
    wall_now = datetime.fromisoformat(emulator.world.iso(now).replace("Z", "+00:00"))
    return now + (datetime.fromisoformat(iso.replace("Z", "+00:00")) - wall_now).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--speed", type=float, default=6.0, help="how much faster than realistic Salad timings"
    )
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--only-failure", action="store_true", help="only the fail-fast figure")
    args = parser.parse_args()
    timings = Timings.realistic().scaled(args.speed)
    print(f"emulator timings (s): {timings}")
    if not args.only_failure:
        with SaladEmulator(api_key=API_KEY, timings=timings) as emulator:
            single_group(emulator)
            parallel_groups(emulator, args.groups)
    with SaladEmulator(api_key=API_KEY, timings=timings) as emulator:
        failure_to_error(emulator)
    if not args.only_failure:
        edits(Timings())


if __name__ == "__main__":
    main()
