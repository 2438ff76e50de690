"""Resource outputs from a Salad container group, and inputs rebuilt from one (for `pulumi refresh`)."""

from __future__ import annotations

import math
from typing import Any

from components.container_group.gpu_classes import GpuClassError, resolve_gpu_classes
from components.container_group.properties import BYTES_PER_GIB, PROBE_KEYS, PROVIDER_KEYS
from components.container_group.validation import normalize_inputs

# Left unset, these are Salad's to choose (it fills them in); whatever it chose is not drift.
SALAD_CHOOSES = ("shm_size", "storage_gb", "priority")


def outputs_from_group(
    inputs: dict[str, Any], group: dict[str, Any], gpu_class_ids: list[str], ready_replicas: int
) -> dict[str, Any]:
    """All of `inputs` plus what Salad computed.

    Adds id, status, dns (host only), url (`https://<dns>`, or dns as given when it carries a scheme; None
    without a gateway), version, ready_replicas and gpu_class_ids.
    """
    dns, url = _dns_and_url((group.get("networking") or {}).get("dns"))
    return {
        **inputs,
        "id": group.get("id"),
        "status": (group.get("current_state") or {}).get("status"),
        "dns": dns,
        "url": url,
        "version": group.get("version"),
        "ready_replicas": ready_replicas,
        "gpu_class_ids": list(gpu_class_ids),
    }


def inputs_from_group(
    group: dict[str, Any], previous: dict[str, Any], gpu_names_by_id: dict[str, str]
) -> dict[str, Any]:
    """The inputs that would produce the live `group`, normalized like check_inputs' result.

    What Salad never returns comes from `previous`: registry_authentication and the provider-only
    inputs (wait settings, adopt, smoke_test). GPU classes keep the user's spelling while it still
    resolves to the live ids; otherwise they become names (or ids when a name is missing or shared).
    What Salad fills in when the user sets nothing stays unset: display_name equal to the name, and any
    value of SALAD_CHOOSES (Salad's shm_size default is 64 or 1024 depending on the page of its spec).
    Only input keys are returned (no outputs, no `__provider`).
    """
    prev = normalize_inputs(previous)
    container = group.get("container") or {}
    resources = container.get("resources") or {}
    name = group.get("name") or prev.get("name")
    inputs: dict[str, Any] = {
        "name": name,
        "organization": group.get("organization_name") or prev.get("organization"),
        "project": group.get("project_name") or prev.get("project"),
        "image": container.get("image"),
        "replicas": group.get("replicas"),
        "cpu": resources.get("cpu"),
        "memory": resources.get("memory"),
        "gpu_classes": _gpu_spelling(
            resources.get("gpu_classes") or [], prev.get("gpu_classes"), gpu_names_by_id
        ),
        "environment_variables": dict(container.get("environment_variables") or {}),
        "image_caching": container.get("image_caching"),
        "restart_policy": group.get("restart_policy"),
        "autostart": group.get("autostart_policy"),
        "priority": group.get("priority") or container.get("priority"),
        "country_codes": group.get("country_codes") or None,
        "command": container.get("command") or None,
        "gateway": _gateway(group.get("networking")),
        **{probe_key: _probe(group.get(probe_key)) for probe_key in PROBE_KEYS},
        "queue_connection": group.get("queue_connection"),
        "queue_autoscaler": group.get("queue_autoscaler"),
    }
    if group.get("queue_autoscaler") is not None:
        inputs["replicas"] = prev.get("replicas")  # moved by the autoscaler, not drift
    storage_amount = resources.get("storage_amount")
    inputs["storage_gb"] = None if storage_amount is None else math.ceil(storage_amount / BYTES_PER_GIB)
    inputs["shm_size"] = resources.get("shm_size")
    display_name = group.get("display_name")
    if display_name != name or prev.get("display_name") is not None:
        inputs["display_name"] = display_name
    for key in SALAD_CHOOSES:
        if prev.get(key) is None:
            inputs[key] = None
    for key in ("registry_authentication", *PROVIDER_KEYS):
        inputs[key] = prev.get(key)
    return normalize_inputs({key: value for key, value in inputs.items() if value is not None})


def _dns_and_url(raw: Any) -> tuple[str | None, str | None]:
    if not raw:
        return None, None
    text = str(raw).strip().rstrip("/")
    _scheme, separator, host = text.partition("://")
    if separator:
        return host, text
    return text, f"https://{text}"


def _gpu_spelling(live_ids: list[str], spelled: Any, names_by_id: dict[str, str]) -> list[str]:
    if isinstance(spelled, list) and all(isinstance(item, str) for item in spelled):
        catalogue = [{"id": gpu_id, "name": gpu_name} for gpu_id, gpu_name in names_by_id.items()]
        try:
            if sorted(resolve_gpu_classes(spelled, catalogue)) == sorted(live_ids):
                return list(spelled)
        except GpuClassError:
            pass
    names = list(names_by_id.values())
    return [
        names_by_id[gpu_id] if gpu_id in names_by_id and names.count(names_by_id[gpu_id]) == 1 else gpu_id
        for gpu_id in live_ids
    ]


def _gateway(networking: Any) -> dict[str, Any] | None:
    if not isinstance(networking, dict):
        return None
    gateway = {
        "port": networking.get("port"),
        "auth": networking.get("auth"),
        "load_balancer": networking.get("load_balancer"),
        "single_connection_limit": networking.get("single_connection_limit"),
        "client_request_timeout_ms": networking.get("client_request_timeout"),
        "server_response_timeout_ms": networking.get("server_response_timeout"),
    }
    return {key: value for key, value in gateway.items() if value is not None}


def _probe(probe: Any) -> dict[str, Any] | None:
    if not isinstance(probe, dict):
        return None
    cleaned = {key: value for key, value in probe.items() if value is not None}
    if isinstance(cleaned.get("http"), dict):
        cleaned["http"] = {key: value for key, value in cleaned["http"].items() if value is not None}
    return cleaned


def stale_environment(group: dict[str, Any], inputs: dict[str, Any]) -> list[str]:
    """Environment variables the live group still has although `inputs` no longer set them."""
    live = (group.get("container") or {}).get("environment_variables") or {}
    wanted = normalize_inputs(inputs).get("environment_variables") or {}
    return sorted(key for key in live if key not in wanted)
