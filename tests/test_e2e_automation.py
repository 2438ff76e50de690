"""`pulumi up`, change replicas, `up`, `refresh`, `destroy` via the Automation API, against the emulator.

Needs the Pulumi CLI on PATH (the Automation API drives it); without it the test skips and says why.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import TEST_API_KEY
from tests.fakes.salad_api import SaladEmulator
from tests.paths import REPO_ROOT

IMAGE = "registry.example.com/team/salad-sd@sha256:" + "e" * 64
ORG, PROJECT = "e2e-org", "e2e"

pytestmark = pytest.mark.skipif(
    shutil.which("pulumi") is None,
    reason="no `pulumi` CLI on PATH: the Automation-API end-to-end test needs it "
    "(install it from https://www.pulumi.com/docs/install/; it cannot be installed offline here)",
)


def project_copy(tmp_path: Path) -> Path:
    """The program in a temp dir, so the test's stack file never lands in the repo."""
    work = tmp_path / "project"
    ignore = shutil.ignore_patterns("venv", ".git", "Pulumi.*.yaml", "__pycache__")
    shutil.copytree(REPO_ROOT, work, ignore=ignore)
    (work / "venv").symlink_to(REPO_ROOT / "venv")
    return work


def test_up_scale_refresh_destroy(tmp_path: Path, salad_emulator: SaladEmulator) -> None:
    from pulumi import automation as auto

    backend = tmp_path / "state"
    backend.mkdir()
    stack = auto.create_or_select_stack(
        stack_name="e2e",
        work_dir=str(project_copy(tmp_path)),
        opts=auto.LocalWorkspaceOptions(
            env_vars={
                "PULUMI_BACKEND_URL": f"file://{backend}",
                "PULUMI_CONFIG_PASSPHRASE": "e2e-passphrase",
                "SALAD_POLL_SECONDS": "0.05",
                "SALAD_REQUESTS_PER_MINUTE": "100000",
            }
        ),
    )
    config = {
        "salad:apiKey": auto.ConfigValue(TEST_API_KEY, secret=True),
        "salad:apiUrl": auto.ConfigValue(salad_emulator.base_url),
        "salad:organization": auto.ConfigValue(ORG),
        "salad:project": auto.ConfigValue(PROJECT),
        "salad-sd:image": auto.ConfigValue(json.dumps({"ref": IMAGE})),
    }
    deployment = {"replicas": 1, "waitForReady": {"minReadyReplicas": 1, "timeoutMinutes": 5}}
    stack.set_all_config(config)
    stack.set_config("salad-sd:deployment", auto.ConfigValue(json.dumps(deployment)))
    try:
        first = stack.up(on_output=print)
        name = first.outputs["containerGroup"].value
        group = salad_emulator.group(ORG, PROJECT, name)
        assert group is not None and first.outputs["url"].value == "https://" + group["networking"]["dns"]
        assert first.outputs["image"].value == IMAGE

        stack.preview(expect_no_changes=True)

        salad_emulator.clear_log()
        stack.set_config("salad-sd:deployment", auto.ConfigValue(json.dumps({**deployment, "replicas": 2})))
        stack.up(on_output=print)
        patches = [r.body for r in salad_emulator.requests_to("PATCH")]
        assert patches == [{"replicas": 2}]
        assert not [r for r in salad_emulator.request_log() if r.method in ("POST", "DELETE")]

        salad_emulator.edit_out_of_band(ORG, PROJECT, name, {"replicas": 3})
        stack.refresh(on_output=print)
        assert stack.export_stack().deployment is not None

        stack.destroy(on_output=print)
        assert salad_emulator.group(ORG, PROJECT, name) is None
        assert TEST_API_KEY not in json.dumps(stack.export_stack().deployment)
    finally:
        stack.workspace.remove_stack("e2e", force=True)
