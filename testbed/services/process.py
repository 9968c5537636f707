"""A daemon owned through ``subprocess.Popen``: start, wait until ready, stop, restart."""

from __future__ import annotations

import abc
import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, ClassVar, Self

from testbed.services.errors import ServiceStartError
from testbed.services.network import LOOPBACK, free_port
from testbed.services.waiting import WaitTimeout, wait_until

logger = logging.getLogger(__name__)

LOG_TAIL_LINES = 20


class ProcessService(abc.ABC):
    """One server process on ``127.0.0.1:port`` that can be stopped and started again.

    The port is chosen once, so ``stop()`` then ``start()`` brings the server back where
    clients expect it: tests use that for "server stopped mid-session" faults::

        server = RedisServer(workdir).start()
        server.stop()   # clients now see connection refused
        server.start()  # same host and port again
    """

    name: ClassVar[str]
    # The signal that shuts the server down promptly without waiting on its clients.
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    ready_timeout: ClassVar[float] = 20.0
    ready_interval: ClassVar[float] = 0.05

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.host = LOOPBACK
        self.port = port if port is not None else free_port()
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def address(self) -> str:
        """``host:port``, as scrape configs and probes want it."""
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def run_as(self) -> str | None:
        """The user to run the server as, when it must not run as the current one."""
        return None

    def prepare(self) -> None:  # noqa: B027 - optional hook, most servers need no setup
        """Write configuration and data files; runs before every start."""

    @abc.abstractmethod
    def command(self) -> list[str]:
        """The argv that runs the server in the foreground."""

    @abc.abstractmethod
    def is_ready(self) -> bool:
        """Probe the server through its own protocol, with a short timeout."""

    def start(self, timeout: float | None = None) -> Self:
        """Start the server and return once it is ready; a running server is left as is."""
        if self.is_running:
            return self
        began = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        argv = self.command()
        self._spawn(argv)
        try:
            self._wait_ready(timeout if timeout is not None else self.ready_timeout)
        except ServiceStartError:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        logger.info("%s ready on %s in %.2f s", self.name, self.address, self.startup_seconds)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Signal the server, wait for it, and kill its process group if it lingers."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(self.stop_signal)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "%s ignored %s for %.0f s; killing it",
                    self.name,
                    self.stop_signal.name,
                    timeout,
                )
                self._kill_group(process)
                process.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self, timeout: float | None = None) -> Self:
        """Stop, then start again on the same port."""
        self.stop()
        return self.start(timeout)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the server's log, or ``""`` when there is none yet."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - 16_384))
                text = log.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, argv: list[str]) -> None:
        self._log = self.log_path.open("ab")
        user = self.run_as if os.geteuid() == 0 else None
        try:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                # Its own session: terminal signals miss it and its workers share one group.
                start_new_session=True,
                user=user,
                group=user,
                extra_groups=[] if user is not None else None,
            )
        except OSError as error:
            self._log.close()
            self._log = None
            raise ServiceStartError(
                self.name, f"cannot run {argv[0]}: {error.strerror}", self.log_tail()
            ) from error

    def _wait_ready(self, timeout: float) -> None:
        def ready_or_exited() -> bool:
            self._raise_if_exited()
            # A probe can outlast the exit it failed on: look again before reporting.
            ready = self.is_ready()
            if not ready:
                self._raise_if_exited()
            return ready

        try:
            wait_until(ready_or_exited, timeout, self.ready_interval, f"{self.name} ready")
        except WaitTimeout as error:
            raise ServiceStartError(
                self.name, f"not ready on {self.address} after {timeout:.1f} s", self.log_tail()
            ) from error

    def _raise_if_exited(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            status = process.returncode if process is not None else None
            raise ServiceStartError(
                self.name, f"exited with status {status} before it was ready", self.log_tail()
            )

    def _kill_group(self, process: subprocess.Popen[bytes]) -> None:
        # The server leads its own session, so its group holds only it and its workers.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            logger.debug("%s process group already gone", self.name)
