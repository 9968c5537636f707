"""Locate the service binaries installed by ``scripts/install-services.sh``."""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil

from testbed.services.errors import ServiceStartError

INSTALL_HINT = "run scripts/install-services.sh as root"

# Daemons live in sbin, and Debian keeps postgres' server programs out of PATH entirely.
_EXTRA_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")
_POSTGRES_GLOB = "/usr/lib/postgresql/*/bin"
_POSTGRES_PROGRAMS = frozenset({"initdb", "postgres", "pg_ctl", "pg_isready"})

# The binaries each service needs; the Python-only ones need none.
SERVICE_BINARIES: dict[str, tuple[str, ...]] = {
    "postgres": ("initdb", "postgres"),
    "redis": ("redis-server",),
    "prometheus": ("prometheus",),
    "alertmanager": ("prometheus-alertmanager",),
    "pushgateway": ("prometheus-pushgateway",),
    "node_exporter": ("prometheus-node-exporter",),
    "blackbox_exporter": ("prometheus-blackbox-exporter",),
    "nginx": ("nginx",),
    "sshd": ("sshd", "ssh", "ssh-keygen"),
    "moto": (),
}


def _postgres_dirs() -> list[str]:
    # Newest major version first, so a machine with two clusters installed uses the newest.
    return sorted(glob.glob(_POSTGRES_GLOB), key=_major_version, reverse=True)


def _major_version(bin_dir: str) -> int:
    version = bin_dir.split(os.sep)[-2]
    return int(version) if version.isdigit() else 0


def find_binary(name: str) -> str | None:
    """Return the absolute path of ``name``, looking past PATH where Debian hides it."""
    search = [os.environ.get("PATH", ""), *_EXTRA_DIRS]
    if name in _POSTGRES_PROGRAMS:
        # The versioned directory first: a PATH symlink may point at another major version.
        search = [*_postgres_dirs(), *search]
    return shutil.which(name, path=os.pathsep.join(search))


def require_binary(service: str, name: str) -> str:
    """Return the path of ``name`` or raise ``ServiceStartError`` saying how to install it."""
    path = find_binary(name)
    if path is None:
        raise ServiceStartError(service, f"binary {name!r} not found; {INSTALL_HINT}")
    return path


def _moto_importable() -> bool:
    # find_spec, not import: importing moto.server costs about a second.
    return all(importlib.util.find_spec(module) is not None for module in ("moto", "flask"))


def which_available() -> dict[str, bool]:
    """Tell, for each testbed service, whether everything it needs is installed here."""
    available = {
        service: all(find_binary(binary) is not None for binary in binaries)
        for service, binaries in SERVICE_BINARIES.items()
    }
    available["moto"] = _moto_importable()
    return available
