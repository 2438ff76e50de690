"""URL paths of Salad's public API, each caller-given segment percent-encoded."""

from __future__ import annotations

from urllib.parse import quote


def segment(value: str) -> str:
    return quote(value, safe="")


def organization_path(organization: str) -> str:
    return f"/organizations/{segment(organization)}"


def project_path(organization: str, project: str) -> str:
    return f"{organization_path(organization)}/projects/{segment(project)}"


def group_path(organization: str, project: str, name: str) -> str:
    return f"{project_path(organization, project)}/containers/{segment(name)}"


def queues_path(organization: str, project: str) -> str:
    return f"{project_path(organization, project)}/queues"


def queue_path(organization: str, project: str, name: str) -> str:
    return f"{queues_path(organization, project)}/{segment(name)}"
