"""moto's in-process AWS API server (``ThreadedMotoServer``) on 127.0.0.1."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, ClassVar, Self

from testbed.services.errors import ServiceStartError
from testbed.services.network import LOOPBACK, free_port, http_ok
from testbed.services.waiting import WaitTimeout, wait_until

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 15.0
CLIENT_TIMEOUT_S = 5.0
REGION = "us-east-1"
# moto accepts any credentials; fixed fake ones keep the host's real ones out of the way.
FAKE_ACCESS_KEY = "testing"
FAKE_SECRET_KEY = "testing"
ECS_RUNNING_ENV = "MOTO_ECS_SERVICE_RUNNING"


class MotoServer:
    """AWS APIs simulated by moto, served over real HTTP to real boto3 clients.

    moto's state lives in this Python process, so it outlives ``stop()``/``start()``::

        server = start_moto()
        server.client("sts").get_caller_identity()
    """

    name: ClassVar[str] = "moto"

    def __init__(self, port: int = 0) -> None:
        self.host = LOOPBACK
        self.port = port or free_port()
        self.startup_seconds: float | None = None
        self._server: Any = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def is_running(self) -> bool:
        return self._server is not None

    def start(self, timeout: float = START_TIMEOUT_S) -> Self:
        """Serve on the chosen port; return once it answers HTTP."""
        if self._server is not None:
            return self
        began = time.monotonic()
        from moto.server import ThreadedMotoServer  # costs about a second: only when used

        _quiet_request_log()

        server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        # start() waits without a limit for a bind that may fail: wait on it from outside.
        starter = threading.Thread(target=server.start, name="moto-start", daemon=True)
        starter.start()
        starter.join(timeout)
        if starter.is_alive():
            raise ServiceStartError(self.name, f"did not bind {self.address} in {timeout:.0f} s")
        self._server = server
        try:
            wait_until(
                lambda: http_ok(f"{self.endpoint_url}/moto-api/"),
                timeout,
                description="moto answering",
            )
        except WaitTimeout as error:
            self.stop()
            raise ServiceStartError(self.name, f"not answering on {self.address}") from error
        self.startup_seconds = time.monotonic() - began
        logger.info("moto ready on %s in %.2f s", self.address, self.startup_seconds)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def client(self, service_name: str, region_name: str = REGION) -> Any:
        """A boto3 client for ``service_name`` pointed at this server, with timeouts."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            service_name,
            endpoint_url=self.endpoint_url,
            region_name=region_name,
            aws_access_key_id=FAKE_ACCESS_KEY,
            aws_secret_access_key=FAKE_SECRET_KEY,
            config=Config(
                connect_timeout=CLIENT_TIMEOUT_S,
                read_timeout=CLIENT_TIMEOUT_S,
                retries={"max_attempts": 1},
            ),
        )

    @staticmethod
    @contextlib.contextmanager
    def ecs_running_count(count: int) -> Iterator[None]:
        """ECS services created inside the block report ``runningCount == count``.

        moto never derives ``runningCount`` from tasks; it reads this environment variable
        in ``create_service``. Below the desired count, the service looks degraded.
        """
        previous = os.environ.get(ECS_RUNNING_ENV)
        os.environ[ECS_RUNNING_ENV] = str(count)
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(ECS_RUNNING_ENV, None)
            else:
                os.environ[ECS_RUNNING_ENV] = previous

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _quiet_request_log() -> None:
    # werkzeug prints one stderr line per request unless its logger was configured.
    werkzeug_logger = logging.getLogger("werkzeug")
    if werkzeug_logger.level == logging.NOTSET:
        werkzeug_logger.setLevel(logging.WARNING)


def start_moto(port: int = 0, timeout: float = START_TIMEOUT_S) -> MotoServer:
    """Start moto's server on 127.0.0.1 (a free port when ``port`` is 0); return it ready."""
    return MotoServer(port).start(timeout)
