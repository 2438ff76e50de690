"""The emulator's request handling as a plain function of (method, path, headers, body) -> Response.

No sockets here: `salad_api.py` wraps this in a threaded HTTP server and adds fault injection and the
request log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from tests.fakes.salad_catalog import gpu_classes
from tests.fakes.salad_model import Group
from tests.fakes.salad_rules import (
    validate_create,
    validate_merged,
    validate_patch,
    validate_patch_against,
)
from tests.fakes.salad_schema import NAME_PATTERN
from tests.fakes.salad_world import World

Json = Any
API_KEY_HEADER = "salad-api-key"
MERGE_PATCH = "application/merge-patch+json"
_ID_PARAMS = frozenset({"iid", "job_id"})  # uuids, not Salad names


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Json, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(payload).encode(), "application/json", dict(headers or {}))


def problem(status: int, detail: str, *, type_: str = "about:blank", title: str | None = None) -> Response:
    if len(detail) > 2000:
        detail = detail[:1997] + "..."
    payload = {"type": type_, "title": title or HTTPStatus(status).phrase, "status": status, "detail": detail}
    return json_response(status, payload)


def html_page(status: int) -> Response:
    """An error page like the ones Salad's edge (Cloudflare / nginx) serves instead of JSON."""
    phrase = HTTPStatus(status).phrase
    page = (
        f"<!DOCTYPE html>\n<html>\n<head><title>{status} {phrase}</title></head>\n<body>\n"
        f"<center><h1>{status} {phrase}</h1></center>\n<hr><center>cloudflare</center>\n</body>\n</html>\n"
    )
    return Response(status, page.encode(), "text/html; charset=utf-8")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


Params = dict[str, str]
Handler = Callable[["SaladApp", Params, "Request"], Response]


@dataclass
class Request:
    method: str
    path: str  # without prefix
    headers: dict[str, str]  # lower-case names
    raw: bytes
    now: float

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


_ORG = r"/organizations/(?P<org>[^/]+)"
_PROJ = _ORG + r"/projects/(?P<project>[^/]+)"
_GROUP = _PROJ + r"/containers/(?P<name>[^/]+)"


