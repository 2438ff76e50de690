"""The dynamic provider of `ContainerGroup`: orchestration only (the rules live in the pure modules).

check and diff are pure and make no call. create posts, starts if needed and waits until instances
serve; update waits while Salad prepares an image, sends the spec-valid merge-patches of what changed
(usually one), reads back what Salad kept, and waits as the kind of edit needs (update_kind.py); every
update ends by comparing the live group with the stack. read refreshes from Salad; delete deletes and
waits until the group is gone. The API key comes from `configure` and is never pickled.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    UpdateResult,
)

from components.container_group.diff_rules import diff_inputs
from components.container_group.gpu_classes import (
    estimated_cost_per_hour,
    gpu_names_by_id,
    resolve_gpu_classes,
)
from components.container_group.outputs import inputs_from_group, outputs_from_group, stale_environment
from components.container_group.preflight import Preflight, PreflightFailed
from components.container_group.provider_base import SaladResourceProvider
from components.container_group.queue_mode import (
    queue_name,
    ready_target,
    replica_range,
    waits_for_deploy_only,
)
from components.container_group.readiness import count_ready
from components.container_group.request_body import create_body, env_removal_patch, patch_steps
from components.container_group.settings import (
    FIRST_POLL_SECONDS,
)
from components.container_group.update_kind import UpdateKind, classify_all
from components.container_group.validation import check_inputs
from components.container_group.waiting import (
    GroupRef,
    Pacing,
    Serving,
    StayedStopped,
    Target,
    WaitFailed,
    is_pending,
    wait_until_editable,
    wait_until_gone,
    wait_until_serving,
)
from components.container_group.waiting_events import EventWatch
from components.salad.client import SaladClient
from components.salad.errors import SaladApiError
from components.txt2img.queue_client import PollPolicy, QueueTarget
from components.txt2img.smoke_test import SmokeTestFailed, queue_smoke_test, smoke_test

PROVIDER_KEY = "__provider"
DELETE_TIMEOUT_SECONDS = 600.0
CREATE_ATTEMPTS = 3
SMOKE_SECONDS = 600.0  # the gateway may answer 403/503 for minutes right after a deploy

Props = dict[str, Any]


class ContainerGroupError(Exception):
    """A deployment step failed in a way the user must act on; the message says how."""


class ContainerGroupProvider(SaladResourceProvider):
    """Moves a Salad container group to the declared inputs with the smallest safe change."""

    def __init__(self) -> None:
        super().__init__()
        self._gpu_classes: dict[str, list[dict[str, Any]]] = {}
        self._preflight = Preflight()

    # pure steps

    def check(self, _olds: Props, news: Props) -> CheckResult:
        inputs, failures = check_inputs(self._with_location(news))
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
        group, ours, target = self._create_or_adopt(client, ref, inputs, gpu_ids)
        try:
            serving = self._wait_serving(client, ref, inputs, target)
            self._require_applied(client, ref, serving.group, inputs)
            outputs = self._outputs(client, inputs, serving.group, gpu_ids, serving.ready)
            self._smoke_test(inputs, outputs)
        except (WaitFailed, SaladApiError, ContainerGroupError) as failure:
            # A group Salad keeps stopped may be fine: never delete it because a start was refused.
            if isinstance(failure, StayedStopped):
                raise ContainerGroupError(str(failure)) from None
            if not ours:
                raise
            raise ContainerGroupError(f"{failure} {self._remove_half_created(client, ref)}") from None
        return CreateResult(group["id"], outputs)

    def update(self, _id: str, olds: Props, news: Props) -> UpdateResult:
        inputs = _without_provider(news)
        client, ref = self._client(), _ref(inputs)
        gpu_ids = self._resolve_gpus(client, inputs)
        steps = patch_steps(_without_provider(olds), inputs, gpu_ids)
        if steps:
            self._check_capacity(client, inputs, gpu_ids, olds=_without_provider(olds))
        target = self._apply(client, ref, inputs, steps) if steps else Target(ready_target(inputs))
        serving = self._wait_serving(client, ref, inputs, target)
        self._require_applied(client, ref, serving.group, inputs)
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
    ) -> tuple[dict[str, Any], bool, Target]:
        """POST the group, resolving ambiguous answers; returns (group, created by this call, wait target)."""
        target = Target(ready_target(inputs))
        if inputs.get("adopt"):
            existing = _get_or_none(client, ref)
            if existing is not None:
                _say(f"{ref.name}: adopting the existing container group (adopt: true)")
                return existing, False, self._converge(client, ref, existing, inputs, gpu_ids)
        body = create_body(inputs, gpu_ids)
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                return client.create_container_group(ref.organization, ref.project, body), True, target
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
                return existing, not error.is_name_conflict, target
        raise AssertionError("unreachable")

    def _require_same_spec(
        self, client: SaladClient, ref: GroupRef, group: dict[str, Any], inputs: Props
    ) -> None:
        fields = self._differences(client, ref, group, inputs)
        if fields:
            raise ContainerGroupError(
                f"a container group named {ref.name!r} already exists in {ref.organization}/{ref.project} "
                f"and differs from this stack in: {', '.join(fields)}. Set adopt: true to take it over (it "
                "is then patched to this spec), delete it in the Salad portal, or choose another name."
            )

    def _converge(
        self, client: SaladClient, ref: GroupRef, group: dict[str, Any], inputs: Props, gpu_ids: list[str]
    ) -> Target:
        live = self._live_inputs(client, ref, group, inputs)
        difference = diff_inputs(live, inputs)
        if difference.replaces:
            raise ContainerGroupError(
                f"cannot adopt {ref.name!r}: it differs in {', '.join(difference.replaces)}, which Salad "
                "cannot change in place. Delete the group in the Salad portal or align these settings first."
            )
        steps = patch_steps(live, inputs, gpu_ids)
        return self._apply(client, ref, inputs, steps) if steps else Target(ready_target(inputs))

    def _apply(self, client: SaladClient, ref: GroupRef, inputs: Props, steps: list[Props]) -> Target:
        """Send the update's PATCHes (each once the group is editable) and say what the wait must see.

        The version to beat is read from Salad before the last PATCH: Salad may bump it only after image
        preparation, so the PATCH answer alone cannot be trusted.
        """
        sent: list[Props] = []
        group: dict[str, Any] = {}
        version_before = 0
        for step in steps:
            version_before = int(self._editable(client, ref, inputs)["version"])
            group = self._patch(client, ref, inputs, step)
            sent.append(step)
        stale = stale_environment(group, inputs)
        if stale:
            version_before = int(self._editable(client, ref, inputs)["version"])
            self._remove_environment(client, ref, inputs, stale)
            sent.append(env_removal_patch(stale))
        want = ready_target(inputs)
        kind = classify_all(sent)
        if kind is UpdateKind.VERSIONED:
            return Target(want, newer_than=version_before)
        return Target(want, settle=kind is UpdateKind.HARDWARE)

    def _editable(self, client: SaladClient, ref: GroupRef, inputs: Props) -> dict[str, Any]:
        try:
            return wait_until_editable(
                client, ref, timeout_seconds=_timeout_seconds(inputs), pacing=self._pacing(), say=_say
            )
        except SaladApiError as error:
            if error.is_not_found:
                raise _deleted_outside(ref) from None
            raise

    def _patch(self, client: SaladClient, ref: GroupRef, inputs: Props, body: Props) -> dict[str, Any]:
        try:
            return client.update_container_group(ref.organization, ref.project, ref.name, body)
        except SaladApiError as error:
            if error.is_not_found:
                raise _deleted_outside(ref) from None
            now = _get_or_none(client, ref)
            if error.status != 400 or now is None or not is_pending(now):
                raise
            # Refused because image preparation began meanwhile: once editable, try once more.
            self._editable(client, ref, inputs)
            return client.update_container_group(ref.organization, ref.project, ref.name, body)

    def _remove_environment(
        self, client: SaladClient, ref: GroupRef, inputs: Props, stale: list[str]
    ) -> None:
        """Salad merged the environment map instead of replacing it: try RFC 7386's removal once."""
        names = ", ".join(stale)
        advice = (
            f"Remove {names} in the Salad portal (Edit, Environment Variables) or give them a value in this "
            "stack, then run `pulumi up` again."
        )
        try:
            group = client.update_container_group(
                ref.organization, ref.project, ref.name, env_removal_patch(stale)
            )
        except SaladApiError as error:
            if error.status != 400:
                raise
            raise ContainerGroupError(
                f"{ref.name}: Salad kept environment variable(s) {names} that this stack removed: it merged "
                f"the map sent instead of replacing it, and refused the RFC 7386 removal ({error}). {advice}"
            ) from None
        left = stale_environment(group, inputs)
        if left:
            raise ContainerGroupError(
                f"{ref.name}: Salad still has environment variable(s) {', '.join(left)} that this stack "
                f"removed. {advice}"
            )

    def _require_applied(
        self, client: SaladClient, ref: GroupRef, group: dict[str, Any], inputs: Props
    ) -> None:
        """A group left different from the stack is an error, never a success."""
        fields = self._differences(client, ref, group, inputs)
        if fields:
            raise ContainerGroupError(
                f"{ref.name}: Salad accepted the update but the group differs from this stack in: "
                f"{', '.join(fields)}. Check the group in the Salad portal, then run `pulumi refresh` and "
                "`pulumi up` again."
            )

    def _differences(
        self, client: SaladClient, ref: GroupRef, group: dict[str, Any], inputs: Props
    ) -> list[str]:
        """The input keys in which the live `group` differs from `inputs`."""
        difference = diff_inputs(self._live_inputs(client, ref, group, inputs), inputs)
        return sorted(set(difference.changed) | set(difference.replaces))

    def _live_inputs(self, client: SaladClient, ref: GroupRef, group: dict[str, Any], inputs: Props) -> Props:
        names = gpu_names_by_id(self._gpu_catalog(client, ref.organization))
        return inputs_from_group(group, inputs, names)

    def _wait_serving(self, client: SaladClient, ref: GroupRef, inputs: Props, target: Target) -> Serving:
        if waits_for_deploy_only(inputs):
            # min_replicas 0: instances come with jobs, so "serving" is the group deployed.
            target = Target(0, until_deployed=True)
        return wait_until_serving(
            client,
            ref,
            target=target,
            timeout_seconds=_timeout_seconds(inputs),
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
        scaled = replica_range(inputs)
        if scaled is None:
            outputs["estimated_cost_per_hour"] = estimated_cost_per_hour(
                catalog, gpu_ids, inputs.get("priority"), int(inputs["replicas"])
            )
        else:  # queue mode: from min to max replicas
            low, high = (estimated_cost_per_hour(catalog, gpu_ids, inputs.get("priority"), n) for n in scaled)
            outputs["estimated_cost_per_hour"] = None if high is None else {"min": low, "max": high}
        return outputs

    def _smoke_test(self, inputs: Props, outputs: Props) -> None:
        if not inputs.get("smoke_test"):
            return
        queue = queue_name(inputs)
        if queue is not None:
            self._queue_smoke_test(inputs, queue)
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

    def _queue_smoke_test(self, inputs: Props, queue: str) -> None:
        scaled = replica_range(inputs)
        target = QueueTarget(str(inputs["organization"]), str(inputs["project"]), queue)
        try:
            queue_smoke_test(
                self._client(),
                target,
                cold_start=scaled is not None and scaled[0] == 0,
                timeout_seconds=float(inputs["ready_timeout_minutes"]) * 60,
                say=_say,
                policy=self._job_polling(),
            )
        except SmokeTestFailed as failure:
            raise ContainerGroupError(f"{inputs['name']}: {failure}") from None

    def _job_polling(self) -> PollPolicy:
        """How the queue smoke test polls its job: from the first poll interval up to pollSeconds."""
        pacing = self._pacing()
        return PollPolicy(
            first_interval=pacing.first_poll_seconds,
            max_interval=max(pacing.poll_seconds, pacing.first_poll_seconds),
            clock=pacing.clock,
            sleep=pacing.sleep,
        )

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

    def _pacing(self) -> Pacing:
        poll_seconds = self._current_settings().poll_seconds
        return Pacing(first_poll_seconds=min(FIRST_POLL_SECONDS, poll_seconds), poll_seconds=poll_seconds)


def _without_provider(props: Props) -> Props:
    return {k: v for k, v in props.items() if k != PROVIDER_KEY}


def _deleted_outside(ref: GroupRef) -> ContainerGroupError:
    return ContainerGroupError(
        f"{ref.name}: the group no longer exists in Salad (deleted outside Pulumi). "
        "Run `pulumi refresh` to drop it from the state, then `pulumi up` to create it again."
    )


def _timeout_seconds(inputs: Props) -> float:
    return float(inputs["ready_timeout_minutes"]) * 60


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
