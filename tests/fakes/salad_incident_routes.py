"""Emulator routes for what goes wrong: system logs, log entries, GPU availability, instance actions.

Appended to `salad_http._ROUTES`; the behaviour lives in `salad_incidents.py`.
"""

from __future__ import annotations

from datetime import datetime

from tests.fakes.salad_http import (
    _GROUP,
    _ORG,
    Handler,
    Params,
    Request,
    Response,
    SaladApp,
    json_response,
    media_type,
    problem,
)
from tests.fakes.salad_rules import validate_body
from tests.fakes.salad_schema import COUNTRY_CODE, array, enum, gpu_class_id, integer, obj, string

# LogEntryQuery and GpuAvailabilityPrototype, transcribed from the official spec.
LOG_ENTRY_QUERY = obj(
    {
        "start_time": string(1, 64),
        "end_time": string(1, 64),
        "query": string(0, 20000),
        "page_size": integer(1, 100),
        "sort_order": enum("asc", "desc"),
    },
    ("end_time", "query", "start_time"),
)
GPU_AVAILABILITY = obj(
    {
        "gpu_classes": array(gpu_class_id(), 1, 100),
        "country_codes": array(COUNTRY_CODE, 0, 500),
        "cpu": integer(-(2**31), 2**31 - 1, nullable=True),
        "memory": integer(-(2**63), 2**63 - 1, nullable=True),
        "storage_amount": integer(-(2**63), 2**63 - 1, nullable=True),
    },
    ("gpu_classes",),
)


def system_logs(app: SaladApp, p: Params, req: Request) -> Response:
    g = app.world.find(p["org"], p["project"], p["name"], req.now)
    if g is None:
        return app._missing(p)
    return json_response(200, {"items": app.world.incidents.system_logs(g, req.now, app.world.iso)})


def log_entries(app: SaladApp, p: Params, req: Request) -> Response:
    body, err = _json_body(app, req)
    if err is not None:
        return err
    problems = validate_body(LOG_ENTRY_QUERY, body, ())
    for key in ("start_time", "end_time"):
        if not problems and not _is_datetime(body[key]):
            problems.append(f"{key} must be an RFC 3339 date-time")
    if problems:
        return problem(400, "; ".join(problems), title="Validation Error")
    groups = [g for key, g in app.world._groups.items() if key[0] == p["org"]]
    items = app.world.incidents.log_entries(p["org"], groups, body["query"], req.now, app.world.iso)
    items.sort(key=lambda item: item["time"], reverse=body.get("sort_order", "desc") == "desc")
    items = items[: int(body.get("page_size", 100))]
    now = app.world.iso(req.now)
    return json_response(
        200,
        {
            "items": items,
            "organization_name": p["org"],
            "page_min_time": body["start_time"],
            "page_max_time": now,
        },
    )


def gpu_availability(app: SaladApp, p: Params, req: Request) -> Response:
    body, err = _json_body(app, req)
    if err is not None:
        return err
    problems = validate_body(GPU_AVAILABILITY, body, app._gpu_ids())
    if problems:
        return problem(400, "; ".join(problems), title="Validation Error")
    return json_response(200, app.world.incidents.gpu_availability())


def _action(action: str) -> Handler:
    def handle(app: SaladApp, p: Params, req: Request) -> Response:
        g = app.world.find(p["org"], p["project"], p["name"], req.now)
        if g is None:
            return app._missing(p)
        found = [i for i in g.instances if i.id == p["iid"] and i.state(req.now) is not None]
        if not found:
            return problem(404, f"instance {p['iid']!r} was not found")
        why = app.world.incidents.act(g, found[0], action, req.now, app.world.timings)
        return Response(202) if why is None else problem(429, why, title="Too Many Requests")

    return handle


def _json_body(app: SaladApp, req: Request) -> tuple[object, Response | None]:
    if media_type(req.content_type) != "application/json":
        return None, problem(415, f"Content-Type must be application/json, not {req.content_type!r}")
    return app._parse(req)


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


_INSTANCE = _GROUP + r"/instances/(?P<iid>[^/]+)"
ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (_GROUP + "/system-logs", {"GET": system_logs}),
    (_ORG + "/log-entries", {"POST": log_entries}),
    (_ORG + "/availability/sce-gpu-availability", {"POST": gpu_availability}),
    *(
        (f"{_INSTANCE}/{action}", {"POST": _action(action)})
        for action in ("reallocate", "recreate", "restart")
    ),
]
