"""Run the simulator stack in the foreground: ``python -m testbed.sim [--fault ...]``."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from testbed.sim.faults import FAULT_KINDS
from testbed.sim.stack import start_stack

logger = logging.getLogger("testbed.sim")


def _fault(text: str) -> tuple[str, dict[str, Any]]:
    """``SERVICE:KIND`` or ``SERVICE:KIND:{json params}``."""
    service, _, rest = text.partition(":")
    kind, _, raw = rest.partition(":")
    if not service or kind not in FAULT_KINDS:
        raise argparse.ArgumentTypeError(f"expected SERVICE:KIND[:JSON], got {text!r}")
    try:
        params = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"fault params must be JSON: {exc}") from None
    return service, {"kind": kind, "params": params}


def _port(text: str) -> tuple[str, int]:
    service, _, port = text.partition("=")
    if not service or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected SERVICE=PORT, got {text!r}")
    return service, int(port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.sim", description=__doc__)
    parser.add_argument("--api-key", default="demo-key", help="API key/admin token (demo-key)")
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        help="initial fault, e.g. anomaly-detector:stalled or "
        'aegis-c-hardware:metric:{"name":"temperature_c","value":92}',
    )
    parser.add_argument(
        "--port",
        type=_port,
        action="append",
        default=[],
        help="fixed port for a service (or 'control'), e.g. loki=3100",
    )
    parser.add_argument(
        "--env-file", type=Path, help="write VIGIL_SIM_<SERVICE>_URL=... lines to this file"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    faults: dict[str, list[dict[str, Any]]] = {}
    for service, spec in args.fault:
        faults.setdefault(service, []).append(spec)
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    with start_stack(faults, api_key=args.api_key, ports=dict(args.port)) as stack:
        for name, url in stack.urls.items():
            logger.info("%-22s %s", name, url)
        logger.info("%-22s %s", "control", stack.control_url)
        if args.env_file is not None:
            lines = [f"{key}={value}" for key, value in stack.env().items()]
            args.env_file.write_text("\n".join(lines) + "\n")
            logger.info("wrote %s", args.env_file)
        stopping.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
