"""Launchers for the real services that integration tests run against.

Each server is a plain process (or, for moto, a thread) on 127.0.0.1 and a free port,
owned by the test session, ready when its start function returns, and stoppable then
startable again on the same port. Install the binaries with scripts/install-services.sh.
"""

from __future__ import annotations

from testbed.services.alertmanager import AlertmanagerServer, start_alertmanager
from testbed.services.binaries import find_binary, which_available
from testbed.services.errors import ServiceRequestError, ServiceStartError
from testbed.services.exporters import (
    BlackboxExporterServer,
    NodeExporterServer,
    PushgatewayServer,
    start_blackbox_exporter,
    start_node_exporter,
    start_pushgateway,
)
from testbed.services.moto_server import MotoServer, start_moto
from testbed.services.network import free_port
from testbed.services.nginx import NginxServer, start_nginx_tls
from testbed.services.postgres import PostgresServer, start_postgres
from testbed.services.process import ProcessService
from testbed.services.prometheus import PrometheusServer, start_prometheus
from testbed.services.redis_server import RedisServer, start_redis
from testbed.services.sshd import SshServer, start_sshd
from testbed.services.stack import Service, ServiceStack
from testbed.services.tls import IssuedCertificate, TestCA

__all__ = [
    "AlertmanagerServer",
    "BlackboxExporterServer",
    "IssuedCertificate",
    "MotoServer",
    "NginxServer",
    "NodeExporterServer",
    "PostgresServer",
    "ProcessService",
    "PrometheusServer",
    "PushgatewayServer",
    "RedisServer",
    "Service",
    "ServiceRequestError",
    "ServiceStack",
    "ServiceStartError",
    "SshServer",
    "TestCA",
    "find_binary",
    "free_port",
    "start_alertmanager",
    "start_blackbox_exporter",
    "start_moto",
    "start_nginx_tls",
    "start_node_exporter",
    "start_postgres",
    "start_prometheus",
    "start_pushgateway",
    "start_redis",
    "start_sshd",
    "which_available",
]
