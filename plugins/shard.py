"""``--shard i/N``: run a disjoint 1/N of the selected checks (an Indexed Job's pod i of N).

Checks are assigned by a stable hash of their node id, so every pod computes the same split
without talking to the others, and adding a check moves only that check.
"""

from __future__ import annotations

import re
import zlib

import pytest

_SHARD = re.compile(r"^(\d+)/(\d+)$")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("vigil").addoption(
        "--shard",
        dest="vigil_shard",
        default=None,
        metavar="I/N",
        help="run only shard I of N (0-based) of the selected checks, e.g. --shard 2/8",
    )


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` -> (2, 8); a usage error for anything else."""
    match = _SHARD.match(text.strip())
    if match is None or int(match.group(2)) < 1 or int(match.group(1)) >= int(match.group(2)):
        raise pytest.UsageError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. 0/4")
    return int(match.group(1)), int(match.group(2))


def shard_of(nodeid: str, count: int) -> int:
    """The shard a test belongs to, the same on every machine."""
    return zlib.crc32(nodeid.encode()) % count


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    option = config.getoption("vigil_shard", None)
    if option is None:
        return
    index, count = parse_shard(option)
    kept = [item for item in items if shard_of(item.nodeid, count) == index]
    dropped = [item for item in items if shard_of(item.nodeid, count) != index]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
