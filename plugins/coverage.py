"""List the seed-catalogue ids an environment's checks implement.

Usage: ``python -m plugins.coverage [--env NAME|FILE] [--missing IDS_FILE]``. Reads the file
only (no variables resolved, no target touched), so it works without the testbed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from plugins import envfile

logger = logging.getLogger(__name__)


def covered_refs(checks: Mapping[str, Any]) -> dict[str, list[str]]:
    """Catalogue id -> names of the enabled checks that implement it, sorted by id."""
    refs: dict[str, list[str]] = {}
    for name, check in checks.items():
        if not isinstance(check, Mapping) or check.get("enabled", True) is False:
            continue
        ref = check.get("ref", [])
        for one in [ref] if isinstance(ref, str) else ref:
            refs.setdefault(str(one), []).append(str(name))
    return dict(sorted(refs.items()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugins.coverage", description=__doc__)
    parser.add_argument("--env", default=os.environ.get("VIGIL_ENV", "demo"))
    parser.add_argument(
        "--missing",
        metavar="IDS_FILE",
        help="a file of catalogue ids, one a line: list those not covered",
    )
    args = parser.parse_args(argv)
    try:
        raw = envfile.load_raw(envfile.find(args.env))
    except envfile.EnvFileError as problem:
        sys.stderr.write(f"error: {problem}\n")
        return 4
    refs = covered_refs(raw.data.get("checks") or {})
    out = sys.stdout
    if args.missing:
        with open(args.missing, encoding="utf-8") as handle:
            wanted = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
        missing = [ref for ref in wanted if ref not in refs]
        for ref in missing:
            out.write(f"{ref}\n")
        out.write(f"# {len(wanted) - len(missing)} of {len(wanted)} covered\n")
        return 1 if missing else 0
    for ref, names in refs.items():
        out.write(f"{ref:<52} {', '.join(names)}\n")
    out.write(f"# {len(refs)} catalogue ids covered by {raw.path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
