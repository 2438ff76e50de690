"""The one exception type of the Salad API client, built from ProblemDetails, HTML or transport failures."""

from __future__ import annotations

import html
import json
import re
from typing import Any

_MAX_DETAIL = 500
_TAG = re.compile(r"<[^>]+>")
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)


class SaladApiError(Exception):
    """A failed call to SaladCloud's API.

    `status` is the HTTP status, or None when no answer arrived (connection dropped, timeout).
    `type`, `title` and `detail` come from the ProblemDetails body when Salad sent one; an HTML or
    plain-text body is reduced to readable text in `detail`.
    """

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status: int | None,
        title: str,
        detail: str = "",
        type_: str = "about:blank",
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        super().__init__(str(self))

    def __str__(self) -> str:
        answer = f"HTTP {self.status}" if self.status is not None else "no answer"
        text = f"Salad API {self.method} {self.path} failed ({answer}): {self.title}"
        if self.detail and self.detail != self.title:
            text += f": {self.detail}"
        if self.type not in ("", "about:blank"):
            text += f" [type {self.type}]"
        return text

    def __repr__(self) -> str:
        return f"SaladApiError({self})"

    @property
    def is_not_found(self) -> bool:
        return self.status == 404

    @property
    def is_name_conflict(self) -> bool:
        return self.status in (400, 409) and self.type.rsplit("/", 1)[-1] == "name_conflict"

    @property
    def is_transient(self) -> bool:
        """True when repeating the same call later may succeed."""
        return self.status is None or self.status in (408, 429, 500, 502, 503, 504)


def error_from_response(
    *, method: str, path: str, status: int, reason: str, content_type: str, body: bytes
) -> SaladApiError:
    """Build the error from an HTTP answer, whatever shape its body has."""
    problem = _problem_details(content_type, body)
    if problem is not None:
        return SaladApiError(
            method=method,
            path=path,
            status=status,
            title=_text(problem.get("title")) or reason,
            detail=_text(problem.get("detail")),
            type_=_text(problem.get("type")) or "about:blank",
        )
    return SaladApiError(method=method, path=path, status=status, title=reason, detail=readable_text(body))


def readable_text(body: bytes) -> str:
    """Reduce an HTML page or plain text to one short line a person can read."""
    text = body.decode("utf-8", errors="replace")
    title = _TITLE.search(text)
    if "<" in text and ">" in text:
        text = _TAG.sub(" ", _SCRIPT_OR_STYLE.sub(" ", text))
        if title:
            text = f"{_TAG.sub('', title.group(1))} {text.replace(title.group(1), '', 1)}"
    return _one_short_line(html.unescape(text))


def _problem_details(content_type: str, body: bytes) -> dict[str, Any] | None:
    if "json" not in content_type.lower() and not body.lstrip().startswith(b"{"):
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _text(value: object) -> str:
    return "" if value is None else _one_short_line(str(value))


def _one_short_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"
