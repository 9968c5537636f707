"""The one error a testbed service raises when it cannot be started."""

from __future__ import annotations


class ServiceStartError(RuntimeError):
    """A service's binary is missing, it exited early, or it did not get ready in time.

    ``str(error)`` is a one-line reason followed by the tail of the service's log.
    """

    def __init__(self, service: str, reason: str, log_tail: str = "") -> None:
        self.service = service
        self.reason = reason
        self.log_tail = log_tail
        message = f"{service}: {reason}"
        if log_tail:
            message += f"\n--- last lines of the {service} log ---\n{log_tail}"
        super().__init__(message)


class ServiceRequestError(RuntimeError):
    """A running testbed service answered a helper's API call with an error status."""

    def __init__(self, service: str, what: str, status: int, body: str) -> None:
        self.service = service
        self.status = status
        super().__init__(f"{service}: {what} answered {status}: {body[:200]}")
