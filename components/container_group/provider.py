"""The dynamic provider of `ContainerGroup`: orchestration only (the rules live in the pure modules).

check and diff are pure and make no call. create posts, starts if needed and waits until instances
serve; update sends one merge-patch with what changed and waits; read refreshes from Salad; delete
deletes and waits until the group is gone. The API key comes from `configure` and is never pickled.
"""

from __future__ import annotations

import threading
from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from components.container_group.diff_rules import diff_inputs
from components.container_group.gpu_classes import (
    estimated_cost_per_hour,
    gpu_names_by_id,
    resolve_gpu_classes,
)
from components.container_group.outputs import inputs_from_group, outputs_from_group
from components.container_group.preflight import Preflight, PreflightFailed
from components.container_group.readiness import count_ready, required_ready
from components.container_group.request_body import create_body, patch_body
from components.container_group.settings import (
    FIRST_POLL_SECONDS,
    ProviderSettings,
    SettingsError,
    settings_from_config,
)
from components.container_group.validation import check_inputs
from components.container_group.waiting import (
    GroupRef,
    Pacing,
    Serving,
    WaitFailed,
    wait_until_gone,
    wait_until_serving,
)
from components.container_group.waiting_events import EventWatch
from components.salad.client import SaladClient
from components.salad.errors import SaladApiError
from components.salad.rate_budget import shared_budget
from components.txt2img.smoke_test import SmokeTestFailed, smoke_test

PROVIDER_KEY = "__provider"
DELETE_TIMEOUT_SECONDS = 600.0
CREATE_ATTEMPTS = 3
SMOKE_SECONDS = 600.0  # the gateway may answer 403/503 for minutes right after a deploy

Props = dict[str, Any]


class ContainerGroupError(Exception):
    """A deployment step failed in a way the user must act on; the message says how."""


