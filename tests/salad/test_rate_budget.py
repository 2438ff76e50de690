"""RateBudget on a simulated clock: no window ever holds more than the budget."""

from __future__ import annotations

import threading

import pytest

from components.salad.rate_budget import RateBudget, shared_budget


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def grant_times(budget: RateBudget, clock: FakeClock, count: int) -> list[float]:
    times = []
    for _ in range(count):
        budget.acquire()
        times.append(clock.now)
    return times


@pytest.mark.parametrize(
    ("requests", "per_seconds", "burst"), [(200, 60.0, 5), (10, 1.0, 3), (240, 60.0, 40)]
)
def test_no_window_exceeds_the_budget(requests: int, per_seconds: float, burst: int) -> None:
    clock = FakeClock()
    budget = RateBudget(requests, per_seconds, burst=burst, clock=clock, sleep=clock.sleep)
    times = grant_times(budget, clock, requests * 3)
    busiest = max(sum(1 for t in times if start <= t < start + per_seconds) for start in times)
    assert busiest <= requests
    # and it does not throttle below its steady rate of (requests - burst) per period
    steady_rate = (requests - burst) / per_seconds
    assert times[-1] <= (len(times) - burst) / steady_rate + 1e-6


def test_burst_is_served_without_waiting() -> None:
    clock = FakeClock()
    budget = RateBudget(60, 60.0, burst=5, clock=clock, sleep=clock.sleep)
    assert [budget.acquire() for _ in range(5)] == [0.0] * 5
    assert budget.acquire() > 0


def test_idle_time_refills_up_to_the_burst_only() -> None:
    clock = FakeClock()
    budget = RateBudget(60, 60.0, burst=3, clock=clock, sleep=clock.sleep)
    grant_times(budget, clock, 3)
    clock.now += 3600
    assert [budget.acquire() for _ in range(3)] == [0.0] * 3
    assert budget.acquire() > 0


def test_rejects_an_empty_budget() -> None:
    with pytest.raises(ValueError):
        RateBudget(0)


def test_shared_budget_is_one_per_key() -> None:
    assert shared_budget("key-a") is shared_budget("key-a")
    assert shared_budget("key-a") is not shared_budget("key-b")
