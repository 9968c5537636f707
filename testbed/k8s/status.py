"""``meta/v1 Status`` failure bodies, shaped as the real API server returns them."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "AlreadyExists",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

_DEFAULT_MESSAGES: dict[int, str] = {
    401: "Unauthorized",
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: simulated fault",
    503: "The server is currently unable to handle the request (simulated fault)",
    504: "Timeout: request did not complete within the allowed duration",
}


def failure_status(
    code: int,
    message: str | None = None,
    *,
    name: str | None = None,
    kind: str | None = None,
    group: str | None = None,
    retry_after_seconds: int | None = None,
) -> dict[str, Any]:
    """Return a ``Status`` object for an HTTP failure ``code``."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message or _DEFAULT_MESSAGES.get(code, REASONS.get(code, "Failure")),
        "reason": REASONS.get(code, "Unknown"),
        "code": code,
    }
    details: dict[str, Any] = {}
    if name is not None:
        details["name"] = name
    if group:
        details["group"] = group
    if kind is not None:
        details["kind"] = kind
    if retry_after_seconds is not None:
        details["retryAfterSeconds"] = retry_after_seconds
    if details:
        body["details"] = details
    return body


def not_found(plural: str, name: str, group: str = "") -> dict[str, Any]:
    """Return the 404 Status for a missing object (``pods "x" not found``)."""
    qualified = f"{plural}.{group}" if group else plural
    return failure_status(
        404, f'{qualified} "{name}" not found', name=name, kind=plural, group=group or None
    )
