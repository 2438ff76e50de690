"""Salad request bodies built from the resource inputs: the create body and the merge-patches of an update.

Both normalize their inputs first (numbers come back from the engine as floats), so every integer in a
body is an int. Every body is valid against Salad's spec: `null` appears only where the spec allows it
(a whole probe, the command, display name, countries, priority, a resource field). What RFC 7386 cannot
say within the spec is said another way: a changed environment map, probe or registry login is sent
whole; a probe that changes protocol is removed (`null`) in one PATCH and sent new in the next.
"""

from __future__ import annotations

import copy
from typing import Any

from components.container_group.properties import BYTES_PER_GIB, PROBE_KEYS, PROBE_PROTOCOLS
from components.container_group.validation import normalize_inputs

# Objects a patch carries whole (never with `null` inside: the spec forbids it) when anything in them
# changed: Salad validates a probe or a registry credential as a complete object, and a changed
# environment is sent complete whether Salad merges it or replaces it (the provider reads back which).
_SENT_WHOLE = {
    *((probe_key,) for probe_key in PROBE_KEYS),
    ("container", "registry_authentication"),
    ("container", "environment_variables"),
}


# Keys the spec does not let a PATCH set to null. A registry login cannot be removed in place (diff_rules
# replaces the group instead); image_caching always has a value.
_NOT_NULLABLE = {("container", "registry_authentication"), ("container", "image_caching")}


def create_body(inputs: dict[str, Any], gpu_class_ids: list[str]) -> dict[str, Any]:
    """The `ContainerGroupPrototype` for `inputs`; optional fields are omitted when unset."""
    props = normalize_inputs(inputs)
    body: dict[str, Any] = {
        "name": props.get("name"),
        "autostart_policy": props["autostart"],
        "replicas": props["replicas"],
        "restart_policy": props["restart_policy"],
        "container": _container(props, gpu_class_ids),
    }
    _set_if_given(body, "display_name", props.get("display_name"))
    _set_if_given(body, "country_codes", props.get("country_codes"))
    if props.get("gateway") is not None:
        body["networking"] = _networking(props["gateway"])
    for probe_key in PROBE_KEYS:
        _set_if_given(body, probe_key, props.get(probe_key))
    _set_if_given(body, "queue_connection", props.get("queue_connection"))
    if props.get("queue_autoscaler") is not None:
        body["queue_autoscaler"] = props["queue_autoscaler"]
        body["replicas"] = props["queue_autoscaler"]["min_replicas"]  # the autoscaler owns the count
    return copy.deepcopy(body)


def patch_body(old: dict[str, Any], new: dict[str, Any], gpu_class_ids: list[str] | None) -> dict[str, Any]:
    """The RFC 7386 merge-patch turning the group built from `old` into the one built from `new`.

    Only changed top-level keys are present; arrays are sent whole; `null` removes what `new` no longer
    sets (a probe, country codes, the display name, a command, ...). Fields Salad cannot patch (name,
    autostart, restart policy, gateway options other than its port) and provider-only settings (waiting,
    adopt) never appear. `gpu_class_ids` are the resolved ids for `new`, or None to leave GPUs alone;
    they are sent when they differ from `old["gpu_class_ids"]` (or, if `old` has none recorded, when the
    `gpu_classes` input changed).
    """
    old_view = _patchable(create_body(old, []))
    new_view = _patchable(create_body(new, []))
    if "networking" not in old_view or "networking" not in new_view:
        old_view.pop("networking", None)
        new_view.pop("networking", None)
    if "queue_autoscaler" in old_view or "queue_autoscaler" in new_view:
        old_view.pop("replicas")  # the autoscaler moves it: patching it would fight the autoscaler
        new_view.pop("replicas")
    patch = _merge_patch(old_view, new_view, ())
    if patch.get("queue_autoscaler") is not None:
        # Whole and without nulls: the spec allows none inside it and needs min, max and length together.
        patch["queue_autoscaler"] = new_view["queue_autoscaler"]
    if gpu_class_ids is not None and _gpu_classes_changed(old, new, gpu_class_ids):
        container = patch.setdefault("container", {})
        container.setdefault("resources", {})["gpu_classes"] = list(gpu_class_ids)
    return patch