class SaladApp:
    """Routes, auth and the container-group operations over a `World`."""

    def __init__(self, world: World, api_key: str) -> None:
        self.world = world
        self.api_key = api_key
        self.reject_edits_while_pending = False
        self.routes = list(_ROUTES)  # salad_api adds the incident routes (salad_incident_routes.py)
        self.env_null_deletes = False  # accept {"NAME": null} in environment_variables (outside the spec)

    def auth_problem(self, headers: dict[str, str]) -> Response | None:
        """401 unless the (lower-cased) headers carry the right Salad-Api-Key."""
        if headers.get(API_KEY_HEADER) != self.api_key:
            return problem(401, "a valid Salad-Api-Key header is required", title="Unauthorized")
        return None

    def handle(self, req: Request) -> Response:
        denied = self.auth_problem(req.headers)
        if denied is not None:
            return denied
        for pattern, methods in self.routes:
            m = re.fullmatch(pattern, req.path)
            if m is None:
                continue
            params = m.groupdict()
            bad = [k for k, v in params.items() if k not in _ID_PARAMS and not re.fullmatch(NAME_PATTERN, v)]
            if bad:
                return problem(404, f"{bad[0]} {params[bad[0]]!r} not found")
            fn = methods.get(req.method)
            if fn is None:
                resp = problem(405, f"{req.method} is not allowed on {req.path}")
                resp.headers["Allow"] = ", ".join(sorted(methods))
                return resp
            with self.world.lock:
                return fn(self, params, req)
        return problem(404, f"no route for {req.path}")

    # --- helpers --------------------------------------------------------------------------------------------

    def _group(self, p: Params, now: float) -> Group | None:
        return self.world.find(p["org"], p["project"], p["name"], now)

    @staticmethod
    def _missing(p: Params) -> Response:
        return problem(404, f"container group {p['name']!r} was not found in project {p['project']!r}")

    def _gpu_ids(self) -> set[str]:
        return {str(g["id"]).lower() for g in gpu_classes()}

    @staticmethod
    def _parse(req: Request) -> tuple[Json, Response | None]:
        try:
            return json.loads(req.raw.decode("utf-8")), None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return None, problem(400, f"request body is not valid JSON: {exc}")

    # --- operations -----------------------------------------------------------------------------------------

    def list_groups(self, p: Params, req: Request) -> Response:
        groups = self.world.list_groups(p["org"], p["project"], req.now)
        return json_response(200, {"items": [self.world.render(g, req.now) for g in groups]})

    def create(self, p: Params, req: Request) -> Response:
        if media_type(req.content_type) != "application/json":
            return problem(415, f"Content-Type must be application/json, not {req.content_type!r}")
        body, err = self._parse(req)
        if err is not None:
            return err
        problems = validate_create(body, self._gpu_ids())
        if problems:
            return problem(400, "; ".join(problems), title="Validation Error")
        over = self.world.incidents.quota_problem(
            self.world.replicas_used(p["org"], req.now), body["replicas"]
        )
        if over is not None:
            return problem(403, over, title="Quota Exceeded")
        g = self.world.create(p["org"], p["project"], body, req.now)
        if g is None:
            detail = f"a container group named {body['name']!r} already exists in project {p['project']!r}"
            return problem(400, detail, type_="name_conflict", title="Name Conflict")
        location = f"/organizations/{g.org}/projects/{g.project}/containers/{g.name}"
        return json_response(201, self.world.render(g, req.now), {"Location": location})

    def get(self, p: Params, req: Request) -> Response:
        g = self._group(p, req.now)
        return self._missing(p) if g is None else json_response(200, self.world.render(g, req.now))

    def patch(self, p: Params, req: Request) -> Response:
        if media_type(req.content_type) != MERGE_PATCH:
            return problem(415, f"Content-Type must be {MERGE_PATCH}, not {req.content_type!r}")
        g = self._group(p, req.now)
        if g is None or g.gone_at is not None:
            return self._missing(p)
        body, err = self._parse(req)
        if err is not None:
            return err
        gpu_ids = self._gpu_ids()
        problems = validate_patch(body, gpu_ids, env_null_deletes=self.env_null_deletes)
        if not problems:
            problems = validate_patch_against(g.doc, body)
        if not problems:
            problems = validate_merged(self.world.merged(g.doc, body), gpu_ids)
        if problems:
            return problem(400, "; ".join(problems), title="Validation Error")
        if self.reject_edits_while_pending and body and self.world.status(g, req.now) == "pending":
            return problem(
                400, "the container group image is being prepared; edits are disabled until it is ready"
            )
        self.world.apply_patch(g, body, req.now)
        return json_response(200, self.world.render(g, req.now))

    def delete(self, p: Params, req: Request) -> Response:
        g = self._group(p, req.now)
        if g is None:
            return self._missing(p)
        self.world.delete(g, req.now)
        return Response(202)

    def start(self, p: Params, req: Request) -> Response:
        g = self._group(p, req.now)
        if g is None:
            return self._missing(p)
        why = self.world.start(g, req.now)
        return Response(202) if why is None else problem(400, why)

    def stop(self, p: Params, req: Request) -> Response:
        g = self._group(p, req.now)
        if g is None or g.gone_at is not None:
            return self._missing(p)
        self.world.stop(g, req.now)
        return Response(202)

    def instances(self, p: Params, req: Request) -> Response:
        g = self._group(p, req.now)
        if g is None:
            return self._missing(p)
        return json_response(200, {"instances": self.world.render_instances(g, req.now)})

    def instance(self, p: Params, req: Request) -> Response:
        g = self._group(p, req.now)
        if g is None:
            return self._missing(p)
        found = [i for i in self.world.render_instances(g, req.now) if i["id"] == p["iid"]]
        if not found:
            return problem(404, f"instance {p['iid']!r} was not found")
        return json_response(200, found[0])

    def gpu_classes(self, p: Params, req: Request) -> Response:
        return json_response(200, {"items": gpu_classes()})

    def quotas(self, p: Params, req: Request) -> Response:
        used = self.world.replicas_used(p["org"], req.now)
        quotas = {
            "container_replicas_quota": self.world.incidents.replicas_quota,
            "container_replicas_used": used,
            "max_container_group_reallocations_per_minute": self.world.incidents.actions_per_minute,
            "max_container_group_recreates_per_minute": self.world.incidents.actions_per_minute,
            "max_container_group_restarts_per_minute": self.world.incidents.actions_per_minute,
        }
        return json_response(200, {"container_groups_quotas": quotas})


_ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (_PROJ + "/containers", {"GET": SaladApp.list_groups, "POST": SaladApp.create}),
    (_GROUP, {"GET": SaladApp.get, "PATCH": SaladApp.patch, "DELETE": SaladApp.delete}),
    (_GROUP + "/start", {"POST": SaladApp.start}),
    (_GROUP + "/stop", {"POST": SaladApp.stop}),
    (_GROUP + "/instances", {"GET": SaladApp.instances}),
    (_GROUP + r"/instances/(?P<iid>[^/]+)", {"GET": SaladApp.instance}),
    (_ORG + "/gpu-classes", {"GET": SaladApp.gpu_classes}),
    (_ORG + "/quotas", {"GET": SaladApp.quotas}),
]
