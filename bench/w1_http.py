"""W1: N independent HTTP health checks against local endpoints that answer after 100 ms.

Side by side, in one run, each as a whole process (start-up included):
  vigil   -- ``pytest --env=<generated environment>`` (N http_health checks)
  limit   -- a plain asyncio + aiohttp script at concurrency 200 (the limit)
  floor   -- pytest running N trivial tests (no network): pytest's own cost per test
  naive   -- pytest + requests, one request after another (only for N <= --naive-max)
Prints medians of --repeat runs, the ratios to the limit, and each process's peak RSS.

    .venv/bin/python bench/w1_http.py --n 500 2000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

SERVER = textwrap.dedent(
    """
    import asyncio, sys
    from aiohttp import web

    async def health(request):
        await asyncio.sleep(0.1)
        return web.json_response({"status": "healthy"})

    app = web.Application()
    app.router.add_get("/{name}/health", health)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, backlog=4096)
    """
)

LIMIT = textwrap.dedent(
    """
    import asyncio, sys, aiohttp

    async def main(base, n):
        limit = asyncio.Semaphore(200)
        connector = aiohttp.TCPConnector(limit=200)
        async with aiohttp.ClientSession(connector=connector) as session:
            async def one(i):
                async with limit:
                    timeout = aiohttp.ClientTimeout(total=5)
                    async with session.get(f"{base}/s{i}/health", timeout=timeout) as r:
                        body = await r.json()
                        return r.status == 200 and body["status"] == "healthy"
            results = await asyncio.gather(*(one(i) for i in range(n)))
        assert all(results), "a health check failed"

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)

# pytest's own floor: N trivial tests, no network. Nothing built on pytest can beat this.
FLOOR = textwrap.dedent(
    """
    import os, pytest

    @pytest.mark.parametrize("i", range(int(os.environ["W1_N"])))
    def test_nothing(i):
        assert i >= 0
    """
)

NAIVE = textwrap.dedent(
    """
    import os, pytest, requests

    BASE = os.environ["W1_BASE"]
    N = int(os.environ["W1_N"])

    @pytest.mark.parametrize("i", range(N))
    def test_health(i):
        r = requests.get(f"{BASE}/s{i}/health", timeout=5)
        assert r.status_code == 200 and r.json()["status"] == "healthy"
    """
)


def environment(base: str, n: int) -> dict[str, object]:
    return {
        "name": f"w1-{n}",
        "defaults": {"timeout": 10, "concurrency": 200},
        "services": {"app": {"url": base, "timeout": 10}},
        "checks": {
            f"s{i}": {
                "kind": "http_health",
                "service": "app",
                "path": f"/s{i}/health",
                "expect": {"json": {"status": "healthy"}},
            }
            for i in range(n)
        },
    }


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{command[:4]} failed ({process.returncode}):\n{output.decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024.0


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--naive-max", type=int, default=500, help="run the serial baseline up to this N"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vigil-w1-"))
    (work / "server.py").write_text(SERVER)
    (work / "limit.py").write_text(LIMIT)
    (work / "test_naive.py").write_text(NAIVE)
    (work / "test_floor.py").write_text(FLOOR)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([PYTHON, str(work / "server.py"), str(port)])
    try:
        for _ in range(100):
            try:
                import urllib.request

                urllib.request.urlopen(f"{base}/x/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
        print(
            f"W1 on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
            f"medians of {args.repeat}"
        )
        print(f"{'N':>5} {'runner':<8} {'median s':>9} {'x limit':>8} {'peak RSS MiB':>13}")
        for n in args.n:
            env_file = work / f"w1-{n}.yaml"
            env_file.write_text(yaml.safe_dump(environment(base, n)))
            runners = {
                "limit": [PYTHON, str(work / "limit.py"), base, str(n)],
                "vigil": [
                    PYTHON,
                    "-m",
                    "pytest",
                    f"--env={env_file}",
                    "-q",
                    "--no-reports",
                    "-p",
                    "no:html",
                    "-p",
                    "no:allure_pytest",
                    "checks/test_http.py",
                ],
            }
            runners["floor"] = [
                PYTHON,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-c",
                "/dev/null",
                "--rootdir",
                str(work),
                str(work / "test_floor.py"),
            ]
            if n <= args.naive_max:
                runners["naive"] = [
                    PYTHON,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "-c",
                    "/dev/null",
                    "--rootdir",
                    str(work),
                    str(work / "test_naive.py"),
                ]
            figures: dict[str, tuple[float, float]] = {}
            for name, command in runners.items():
                runs = [
                    timed(command, {**env, "W1_BASE": base, "W1_N": str(n)}, ROOT)
                    for _ in range(1 if name == "naive" else args.repeat)
                ]
                figures[name] = (statistics.median(r[0] for r in runs), max(r[1] for r in runs))
            for name, (seconds, rss) in figures.items():
                ratio = seconds / figures["limit"][0]
                print(f"{n:>5} {name:<8} {seconds:>9.2f} {ratio:>8.2f} {rss:>13.0f}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
