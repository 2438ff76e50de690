"""Which config values count as secrets: the engine's secret keys, refined by the stack file's leaves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.program.secrecy import Secrecy, secrecy, secret_leaves, stack_file_config

SECURE = {"secure": "v1:ciphertext"}


def test_secret_leaves_finds_encrypted_values_at_any_depth() -> None:
    value = {"env": {"A": SECURE, "B": "plain"}, "probes": [{"cmd": SECURE}], "replicas": 1}
    assert secret_leaves(value) == [("env", "A"), ("probes", 0, "cmd")]
    assert secret_leaves(SECURE) == [()]
    assert secret_leaves({"env": {"A": "plain"}}) == []


DEPLOYMENT = "salad-sd:deployment"
IMAGE = "salad-sd:image"


@pytest.mark.parametrize(
    ("secret_keys", "file_config", "expected"),
    [
        ((), {}, Secrecy()),
        ((DEPLOYMENT,), {DEPLOYMENT: {"env": {"HF_TOKEN": SECURE}, "replicas": 1}}, Secrecy(env=True)),
        ((DEPLOYMENT,), {DEPLOYMENT: {"env": SECURE}}, Secrecy(env=True)),
        ((DEPLOYMENT,), {DEPLOYMENT: {"name": SECURE}}, Secrecy(env=True, deployment=True)),
        ((DEPLOYMENT,), {DEPLOYMENT: SECURE}, Secrecy(env=True, deployment=True)),
        ((DEPLOYMENT,), {}, Secrecy(env=True, deployment=True)),  # config not from the stack file
        ((IMAGE,), {IMAGE: {"registry": {"password": SECURE}}}, Secrecy()),
        ((IMAGE,), {IMAGE: {"registry": {"username": SECURE, "password": SECURE}}}, Secrecy(image=True)),
        ((IMAGE,), {}, Secrecy(image=True)),
        ((), {DEPLOYMENT: {"env": {"A": SECURE}}}, Secrecy()),  # the engine's word decides
    ],
)
def test_secrecy(secret_keys: tuple[str, ...], file_config: dict[str, Any], expected: Secrecy) -> None:
    assert secrecy(lambda key: key in secret_keys, file_config) == expected


def test_stack_file_config_reads_the_stack_file_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.a.yaml").write_text(
        "config:\n  salad-sd:deployment:\n    env:\n      A:\n        secure: x\n"
    )
    (tmp_path / "Pulumi.b.yaml").write_text(": not yaml: [")
    assert stack_file_config("a", tmp_path) == {"salad-sd:deployment": {"env": {"A": {"secure": "x"}}}}
    assert stack_file_config("b", tmp_path) == {}
    assert stack_file_config("missing", tmp_path) == {}
