"""OpenSSH's sshd on 127.0.0.1 with a generated host key and client key."""

from __future__ import annotations

import getpass
import logging
import os
import subprocess
from pathlib import Path
from typing import ClassVar

from testbed.services.binaries import require_binary
from testbed.services.errors import ServiceStartError
from testbed.services.network import port_accepts
from testbed.services.process import ProcessService

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 5.0
KEYGEN_TIMEOUT_S = 30.0
# sshd refuses to start without its privilege-separation directory.
PRIVSEP_DIR = Path("/run/sshd")

_CONFIG = """\
Port {port}
ListenAddress {host}
HostKey {dir}/ssh_host_ed25519_key
AuthorizedKeysFile {dir}/authorized_keys
PidFile {dir}/sshd.pid
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
LogLevel INFO
Subsystem sftp internal-sftp
"""


class SshServer(ProcessService):
    """sshd accepting the generated client key for the current user (``root`` here).

    Example::

        server = start_sshd(tmp_path)
        server.run("true").check_returncode()
    """

    name: ClassVar[str] = "sshd"
    ready_interval: ClassVar[float] = 0.1

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir, port)
        self.user = getpass.getuser()
        self.key_path = self.workdir / "client_ed25519_key"
        self.host_key_path = self.workdir / "ssh_host_ed25519_key"

    @property
    def config_path(self) -> Path:
        return self.workdir / "sshd_config"

    def prepare(self) -> None:
        keygen = require_binary(self.name, "ssh-keygen")
        for key in (self.host_key_path, self.key_path):
            if not key.exists():
                self._generate_key(keygen, key)
        (self.workdir / "authorized_keys").write_bytes(
            self.key_path.with_suffix(".pub").read_bytes()
        )
        self.config_path.write_text(
            _CONFIG.format(port=self.port, host=self.host, dir=self.workdir)
        )
        if os.geteuid() == 0:
            PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)

    def _generate_key(self, keygen: str, path: Path) -> None:
        result = subprocess.run(
            [keygen, "-q", "-t", "ed25519", "-N", "", "-C", "vigil-testbed", "-f", str(path)],
            capture_output=True,
            text=True,
            timeout=KEYGEN_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceStartError(
                self.name, f"ssh-keygen exited with status {result.returncode}", result.stderr
            )

    def command(self) -> list[str]:
        # sshd re-executes itself, so it insists on an absolute path (require_binary gives one).
        return [require_binary(self.name, "sshd"), "-D", "-e", "-f", str(self.config_path)]

    def ssh_command(self, *remote: str) -> list[str]:
        """The argv of an ``ssh`` client that logs in with the client key, non-interactively."""
        return [
            require_binary(self.name, "ssh"),
            "-p",
            str(self.port),
            "-i",
            str(self.key_path),
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            f"ConnectTimeout={int(PROBE_TIMEOUT_S)}",
            f"{self.user}@{self.host}",
            *remote,
        ]

    def run(
        self, command: str, timeout: float = PROBE_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` on the server over ssh; raises ``TimeoutExpired`` past ``timeout``."""
        return subprocess.run(
            self.ssh_command(command), capture_output=True, text=True, timeout=timeout, check=False
        )

    def is_ready(self) -> bool:
        # A cheap TCP check first: no ssh client spawned while sshd is not listening yet.
        if not port_accepts(self.host, self.port):
            return False
        try:
            return self.run("true").returncode == 0
        except subprocess.TimeoutExpired:
            return False


def start_sshd(workdir: Path, port: int | None = None, timeout: float | None = None) -> SshServer:
    """Generate keys (once), start sshd under ``workdir``, and return it ready."""
    return SshServer(workdir, port).start(timeout)