def patch_steps(
    old: dict[str, Any], new: dict[str, Any], gpu_class_ids: list[str] | None
) -> list[dict[str, Any]]:
    """The PATCH bodies of one update, in order: `patch_body`, split where one body cannot say it.

    A probe that changes protocol (http -> tcp) cannot lose its old protocol block in a spec-valid body
    (`"http": null` is not allowed), and under RFC 7386 merge the old block would stay. So the first
    body removes that probe (`null`, with every other change) and a second one sets the new probe.
    """
    patch = patch_body(old, new, gpu_class_ids)
    old_body = create_body(old, [])
    switched = [
        key for key in PROBE_KEYS if key in patch and _protocol_switched(old_body.get(key), patch[key])
    ]
    if not switched:
        return [patch] if patch else []
    first = {**patch, **{key: None for key in switched}}
    return [first, {key: patch[key] for key in switched}]


def env_removal_patch(keys: list[str]) -> dict[str, Any]:
    """RFC 7386's way to delete environment variables: `{"NAME": null}`.

    Outside Salad's spec (values must be strings); sent at most once, and only when Salad merged the whole
    map we sent instead of replacing it, so no spec-valid body can remove the leftover keys.
    """
    return {"container": {"environment_variables": {key: None for key in keys}}}


def _container(props: dict[str, Any], gpu_class_ids: list[str]) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "cpu": props.get("cpu"),
        "memory": props.get("memory"),
        "gpu_classes": list(gpu_class_ids),
    }
    if props.get("storage_gb") is not None:
        resources["storage_amount"] = props["storage_gb"] * BYTES_PER_GIB
    _set_if_given(resources, "shm_size", props.get("shm_size"))
    container: dict[str, Any] = {
        "image": props.get("image"),
        "resources": resources,
        "image_caching": props["image_caching"],
    }
    _set_if_given(container, "command", props.get("command"))
    _set_if_given(container, "environment_variables", props.get("environment_variables") or None)
    _set_if_given(container, "priority", props.get("priority"))
    _set_if_given(container, "registry_authentication", props.get("registry_authentication"))
    return container


def _networking(gateway: dict[str, Any]) -> dict[str, Any]:
    return {
        "protocol": "http",
        "port": gateway["port"],
        "auth": gateway["auth"],
        "load_balancer": gateway["load_balancer"],
        "single_connection_limit": gateway["single_connection_limit"],
        "client_request_timeout": gateway["client_request_timeout_ms"],
        "server_response_timeout": gateway["server_response_timeout_ms"],
    }


def _patchable(body: dict[str, Any]) -> dict[str, Any]:
    fixed = ("name", "autostart_policy", "restart_policy", "queue_connection")
    view = {key: value for key, value in body.items() if key not in fixed}
    if "networking" in view:
        view["networking"] = {"port": view["networking"]["port"]}
    del view["container"]["resources"]["gpu_classes"]
    # No environment is the empty map (the map itself is not nullable).
    view["container"].setdefault("environment_variables", {})
    return view


def _protocol_switched(old_probe: Any, new_probe: Any) -> bool:
    if not isinstance(old_probe, dict) or not isinstance(new_probe, dict):
        return False
    return any(key in old_probe and key not in new_probe for key in PROBE_PROTOCOLS)


def _merge_patch(old: dict[str, Any], new: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    patch: dict[str, Any] = {key: None for key in old if key not in new and (*path, key) not in _NOT_NULLABLE}
    for key, value in new.items():
        if key in old and old[key] == value:
            continue
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            if (*path, key) in _SENT_WHOLE:
                patch[key] = value
            elif sub := _merge_patch(before, value, (*path, key)):
                patch[key] = sub
        else:
            patch[key] = value
    return patch


def _gpu_classes_changed(old: dict[str, Any], new: dict[str, Any], gpu_class_ids: list[str]) -> bool:
    recorded = old.get("gpu_class_ids")
    if isinstance(recorded, list):
        return recorded != list(gpu_class_ids)
    return bool(normalize_inputs(old)["gpu_classes"] != normalize_inputs(new)["gpu_classes"])


def _set_if_given(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value
