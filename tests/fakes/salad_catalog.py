"""Static data for the Salad emulator: GPU classes (stable uuid5 ids) and gateway DNS name generation."""

from __future__ import annotations

import random
import string
import uuid
from typing import Any

GPU_NAMESPACE = uuid.UUID("6f1c3f5e-9a53-4c2e-8a8e-5a1ad0c10ed0")

# name, (high, medium, low, batch) $/hour, vram GB, high demand
_GPUS: list[tuple[str, tuple[str, str, str, str], int, bool]] = [
    ("GTX 1650 (4 GB)", ("0.040", "0.030", "0.020", "0.015"), 4, False),
    ("RTX 3060 (12 GB)", ("0.100", "0.080", "0.060", "0.050"), 12, False),
    ("RTX 3060 Ti (8 GB)", ("0.100", "0.080", "0.060", "0.050"), 8, False),
    ("RTX 3070 (8 GB)", ("0.110", "0.090", "0.070", "0.060"), 8, False),
    ("RTX 3080 (10 GB)", ("0.140", "0.120", "0.100", "0.080"), 10, False),
    ("RTX 3090 (24 GB)", ("0.250", "0.200", "0.150", "0.120"), 24, True),
    ("RTX 3090 Ti (24 GB)", ("0.260", "0.210", "0.160", "0.130"), 24, True),
    ("RTX 4070 Ti (12 GB)", ("0.180", "0.150", "0.120", "0.100"), 12, False),
    ("RTX 4080 (16 GB)", ("0.230", "0.190", "0.150", "0.120"), 16, False),
    ("RTX 4090 (24 GB)", ("0.350", "0.300", "0.240", "0.200"), 24, True),
    ("RTX 5090 (32 GB)", ("0.500", "0.430", "0.350", "0.300"), 32, True),
]


def gpu_class_id(name: str) -> str:
    """The stable id the emulator gives a GPU class name (uuid5)."""
    return str(uuid.uuid5(GPU_NAMESPACE, name))


def gpu_classes() -> list[dict[str, Any]]:
    """What GET /organizations/{org}/gpu-classes returns in `items` (a fresh copy each call)."""
    items: list[dict[str, Any]] = []
    for name, prices, vram, high_demand in _GPUS:
        items.append(
            {
                "id": gpu_class_id(name),
                "name": name,
                "prices": [
                    {"priority": priority, "price": price}
                    for priority, price in zip(("high", "medium", "low", "batch"), prices, strict=True)
                ],
                "gpu_class_type": "community",
                "gpu_count": 1,
                "is_high_demand": high_demand,
                "min_vcpu": 1,
                "max_vcpu": 16,
                "min_ram": 1024,
                "max_ram": 61440 if vram >= 12 else 30720,
                "min_storage": 1073741824,
                "max_storage": 268435456000,
            }
        )
    return items


_WORDS = (
    "apple",
    "apricot",
    "avocado",
    "banana",
    "basil",
    "bean",
    "beet",
    "berry",
    "cabbage",
    "carrot",
    "cashew",
    "celery",
    "cherry",
    "chive",
    "clove",
    "coconut",
    "corn",
    "cumin",
    "date",
    "dill",
    "endive",
    "fennel",
    "fig",
    "garlic",
    "ginger",
    "grape",
    "guava",
    "hazelnut",
    "kale",
    "kiwifruit",
    "leek",
    "lemon",
    "lentil",
    "lime",
    "mango",
    "melon",
    "mint",
    "olive",
    "onion",
    "orange",
    "papaya",
    "parsley",
    "pea",
    "peach",
    "pear",
    "pepper",
    "plum",
    "potato",
    "radish",
    "rice",
    "sage",
    "salad",
    "spinach",
    "squash",
    "thyme",
    "tomato",
    "turnip",
    "walnut",
    "yam",
)


def gateway_dns(rng: random.Random) -> str:
    """A hostname like `kiwifruit-bean-9o1ci3fgt898hpv0.salad.cloud`."""
    tail = "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(16))
    return f"{rng.choice(_WORDS)}-{rng.choice(_WORDS)}-{tail}.salad.cloud"