class ContainerGroupProvider(ResourceProvider):
    """Moves a Salad container group to the declared inputs with the smallest safe change."""

    def __init__(self) -> None:
        self._settings: ProviderSettings | None = None
        self._salad: SaladClient | None = None
        self._gpu_classes: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._preflight = Preflight()

    # Only the class reference goes into `__provider`: settings, client and caches are process state.
    def __getstate__(self) -> dict[str, int]:
        return {"format": 1}

    def __setstate__(self, _state: dict[str, int]) -> None:
        self.__init__()  # type: ignore[misc]

    def configure(self, req: ConfigureRequest) -> None:
        self._settings = settings_from_config(req.config.get)

    # pure steps

    def check(self, _olds: Props, news: Props) -> CheckResult:
        news = dict(news)
        settings = self._current_settings()
        for key, default in (("organization", settings.organization), ("project", settings.project)):
            if news.get(key) is None and default:
                news[key] = default
        inputs, failures = check_inputs(news)
        return CheckResult(inputs, [CheckFailure(f.property, f.reason) for f in failures])

    def diff(self, _id: str, olds: Props, news: Props) -> DiffResult:
        result = diff_inputs(olds, news)
        return DiffResult(
            changes=bool(result.changed or result.replaces),
            replaces=result.replaces,
            delete_before_replace=result.delete_before_replace,
        )

    # steps that talk to Salad

    def create(self, props: Props) -> CreateResult:
        inputs = _without_provider(props)
        client, ref = self._client(), _ref(inputs)
        gpu_ids = self._resolve_gpus(client, inputs)
        if not inputs.get("adopt"):
            self._check_capacity(client, inputs, gpu_ids, olds=None)
        group, ours = self._create_or_adopt(client, ref, inputs, gpu_ids)
        try:
            serving = self._wait_serving(client, ref, inputs, version=None)
            outputs = self._outputs(client, inputs, serving.group, gpu_ids, serving.ready)
            self._smoke_test(inputs, outputs)
        except (WaitFailed, SaladApiError, ContainerGroupError) as failure:
            if not ours:
                raise
            raise ContainerGroupError(f"{failure} {self._remove_half_created(client, ref)}") from None
        return CreateResult(group["id"], outputs)

    def update(self, _id: str, olds: Props, news: Props) -> UpdateResult:
        inputs = _without_provider(news)
        client, ref = self._client(), _ref(inputs)
        gpu_ids = self._resolve_gpus(client, inputs)
        patch = patch_body(_without_provider(olds), inputs, gpu_ids)
        version = None
        if patch:
            self._check_capacity(client, inputs, gpu_ids, olds=_without_provider(olds))
            try:
                updated = client.update_container_group(ref.organization, ref.project, ref.name, patch)
            except SaladApiError as error:
                if error.is_not_found:
                    raise ContainerGroupError(
                        f"{ref.name}: the group no longer exists in Salad (deleted outside Pulumi). "
                        "Run `pulumi refresh` to drop it from the state, then `pulumi up` to create it again."
                    ) from None
                raise
            if updated.get("version") != olds.get("version"):
                version = int(updated["version"])
        serving = self._wait_serving(client, ref, inputs, version=version)
        outputs = self._outputs(client, inputs, serving.group, gpu_ids, serving.ready)
        self._smoke_test(inputs, outputs)
        return UpdateResult(outputs)

    def read(self, id_: str, props: Props) -> ReadResult:
        previous = _without_provider(props)
        client, ref = self._client(), _ref(previous)
        try:
            group = client.get_container_group(ref.organization, ref.project, ref.name)
            instances = client.list_instances(ref.organization, ref.project, ref.name)
        except SaladApiError as error:
            if error.is_not_found:
                return ReadResult("", {})
            raise
        inputs = self._live_inputs(client, ref, group, previous)
        gpu_ids = list(group["container"]["resources"].get("gpu_classes") or [])
        outputs = self._outputs(client, inputs, group, gpu_ids, count_ready(instances, None))
        return ReadResult(group["id"], outputs, inputs)

    def delete(self, _id: str, props: Props) -> None:
        previous = _without_provider(props)
        client, ref = self._client(), _ref(previous)
        try:
            client.delete_container_group(ref.organization, ref.project, ref.name)
        except SaladApiError as error:
            if error.is_not_found:
                return
            raise
        wait_until_gone(client, ref, timeout_seconds=DELETE_TIMEOUT_SECONDS, pacing=self._pacing())

    # helpers

    def _create_or_adopt(
        self, client: SaladClient, ref: GroupRef, inputs: Props, gpu_ids: list[str]
    ) -> tuple[dict[str, Any], bool]:
        """POST the group, resolving ambiguous answers; returns (group, created by this call)."""
        if inputs.get("adopt"):
            existing = _get_or_none(client, ref)
            if existing is not None:
                _say(f"{ref.name}: adopting the existing container group (adopt: true)")
                return self._converge(client, ref, existing, inputs, gpu_ids), False
        body = create_body(inputs, gpu_ids)
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                return client.create_container_group(ref.organization, ref.project, body), True
            except SaladApiError as error:
                if not (error.is_name_conflict or error.is_transient):
                    raise
                existing = _get_or_none(client, ref)
                if existing is None:
                    if error.is_name_conflict or attempt == CREATE_ATTEMPTS:
                        raise
                    continue  # nothing was created, so posting again is safe
                self._require_same_spec(client, ref, existing, inputs)
                _say(f"{ref.name}: the group already exists with this spec; adopting it")
                return existing, not error.is_name_conflict
        raise AssertionError("unreachable")

    def _require_same_spec(
        self, client: SaladClient, ref: GroupRef, group: dict[str, Any], inputs: Props
    ) -> None:
        live = self._live_inputs(client, ref, group, inputs)
        difference = diff_inputs(live, inputs)
        if difference.changed or difference.replaces:
            fields = ", ".join(sorted(set(difference.changed) | set(difference.replaces)))
            raise ContainerGroupError(
                f"a container group named {ref.name!r} already exists in {ref.organization}/{ref.project} "
                f"and differs from this stack in: {fields}. Set adopt: true to take it over (it is then "
                "patched to this spec), delete it in the Salad portal, or choose another name."
            )

    def _converge(
        self, client: SaladClient, ref: GroupRef, group: dict[str, Any], inputs: Props, gpu_ids: list[str]
    ) -> dict[str, Any]:
        live = self._live_inputs(client, ref, group, inputs)
        difference = diff_inputs(live, inputs)
        if difference.replaces:
            raise ContainerGroupError(
                f"cannot adopt {ref.name!r}: it differs in {', '.join(difference.replaces)}, which Salad "
                "cannot change in place. Delete the group in the Salad portal or align these settings first."
            )
        patch = patch_body(live, inputs, gpu_ids)
        if not patch:
            return group
        return client.update_container_group(ref.organization, ref.project, ref.name, patch)

    def _live_inputs(self, client: SaladClient, ref: GroupRef, group: dict[str, Any], inputs: Props) -> Props:
        names = gpu_names_by_id(self._gpu_catalog(client, ref.organization))
        return inputs_from_group(group, inputs, names)

    def _wait_serving(
        self, client: SaladClient, ref: GroupRef, inputs: Props, *, version: int | None
    ) -> Serving:
        return wait_until_serving(
            client,
            ref,
            want=required_ready(inputs),
            version=version,
            timeout_seconds=float(inputs["ready_timeout_minutes"]) * 60,
            pacing=self._pacing(),
            say=_say,
            watch=self._event_watch(client, ref, inputs),
        )

    def _event_watch(self, client: SaladClient, ref: GroupRef, inputs: Props) -> EventWatch:
        per_minute = None
        if inputs.get("reallocate_stuck_after_minutes") is not None:
            per_minute = self._preflight.reallocations_per_minute(client, ref.organization)
        return EventWatch(
            client,
            ref.organization,
            ref.project,
            ref.name,
            inputs=inputs,
            say=_say,
            reallocations_per_minute=per_minute,
        )

    def _check_capacity(
        self, client: SaladClient, inputs: Props, gpu_ids: list[str], *, olds: Props | None
    ) -> None:
        try:
            self._preflight.check(client, inputs, gpu_ids, olds=olds, say=_say)
        except PreflightFailed as refused:
            raise ContainerGroupError(str(refused)) from None

    def _outputs(
        self, client: SaladClient, inputs: Props, group: dict[str, Any], gpu_ids: list[str], ready: int
    ) -> Props:
        outputs = outputs_from_group(inputs, group, gpu_ids, ready)
        catalog = self._gpu_catalog(client, str(inputs["organization"])) if gpu_ids else []
        outputs["estimated_cost_per_hour"] = estimated_cost_per_hour(
            catalog, gpu_ids, inputs.get("priority"), int(inputs["replicas"])
        )
        return outputs

    def _smoke_test(self, inputs: Props, outputs: Props) -> None:
        if not inputs.get("smoke_test"):
            return
        if not outputs.get("url"):
            raise ContainerGroupError(
                f"{inputs['name']}: smoke_test needs the Container Gateway (gateway input)"
            )
        auth = bool((inputs.get("gateway") or {}).get("auth"))
        api_key = self._current_settings().api_key if auth else None
        try:
            smoke_test(self._smoke_url(str(outputs["url"])), api_key, timeout_seconds=SMOKE_SECONDS, say=_say)
        except SmokeTestFailed as failure:
            raise ContainerGroupError(f"{inputs['name']}: {failure}") from None

    def _smoke_url(self, url: str) -> str:
        """Where the smoke test sends its request: the gateway URL (tests point it at a local stand-in)."""
        return url

    def _remove_half_created(self, client: SaladClient, ref: GroupRef) -> str:
        try:
            client.delete_container_group(ref.organization, ref.project, ref.name)
            wait_until_gone(client, ref, timeout_seconds=DELETE_TIMEOUT_SECONDS, pacing=self._pacing())
        except (SaladApiError, WaitFailed) as error:
            return f"Deleting the half-created group also failed ({error}); delete it in the Salad portal."
        return "The group was deleted again so that nothing is left half-created."

    def _resolve_gpus(self, client: SaladClient, inputs: Props) -> list[str]:
        requested = list(inputs.get("gpu_classes") or [])
        if not requested:
            return []
        try:
            return resolve_gpu_classes(requested, self._gpu_catalog(client, inputs["organization"]))
        except ValueError as error:
            raise ContainerGroupError(f"gpu_classes: {error}") from None

    def _gpu_catalog(self, client: SaladClient, organization: str) -> list[dict[str, Any]]:
        with self._lock:
            cached = self._gpu_classes.get(organization)
        if cached is None:
            cached = client.list_gpu_classes(organization)
            with self._lock:
                self._gpu_classes[organization] = cached
        return cached

    def _client(self) -> SaladClient:
        settings = self._current_settings()
        if not settings.api_key:
            raise SettingsError(
                "no Salad API key: run `pulumi config set --secret salad:apiKey <key>` or set SALAD_API_KEY"
            )
        with self._lock:
            if self._salad is None:
                budget = shared_budget(settings.api_key, settings.requests_per_minute)
                self._salad = SaladClient(settings.api_key, settings.api_url, rate_budget=budget)
            return self._salad

    def _current_settings(self) -> ProviderSettings:
        if self._settings is None:
            self._settings = settings_from_config(lambda _key: None)
        return self._settings

    def _pacing(self) -> Pacing:
        poll_seconds = self._current_settings().poll_seconds
        return Pacing(first_poll_seconds=min(FIRST_POLL_SECONDS, poll_seconds), poll_seconds=poll_seconds)


def _without_provider(props: Props) -> Props:
    return {k: v for k, v in props.items() if k != PROVIDER_KEY}


def _ref(inputs: Props) -> GroupRef:
    return GroupRef(str(inputs["organization"]), str(inputs["project"]), str(inputs["name"]))


def _get_or_none(client: SaladClient, ref: GroupRef) -> dict[str, Any] | None:
    try:
        return client.get_container_group(ref.organization, ref.project, ref.name)
    except SaladApiError as error:
        if error.is_not_found:
            return None
        raise


def _say(line: str) -> None:
    # The engine shows a dynamic provider's stdout lines as diagnostics of the update.
    print(line, flush=True)
