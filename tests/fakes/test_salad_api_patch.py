"""RFC 7386 merge-patch semantics, response shape and out-of-band changes in the Salad emulator."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.fakes.salad_api import SaladEmulator
from tests.fakes.salad_rules import merge_patch
from tests.fakes.salad_testkit import DELETE, IMAGE, ORG, PROJECT, Api, http_probe, mutated, valid_body
from tests.fakes.waiting import wait_until


@pytest.fixture
def api(emu: SaladEmulator) -> Api:
    a = Api(emu)
    r = a.create(valid_body())
    assert r.status_code == 201, r.text
    return a


def test_merge_patch_function_follows_rfc7386() -> None:
    # the examples of RFC 7386 section 3
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": "b", "b": "c"}, {"a": None}) == {"b": "c"}
    assert merge_patch({"a": ["b"]}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "c"}, {"a": ["b"]}) == {"a": ["b"]}
    assert merge_patch({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}) == {"a": {"b": "d"}}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch(["a", "b"], ["c", "d"]) == ["c", "d"]
    assert merge_patch({"a": "b"}, ["c"]) == ["c"]
    assert merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}
    assert merge_patch([1, 2], {"a": "b", "c": None}) == {"a": "b"}
    assert merge_patch({}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}


def test_create_response_shape(emu: SaladEmulator) -> None:
    api = Api(emu)
    body = valid_body(name="shape", country_codes=["us"])
    body["container"]["registry_authentication"] = {"basic": {"username": "u", "password": "secret"}}
    r = api.create(body)
    assert r.status_code == 201
    assert r.headers["Location"] == f"/organizations/{ORG}/projects/{PROJECT}/containers/shape"
    g = r.json()
    assert uuid.UUID(g["id"]).version == 4
    assert (g["name"], g["display_name"], g["organization_name"], g["project_name"]) == (
        "shape",
        "Stable Diffusion",
        ORG,
        PROJECT,
    )
    assert g["version"] == 1 and g["pending_change"] is False
    assert g["priority"] == "high" and "priority" not in g["container"]
    assert "registry_authentication" not in g["container"] and "secret" not in r.text
    assert g["container"]["resources"]["storage_amount"] == 53687091200
    assert g["container"]["resources"]["shm_size"] == 64 and g["container"]["command"] is None
    assert g["readiness_probe"] is None and g["startup_probe"] == body["startup_probe"]
    assert g["country_codes"] == ["us"]
    assert g["scaling-actions"] == [] and g["scheduled-scaling-enabled"] is False
    assert re.fullmatch(r"[a-z]+-[a-z]+-[a-z0-9]{16}\.salad\.cloud", g["networking"]["dns"])
    assert g["networking"]["load_balancer"] == "least_number_of_connections"
    assert g["networking"]["server_response_timeout"] == 100000
    state = g["current_state"]
    assert state["status"] == "pending" and state["description"] is None
    assert state["instance_status_counts"] == {
        "allocating_count": 0,
        "creating_count": 0,
        "running_count": 0,
        "stopping_count": 0,
    }
    for key in ("create_time", "update_time"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", g[key])
    # the secret is kept (a client must keep it in state), just never shown
    stored = emu.stored_document(ORG, PROJECT, "shape")
    assert (
        stored is not None and stored["container"]["registry_authentication"]["basic"]["password"] == "secret"
    )


def test_minimal_body_gets_defaults(emu: SaladEmulator) -> None:
    body = {
        "name": "tiny",
        "container": {"image": "nginx", "resources": {"cpu": 1, "memory": 1024}},
        "autostart_policy": False,
        "replicas": 1,
        "restart_policy": "never",
    }
    g = Api(emu).create(body).json()
    assert g["display_name"] == "tiny" and g["country_codes"] == [] and g["priority"] is None
    assert g["container"]["resources"]["gpu_classes"] == [] and g["container"]["environment_variables"] == {}
    assert "networking" not in g
    assert g["liveness_probe"] is None and g["startup_probe"] is None and g["readiness_probe"] is None


def test_null_deletes_a_probe(api: Api) -> None:
    r = api.patch("sd", {"liveness_probe": None})
    assert r.status_code == 200 and r.json()["liveness_probe"] is None
    assert r.json()["startup_probe"] is not None and r.json()["version"] == 2


def test_nested_objects_merge(api: Api) -> None:
    r = api.patch("sd", {"container": {"resources": {"cpu": 8}}, "startup_probe": {"period_seconds": 5}})
    assert r.status_code == 200, r.text
    g = r.json()
    assert g["container"]["resources"]["cpu"] == 8
    assert g["container"]["resources"]["memory"] == 12288  # untouched siblings stay
    assert g["container"]["image"] == IMAGE and g["container"]["environment_variables"] == {
        "CLI_ARGS": "--api --xformers"
    }
    assert g["startup_probe"]["period_seconds"] == 5
    assert g["startup_probe"]["http"]["path"] == "/internal/profile-startup"


def test_arrays_are_replaced_wholesale(api: Api) -> None:
    api.patch(
        "sd", {"container": {"command": ["python", "webui.py", "--api"]}, "country_codes": ["us", "ca"]}
    )
    r = api.patch("sd", {"container": {"command": ["bash"]}, "country_codes": ["de"]})
    g = r.json()
    assert g["container"]["command"] == ["bash"] and g["country_codes"] == ["de"]
    headers = [{"name": "X-A", "value": "1"}]
    r = api.patch("sd", {"liveness_probe": {"http": {"headers": headers}}})
    assert r.json()["liveness_probe"]["http"]["headers"] == headers
    assert r.json()["liveness_probe"]["http"]["path"] == "/internal/ping"


def test_environment_variables_merge_per_key_by_default_and_null_is_refused(api: Api) -> None:
    r = api.patch("sd", {"container": {"environment_variables": {"PORT": "7860"}}})
    assert r.json()["container"]["environment_variables"] == {"CLI_ARGS": "--api --xformers", "PORT": "7860"}
    r = api.patch("sd", {"container": {"environment_variables": {"CLI_ARGS": None}}})
    assert r.status_code == 400
    assert "container.environment_variables.CLI_ARGS must be a string, not null" in r.json()["detail"]
    r = api.patch("sd", {"container": {"environment_variables": None}})
    assert r.status_code == 400 and "environment_variables must be an object, not null" in r.text


def test_env_null_deletes_knob_lets_null_remove_one(emu: SaladEmulator, api: Api) -> None:
    emu.env_null_deletes()
    api.patch("sd", {"container": {"environment_variables": {"PORT": "7860"}}})
    r = api.patch("sd", {"container": {"environment_variables": {"CLI_ARGS": None}}})
    assert r.status_code == 200
    assert r.json()["container"]["environment_variables"] == {"PORT": "7860"}


def test_env_replace_knob_replaces_the_whole_map(emu: SaladEmulator, api: Api) -> None:
    emu.env_semantics("replace")
    r = api.patch("sd", {"container": {"environment_variables": {"PORT": "7860"}}})
    assert r.json()["container"]["environment_variables"] == {"PORT": "7860"}
    r = api.patch("sd", {"container": {"environment_variables": {}}})
    assert r.json()["container"]["environment_variables"] == {}


def test_registry_login_is_replaced_whole(emu: SaladEmulator, api: Api) -> None:
    basic = {"basic": {"username": "u", "password": "p"}}
    hub = {"docker_hub": {"username": "u", "personal_access_token": "t"}}
    assert api.patch("sd", {"container": {"registry_authentication": basic}}).status_code == 200
    assert api.patch("sd", {"container": {"registry_authentication": hub}}).status_code == 200
    stored = emu.stored_document(ORG, PROJECT, "sd")
    assert stored is not None and stored["container"]["registry_authentication"] == hub
    r = api.patch("sd", {"container": {"registry_authentication": {"basic": None}}})
    assert r.status_code == 400 and "must be an object, not null" in r.text


def test_null_resets_optional_fields_to_their_defaults(api: Api) -> None:
    r = api.patch("sd", {"display_name": None, "country_codes": None, "container": {"priority": None}})
    g = r.json()
    assert g["display_name"] == "sd" and g["country_codes"] == [] and g["priority"] is None
    r = api.patch("sd", {"container": {"resources": {"gpu_classes": None, "storage_amount": None}}})
    assert r.json()["container"]["resources"]["gpu_classes"] == []
    assert r.json()["container"]["resources"]["storage_amount"] == 1073741824


def test_switching_probe_protocol_needs_the_probe_removed_first(api: Api) -> None:
    tcp_probe = mutated(http_probe(), "http", DELETE) | {"tcp": {"port": 7860}}
    r = api.patch("sd", {"liveness_probe": tcp_probe})
    assert r.status_code == 400 and "exactly one of" in r.json()["detail"]  # merged with the old http block
    r = api.patch("sd", {"liveness_probe": {**tcp_probe, "http": None}})
    assert r.status_code == 400 and "liveness_probe.http must be an object, not null" in r.json()["detail"]
    assert api.patch("sd", {"liveness_probe": None}).status_code == 200
    r = api.patch("sd", {"liveness_probe": tcp_probe})
    assert r.status_code == 200
    assert r.json()["liveness_probe"]["tcp"] == {"port": 7860} and "http" not in r.json()["liveness_probe"]


def test_networking_port_edit_is_versioned_and_keeps_dns(api: Api) -> None:
    dns = api.group("sd")["networking"]["dns"]
    r = api.patch("sd", {"networking": {"port": 8080}})
    assert r.status_code == 200
    assert r.json()["networking"]["port"] == 8080 and r.json()["networking"]["dns"] == dns
    assert r.json()["version"] == 2


def test_empty_patch_changes_nothing(api: Api) -> None:
    before = api.group("sd")
    r = api.patch("sd", {})
    assert r.status_code == 200 and r.json()["version"] == before["version"]
    assert r.json()["container"]["image"] == before["container"]["image"]


def test_update_time_moves_on_patch(api: Api) -> None:
    before = api.group("sd")
    # timestamps have millisecond resolution: patch until one lands in a later millisecond
    wait_until(lambda: api.patch("sd", {"replicas": 3}).json()["update_time"] != before["update_time"])
    assert api.group("sd")["update_time"] > before["update_time"]
    assert api.group("sd")["create_time"] == before["create_time"]


def test_edit_out_of_band_bumps_version_without_validation(emu: SaladEmulator, api: Api) -> None:
    wait_until(lambda: api.status("sd") == "running")
    emu.edit_out_of_band(ORG, PROJECT, "sd", {"container": {"image": "acme/other:2"}, "replicas": 999})
    g = api.group("sd")
    assert g["container"]["image"] == "acme/other:2" and g["replicas"] == 999  # no validation
    assert g["version"] == 2 and g["pending_change"] is True
    assert g["current_state"]["status"] == "pending"  # image re-preparation
    emu.edit_out_of_band(ORG, PROJECT, "sd", {"display_name": "Drifted"})
    assert api.group("sd")["version"] == 2 and api.group("sd")["display_name"] == "Drifted"


def test_delete_out_of_band_vanishes_immediately(emu: SaladEmulator, api: Api) -> None:
    emu.delete_out_of_band(ORG, PROJECT, "sd")
    assert api.get("sd").status_code == 404
    assert emu.group(ORG, PROJECT, "sd") is None and emu.instances(ORG, PROJECT, "sd") == []
    with pytest.raises(KeyError):
        emu.delete_out_of_band(ORG, PROJECT, "sd")
    with pytest.raises(KeyError):
        emu.edit_out_of_band(ORG, PROJECT, "sd", {"replicas": 1})


def test_inspection_helpers_match_http(emu: SaladEmulator, api: Api) -> None:
    wait_until(lambda: api.status("sd") == "running")
    direct = emu.group(ORG, PROJECT, "sd")
    assert direct is not None and direct["id"] == api.group("sd")["id"]
    assert {i["id"] for i in emu.instances(ORG, PROJECT, "sd")} == {i["id"] for i in api.instances("sd")}
    assert emu.group(ORG, PROJECT, "nope") is None and emu.first_ready_time(ORG, PROJECT, "nope") is None
