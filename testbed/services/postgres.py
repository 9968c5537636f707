"""PostgreSQL as a plain process: initdb as ``postgres``, trust auth on loopback, fsync off."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import psycopg

from testbed.services.binaries import require_binary
from testbed.services.errors import ServiceStartError
from testbed.services.process import ProcessService

logger = logging.getLogger(__name__)

POSTGRES_USER = "postgres"
CONNECT_TIMEOUT_S = 2
INITDB_TIMEOUT_S = 60.0
INITDB_OPTIONS = ("-A", "trust", "-U", POSTGRES_USER, "-E", "UTF8", "--locale=C", "--no-sync")
# Throwaway data: durability settings off make start, writes and shutdown fast.
SERVER_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")

Connection = psycopg.Connection[tuple[object, ...]]


class PostgresServer(ProcessService):
    """A throwaway PostgreSQL cluster on 127.0.0.1, superuser ``postgres``, no password.

    Run as root, the cluster's files live in ``/tmp/vigil-postgres-*`` (linked from
    ``workdir/data``) and are removed when Python exits: the ``postgres`` user cannot
    reach pytest's temp dirs, which pytest re-locks to 0700 whenever a session starts.

    Example::

        server = start_postgres(tmp_path, max_connections=10)
        with psycopg.connect(server.dsn) as conn:
            conn.execute("select 1")
    """

    name: ClassVar[str] = "postgres"
    # SIGTERM is a "smart" shutdown that waits for every client; SIGINT disconnects them.
    stop_signal: ClassVar[signal.Signals] = signal.SIGINT

    def __init__(
        self, workdir: Path, port: int | None = None, max_connections: int | None = None
    ) -> None:
        super().__init__(workdir, port)
        self.max_connections = max_connections
        self._data_dir: Path | None = None

    @property
    def data_dir(self) -> Path:
        if self._data_dir is None:
            self._data_dir = _new_data_dir(self.workdir)
        return self._data_dir

    @property
    def dsn(self) -> str:
        return (
            f"host={self.host} port={self.port} user={POSTGRES_USER} dbname=postgres "
            f"connect_timeout={CONNECT_TIMEOUT_S}"
        )

    @property
    def run_as(self) -> str | None:
        # postgres refuses to run as root.
        return POSTGRES_USER

    def prepare(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        argv = [require_binary(self.name, "initdb"), "-D", str(self.data_dir), *INITDB_OPTIONS]
        user = POSTGRES_USER if os.geteuid() == 0 else None
        try:
            result = subprocess.run(
                argv,
                cwd=self.data_dir.parent,
                capture_output=True,
                text=True,
                timeout=INITDB_TIMEOUT_S,
                user=user,
                group=user,
                extra_groups=[] if user else None,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            reason = f"initdb took over {INITDB_TIMEOUT_S:.0f} s"
            raise ServiceStartError(self.name, reason) from error
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
            reason = f"initdb exited with status {result.returncode}"
            raise ServiceStartError(self.name, reason, tail)

    def command(self) -> list[str]:
        settings = [
            f"port={self.port}",
            f"listen_addresses={self.host}",
            # TCP only: a socket path under a deep temp dir can exceed the 107-byte limit.
            "unix_socket_directories=",
            *SERVER_SETTINGS,
        ]
        if self.max_connections is not None:
            settings.append(f"max_connections={self.max_connections}")
        argv = [require_binary(self.name, "postgres"), "-D", str(self.data_dir)]
        for setting in settings:
            argv += ["-c", setting]
        return argv

    def is_ready(self) -> bool:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                conn.execute("select 1")
        except psycopg.OperationalError:
            return False
        return True

    @contextlib.contextmanager
    def fill_connections(self, count: int) -> Iterator[list[Connection]]:
        """Hold ``count`` idle connections open for the duration of the ``with`` block.

        With ``count == max_connections`` the next client gets "too many clients already"::

            with server.fill_connections(server.max_connections):
                ...  # the check under test should now report exhaustion
        """
        connections: list[Connection] = []
        try:
            for _ in range(count):
                connections.append(psycopg.connect(self.dsn, autocommit=True))
            yield connections
        finally:
            for conn in connections:
                conn.close()


def _new_data_dir(workdir: Path) -> Path:
    """Choose where the cluster lives: under ``workdir`` unless postgres could not reach it."""
    workdir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return workdir / "data"
    account = pwd.getpwnam(POSTGRES_USER)
    # mkdtemp in /tmp (mode 1777): every ancestor is searchable by the postgres user.
    home = Path(tempfile.mkdtemp(prefix="vigil-postgres-"))
    os.chown(home, account.pw_uid, account.pw_gid)
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    data_dir = home / "data"
    link = workdir / "data"
    if not link.exists() and not link.is_symlink():
        link.symlink_to(data_dir, target_is_directory=True)
    logger.debug("postgres data for %s lives in %s", workdir, data_dir)
    return data_dir


def start_postgres(
    workdir: Path,
    port: int | None = None,
    max_connections: int | None = None,
    timeout: float | None = None,
) -> PostgresServer:
    """Initialise (once) and start PostgreSQL under ``workdir``; return it ready."""
    return PostgresServer(workdir, port, max_connections).start(timeout)
