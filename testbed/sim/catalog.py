"""Every simulated service of the stack, by seed, under its one service name."""

from __future__ import annotations

import logging

from testbed.sim.loki import service as loki
from testbed.sim.service import SimContext, SimService
from testbed.sim.services import aegis, aegis_c, anomaly, aureus, observability

logger = logging.getLogger(__name__)


def build_services(ctx: SimContext) -> dict[str, SimService]:
    """Create every simulator, register them as each other's peers, return them by name."""
    services: list[SimService] = [
        *aegis_c.build(ctx),
        *aegis.build(ctx),
        *aureus.build(ctx),
        *anomaly.build(ctx),
        *observability.build(ctx),
        *loki.build(ctx),
    ]
    by_name = {service.name: service for service in services}
    if len(by_name) != len(services):
        raise ValueError("two simulators share a service name")
    ctx.peers.update(by_name)
    return by_name


SERVICE_NAMES = (
    "aegis-c-detector",
    "aegis-c-quarantine",
    "aegis-c-events",
    "aegis-c-hardware",
    "aegis-c-threat-intel",
    "aegis-c-fingerprint",
    "aegis-c-console",
    "aegis-backend",
    "aegis-ai-engine",
    "aegis-executor",
    "aegis-frontend",
    "aureus-api",
    "aureus-bridge",
    "aureus-os",
    "aureus-openclaw",
    "anomaly-detector",
    "prometheus",
    "grafana",
    "loki",
)
