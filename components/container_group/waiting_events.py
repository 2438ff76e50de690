"""The wait loop's look at Salad's system logs: print new events, stop early on failures, heal stuck nodes.

`EventWatch.observe` is called after each poll of the instances. Every `EVENTS_EVERY`-th call it reads the
group's system logs (one request), prints the events not seen before, and asks the pure checker in
`failures.py` whether the wait should stop; if so it reads the tail of the container's output from the log
entries and raises `WaitFailed` with the events, a hint per kind and that output. With
`reallocate_stuck_after_minutes` set it also reallocates instances that hang in downloading/creating.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from components.container_group.events import Event, event_line, short_id, unseen
from components.container_group.failures import assess, failure_message, timeout_details
from components.container_group.stuck import StuckTracker
from components.salad.client import SaladClient
from components.salad.errors import SaladApiError

EVENTS_EVERY = 3  # polls of instances per read of the system logs (the events cost a third of a poll rate)
OUTPUT_LINES = 20  # log entries asked for when a wait fails
DEFAULT_REALLOCATIONS_PER_MINUTE = 1  # when the quota does not say
# Salad's log query language is not in the spec; the group name is the one filter every dialect we know has.
LOG_QUERY = 'container_group_name == "{name}"'


class WaitStopped(Exception):
    """Instances of the awaited version keep failing; the message says how and what to do."""


class EventWatch:
    """Events, fail-fast and self-healing of one wait."""

    def __init__(
        self,
        client: SaladClient,
        organization: str,
        project: str,
        name: str,
        *,
        inputs: Mapping[str, Any],
        say: Callable[[str], None],
        reallocations_per_minute: int | None = None,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._where = (organization, project, name)
        self._inputs = inputs
        self._say = say
        self._wall_clock = wall_clock
        self.since = wall_clock()
        self._seen: frozenset[Event] = frozenset()
        self._before: frozenset[Event] | None = None  # what the first read of the logs returned
        self._calls = 0
        self._instances: list[dict[str, Any]] = []
        self.max_failures = int(inputs.get("max_failures") or 3)
        minutes = inputs.get("reallocate_stuck_after_minutes")
        self._stuck = (
            None
            if minutes is None
            else StuckTracker(
                float(minutes) * 60, reallocations_per_minute or DEFAULT_REALLOCATIONS_PER_MINUTE
            )
        )

    @property
    def name(self) -> str:
        return self._where[2]

    def observe(
        self,
        instances: list[dict[str, Any]],
        *,
        version: int | None,
        newer_than: int | None = None,
        ready: int,
        want: int,
        now: float,
    ) -> None:
        """After a poll of the instances: maybe read events, maybe stop (WaitStopped), maybe reallocate."""
        self._instances = instances
        self._calls += 1
        if self._stuck is not None:
            self._reallocate_stuck(instances, now)
        if self._calls % EVENTS_EVERY != 1:  # the 1st, 4th, 7th... poll
            return
        try:
            items = self._client.get_system_logs(*self._where)
        except SaladApiError as error:
            if error.is_transient or error.is_not_found:
                return  # the instance poll handles a vanished group; events can wait for the next read
            raise
        fresh = unseen(items, self._seen)
        self._seen = self._seen | frozenset(fresh)
        for event in fresh:
            if event.time >= self.since - timedelta(seconds=1):  # older history is context, not news
                self._say(event_line(self.name, event))
        verdict = assess(
            self._seen,
            since=self.since,
            version=version,
            newer_than=newer_than,
            ready=ready,
            want=want,
            max_failures=self.max_failures,
        )
        if verdict.failed:
            raise WaitStopped(
                failure_message(
                    self.name, verdict.failures, self._inputs, self._output_tail(), ready=ready, want=want
                )
            )

    def timeout_details(self) -> str:
        """The last events and the instance states, for a timeout error."""
        return timeout_details(self._seen, self._instances)

    def _output_tail(self) -> list[str]:
        organization, _, name = self._where
        query = {
            "query": LOG_QUERY.format(name=name),
            "start_time": _iso(self.since - timedelta(minutes=5)),
            "end_time": _iso(self._wall_clock()),
            "page_size": OUTPUT_LINES,
            "sort_order": "desc",
        }
        try:
            entries = self._client.query_log_entries(organization, query)
        except SaladApiError:
            return []  # the output is a bonus: the events already say what failed
        lines = [str(e.get("text_log") or "").rstrip() for e in reversed(entries)]
        return list(dict.fromkeys(line for line in lines if line))  # replicas often print the same lines

    def _reallocate_stuck(self, instances: list[dict[str, Any]], now: float) -> None:
        assert self._stuck is not None
        states = {str(i.get("id")): str(i.get("state")) for i in instances}
        for instance_id in self._stuck.due(instances, now):
            try:
                self._client.reallocate_instance(*self._where, instance_id)
            except SaladApiError as error:
                if not (error.is_transient or error.is_not_found):
                    raise
                continue
            self._stuck.record(instance_id, now)
            minutes = self._inputs.get("reallocate_stuck_after_minutes")
            self._say(
                f"{self.name}: instance {short_id(instance_id)} was {states.get(instance_id)} for more than "
                f"{minutes} minute(s); reallocated it to another node"
            )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
