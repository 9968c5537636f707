"""A real nginx serving HTTPS with a certificate from a throwaway CA (the demo's TLS endpoint).

``options.nginx.cert_days`` sets how long the served certificate stays valid (default 90;
5 gives one inside the renewal window, a negative number an expired one).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from testbed.demo import RunningTestbed, TestbedError


def start(spec: Mapping[str, Any], running: RunningTestbed) -> None:
    from testbed.services import ServiceStartError, TestCA, start_nginx_tls

    options = (spec.get("options") or {}).get("nginx", {})
    days = float(options.get("cert_days", 90))
    workdir = Path(tempfile.mkdtemp(prefix="vigil-nginx-"))
    ca = TestCA.create("Vigil Demo CA")
    certificate = ca.issue(not_after=datetime.now(UTC) + timedelta(days=days))
    try:
        server = start_nginx_tls(workdir, ca, certificate=certificate)
    except ServiceStartError as problem:
        shutil.rmtree(workdir, ignore_errors=True)
        raise TestbedError(
            f"nginx: {problem.reason} (setup: scripts/install-services.sh)"
        ) from None

    def stop() -> None:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    running.stoppers.append(stop)
    running.variables.update(
        {
            "NGINX_TLS_ADDRESS": server.address,
            "NGINX_URL": server.url,
            "NGINX_CA_FILE": str(server.ca_path),
            "NGINX_CONFIG": str(server.config_path),
            "NGINX_PREFIX": str(workdir),
        }
    )
