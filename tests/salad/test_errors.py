"""SaladApiError built from ProblemDetails, HTML pages and plain text."""

from __future__ import annotations

import json

from components.salad.errors import SaladApiError, error_from_response, readable_text


def build(status: int, body: bytes, content_type: str = "application/json") -> SaladApiError:
    return error_from_response(
        method="POST",
        path="/organizations/o/projects/p/containers",
        status=status,
        reason="Bad Request",
        content_type=content_type,
        body=body,
    )


def test_problem_details_fields() -> None:
    body = json.dumps({"type": "name_conflict", "title": "Conflict", "status": 400, "detail": "name taken"})
    error = build(400, body.encode())
    assert (error.status, error.type, error.title, error.detail) == (
        400,
        "name_conflict",
        "Conflict",
        "name taken",
    )
    assert error.is_name_conflict and not error.is_not_found
    assert str(error) == (
        "Salad API POST /organizations/o/projects/p/containers failed (HTTP 400): Conflict: name taken"
        " [type name_conflict]"
    )


def test_name_conflict_as_a_url_type() -> None:
    body = json.dumps({"type": "https://api.salad.com/problems/name_conflict", "title": "Conflict"})
    assert build(400, body.encode()).is_name_conflict


def test_html_page_reduced_to_its_text() -> None:
    page = (
        b"<html><head><title>502 Bad Gateway</title><style>body{color:red}</style></head>"
        b"<body><h1>502 Bad Gateway</h1><script>var x=1;</script><p>cloudflare &amp; nginx</p></body></html>"
    )
    error = build(502, page, "text/html")
    assert error.title == "Bad Request"
    assert error.detail.startswith("502 Bad Gateway")
    assert "cloudflare & nginx" in error.detail
    assert "<" not in error.detail and "color:red" not in error.detail and "var x" not in error.detail


def test_json_content_type_with_html_body_does_not_crash() -> None:
    error = build(500, b"<html>oops</html>", "application/json")
    assert error.detail == "oops"


def test_long_bodies_are_truncated() -> None:
    assert len(readable_text(b"x" * 10_000)) <= 500


def test_transport_error_has_no_status() -> None:
    error = SaladApiError(method="GET", path="/p", status=None, title="timed out")
    assert error.is_transient and "no answer" in str(error)
