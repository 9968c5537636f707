"""Poll a probe until it answers truthily, on a monotonic deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """The probe never answered truthily; carries the last value it returned."""

    def __init__(self, description: str, timeout: float, last: object) -> None:
        self.last = last
        super().__init__(f"{description}: not true after {timeout:.1f} s (last value: {last!r})")


def wait_until(
    probe: Callable[[], T],
    timeout: float,
    interval: float = 0.05,
    description: str = "condition",
) -> T:
    """Return the first truthy value of ``probe()``; raise ``WaitTimeout`` at the deadline.

    Exceptions raised by ``probe`` propagate, so a probe can abort the wait early::

        wait_until(lambda: server.is_ready(), timeout=5, description="redis PING")
    """
    deadline = time.monotonic() + timeout
    while True:
        last = probe()
        if last:
            return last
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(description, timeout, last)
        time.sleep(min(interval, remaining))
