from __future__ import annotations

from typing import Any

import pytest

from components.container_group.gpu_classes import (
    GpuClassError,
    gpu_names_by_id,
    price_per_hour,
    resolve_gpu_classes,
)

RTX_3060_TI = "11111111-aaaa-4aaa-8aaa-000000000001"
RTX_3060 = "11111111-aaaa-4aaa-8aaa-000000000002"
RTX_4090 = "11111111-aaaa-4aaa-8aaa-000000000003"
A100_40 = "11111111-aaaa-4aaa-8aaa-000000000004"
A100_80 = "11111111-aaaa-4aaa-8aaa-000000000005"


def gpu(gpu_id: str, name: str, **prices: str) -> dict[str, Any]:
    return {
        "id": gpu_id,
        "name": name,
        "prices": [{"priority": priority, "price": price} for priority, price in prices.items()],
    }


AVAILABLE = [
    gpu(RTX_3060_TI, "RTX 3060 Ti (8 GB)", high="0.10", batch="0.05"),
    gpu(RTX_3060, "RTX 3060 (12 GB)", high="0.09"),
    gpu(RTX_4090, "RTX 4090 (24 GB)", high="0.30"),
    gpu(A100_40, "A100 (40 GB)", high="1.00"),
    gpu(A100_80, "A100 (80 GB)", high="1.40"),
]


@pytest.mark.parametrize(
    ("requested", "expected_id"),
    [
        ("RTX 3060 Ti (8 GB)", RTX_3060_TI),
        ("RTX 3060 Ti", RTX_3060_TI),
        ("rtx 3060 ti (8 gb)", RTX_3060_TI),
        ("rtx 3060 ti", RTX_3060_TI),
        ("  RTX   3060 Ti  ", RTX_3060_TI),
        ("RTX 3060", RTX_3060),
        ("RTX 3060 (12 GB)", RTX_3060),
        ("A100 (80 GB)", A100_80),
        (RTX_4090, RTX_4090),
        (RTX_4090.upper(), RTX_4090),
    ],
)
def test_names_and_ids_resolve(requested: str, expected_id: str) -> None:
    assert resolve_gpu_classes([requested], AVAILABLE) == [expected_id]


def test_order_is_kept_and_duplicates_dropped() -> None:
    requested = ["RTX 4090", "RTX 3060 Ti", RTX_4090, "rtx 4090 (24 gb)"]
    assert resolve_gpu_classes(requested, AVAILABLE) == [RTX_4090, RTX_3060_TI]


def test_nothing_requested_means_cpu_only() -> None:
    assert resolve_gpu_classes([], AVAILABLE) == []


@pytest.mark.parametrize("requested", ["RTX 9999", "RTX 3060 (8 GB)", "RTX 30"])
def test_unknown_name_lists_the_available_names(requested: str) -> None:
    with pytest.raises(GpuClassError) as caught:
        resolve_gpu_classes([requested], AVAILABLE)
    message = str(caught.value)
    assert repr(requested) in message
    for item in AVAILABLE:
        assert item["name"] in message


def test_unknown_uuid_is_an_error() -> None:
    missing = "99999999-aaaa-4aaa-8aaa-000000000009"
    with pytest.raises(GpuClassError, match=missing):
        resolve_gpu_classes([missing], AVAILABLE)


def test_ambiguous_name_names_the_candidates_and_their_ids() -> None:
    with pytest.raises(GpuClassError, match="ambiguous") as caught:
        resolve_gpu_classes(["a100"], AVAILABLE)
    assert A100_40 in str(caught.value)
    assert A100_80 in str(caught.value)


def test_identical_names_are_ambiguous_even_when_spelled_in_full() -> None:
    twins = [gpu(RTX_4090, "RTX 4090 (24 GB)"), gpu(A100_80, "RTX 4090 (24 GB)")]
    with pytest.raises(GpuClassError, match="ambiguous"):
        resolve_gpu_classes(["RTX 4090 (24 GB)"], twins)


def test_gpu_class_error_is_a_value_error_and_handles_an_empty_catalogue() -> None:
    with pytest.raises(ValueError, match="no GPU classes are available"):
        resolve_gpu_classes(["RTX 4090"], [])


def test_gpu_names_by_id() -> None:
    assert gpu_names_by_id(AVAILABLE[:2]) == {RTX_3060_TI: "RTX 3060 Ti (8 GB)", RTX_3060: "RTX 3060 (12 GB)"}


@pytest.mark.parametrize(
    ("gpu_class", "priority", "expected"),
    [
        (AVAILABLE[0], "high", 0.10),
        (AVAILABLE[0], "batch", 0.05),
        (AVAILABLE[0], "low", None),
        (gpu(RTX_4090, "RTX 4090", high="$0.25"), "high", 0.25),
        (gpu(RTX_4090, "RTX 4090", high="n/a"), "high", None),
        ({"id": RTX_4090, "name": "RTX 4090"}, "high", None),
    ],
)
def test_price_per_hour(gpu_class: dict[str, Any], priority: str, expected: float | None) -> None:
    assert price_per_hour(gpu_class, priority) == expected
