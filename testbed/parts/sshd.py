"""A real OpenSSH sshd on loopback with a client key: the demo's SSH-reached host."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from testbed.demo import RunningTestbed, TestbedError


def start(spec: Mapping[str, Any], running: RunningTestbed) -> None:
    from testbed.services import ServiceStartError, start_sshd

    workdir = Path(tempfile.mkdtemp(prefix="vigil-sshd-"))
    try:
        server = start_sshd(workdir)
    except ServiceStartError as problem:
        shutil.rmtree(workdir, ignore_errors=True)
        raise TestbedError(f"sshd: {problem.reason} (setup: scripts/install-services.sh)") from None

    def stop() -> None:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    running.stoppers.append(stop)
    running.variables.update(
        {
            "SSHD_HOST": server.host,
            "SSHD_PORT": str(server.port),
            "SSHD_USER": server.user,
            "SSHD_KEY_FILE": str(server.key_path),
        }
    )
