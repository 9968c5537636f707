"""W2: five runbook criteria read from one 100k-sample ``/metrics`` page.

Run from the repository root:

    .venv/bin/python -m bench.w2_metrics [--samples 100000] [--reps 7]

Side by side, in one run and on the same page text:

* split-only scan, the floor any reader pays to look at every line once:
  ``for line in text.splitlines(): line.split(" ")``;
* Vigil: ``MetricPage.parse`` plus the five criteria (what a check run does);
* Vigil plus one query for a metric the page lacks: no header declares it, so every family
  is read to look for headerless samples (also the cost of a page without headers);
* Vigil parsing every sample line eagerly (``parse_samples``), for scale;
* prometheus_client's ``text_string_to_metric_families`` plus the same five criteria.

Times are medians over repetitions, each from the page text (no cache survives a repetition).
Peak RSS is ``ru_maxrss`` of a fresh subprocess that reads the page from a file and runs one
path, so it covers the whole process: interpreter, imports, page text and parse.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fixtures.exposition import MetricPage, escape_label_value, parse_samples
from fixtures.metric_math import histogram_quantile, quantile, ratio

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
LATENCY_BOUNDS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"]
QUEUES = ["logs", "metrics", "traces", "events", "alerts", "audit", "billing", "search"]
METHODS = ["GET", "POST", "PUT", "DELETE"]
STATUSES = ["200", "201", "404", "500", "503"]
ROUTES = ["/api/v1/detect", *(f"/api/v1/resource{i}" for i in range(49))]
RPC_METHODS = ["Detect", *(f"Method{i}" for i in range(19))]
CRITERIA = [
    ("gauge bound", "anomaly_detector_queue_size{queue=logs}", "<=", 1000.0),
    ("ratio", "events_failed/processed{queue=logs}", "<", 0.05),
    ("summary quantile", "rpc_duration_seconds p99{method=Detect}", "<", 2.0),
    ("histogram quantile", "http_request_duration_seconds p99{route=/api/v1/detect}", "<", 2.5),
    ("counter sum, regex", "http_requests_total{status=~5..} / all", "<", 0.05),
]


class _Page:
    """Accumulates exposition text and counts the sample lines written."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.samples = 0

    def family(self, name: str, type_: str, help_text: str) -> None:
        self.parts.append(f"# HELP {name} {help_text}\n# TYPE {name} {type_}\n")

    def sample(self, name: str, labels: dict[str, str], value: float | int) -> None:
        text = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels.items())
        rendered = value if isinstance(value, int) else f"{value:.6g}"
        self.parts.append(f"{name}{{{text}}} {rendered}\n" if text else f"{name} {rendered}\n")
        self.samples += 1


def generate_page(samples: int, seed: int = 20) -> str:
    """A realistic service + cAdvisor-like page: histograms, summaries, counters, gauges."""
    rng = random.Random(seed)
    page = _Page()
    page.family("anomaly_detector_queue_size", "gauge", "Items waiting per detector queue.")
    for queue in QUEUES:
        page.sample("anomaly_detector_queue_size", {"queue": queue}, rng.randint(0, 900))
    for outcome in ("processed", "failed"):
        page.family(f"events_{outcome}_total", "counter", f"Events {outcome} per queue.")
        for queue in QUEUES:
            scale = 1_000_000 if outcome == "processed" else 20_000
            page.sample(f"events_{outcome}_total", {"queue": queue}, rng.randint(1, scale))
    page.family("http_requests_total", "counter", "HTTP requests by method, route, status.")
    for method in METHODS:
        for route in ROUTES:
            for status in STATUSES:
                hits = rng.randint(0, 400) if status[0] == "5" else rng.randint(0, 40_000)
                page.sample(
                    "http_requests_total",
                    {"method": method, "route": route, "status": status},
                    hits,
                )
    _histogram(page, rng)
    _summary(page, rng, "rpc_duration_seconds", [{"method": m} for m in RPC_METHODS])
    _summary(page, rng, "go_gc_duration_seconds", [{}])
    page.family("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.")
    for cpu in range(64):
        for mode in ("idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice"):
            labels = {"cpu": str(cpu), "mode": mode}
            page.sample("node_cpu_seconds_total", labels, rng.random() * 1e6)
    page.family("build_info", "gauge", 'Build metadata, e.g. "1.2.3".')
    page.sample("build_info", {"version": "1.2.3", "path": 'C:\\vigil\\"bin"'}, 1)
    for name in ("process_resident_memory_bytes", "process_open_fds", "go_goroutines"):
        page.family(name, "gauge", "Process statistic.")
        page.sample(name, {}, rng.random() * 1e9)
    _containers(page, rng, samples)
    return "".join(page.parts)


def _histogram(page: _Page, rng: random.Random) -> None:
    name = "http_request_duration_seconds"
    page.family(name, "histogram", "HTTP request latency.")
    for method in METHODS:
        for route in ROUTES:
            for status in STATUSES:
                labels = {"method": method, "route": route, "status": status}
                cumulative = 0
                for le in [*LATENCY_BOUNDS, "+Inf"]:
                    cumulative += rng.randint(0, 300) if float(le) < 1 else rng.randint(0, 3)
                    page.sample(f"{name}_bucket", {**labels, "le": le}, cumulative)
                page.sample(f"{name}_sum", labels, cumulative * 0.08)
                page.sample(f"{name}_count", labels, cumulative)


def _summary(page: _Page, rng: random.Random, name: str, series: list[dict[str, str]]) -> None:
    page.family(name, "summary", "Latency summary.")
    for labels in series:
        for q in ("0.5", "0.9", "0.95", "0.99", "0.999"):
            page.sample(name, {**labels, "quantile": q}, rng.random() * float(q) * 2)
        page.sample(f"{name}_sum", labels, rng.random() * 1e4)
        page.sample(f"{name}_count", labels, rng.randint(1, 100_000))


def _containers(page: _Page, rng: random.Random, samples: int) -> None:
    kinds = ("gauge", "counter")
    index = 0
    while page.samples < samples:
        type_ = kinds[index % 2]
        name = f"container_metric_{index}" + ("_total" if type_ == "counter" else "")
        page.family(name, type_, "cAdvisor-style per-container statistic.")
        for pod in range(min(1000, samples - page.samples)):
            labels = {"namespace": f"ns-{pod % 25}", "pod": f"app-{pod}-7d9f8", "container": "app"}
            page.sample(name, labels, rng.random() * 1e6)
        index += 1


def split_scan(text: str) -> int:
    """The floor: split the page into lines and each line at spaces, nothing else."""
    fields = 0
    for line in text.splitlines():
        fields += len(line.split(" "))
    return fields


def criteria_vigil(page: MetricPage) -> list[float]:
    """The five criteria, as a Vigil check writes them."""
    return [
        page.value("anomaly_detector_queue_size", queue="logs"),
        ratio(page, "events_failed_total", "events_processed_total", queue="logs"),
        quantile(page, "rpc_duration_seconds", 0.99, method="Detect"),
        quantile(page, "http_request_duration_seconds", 0.99, route="/api/v1/detect"),
        page.sum("http_requests_total", status=re.compile("5..")) / page.sum("http_requests_total"),
    ]


def vigil_path(text: str) -> list[float]:
    return criteria_vigil(MetricPage.parse(text))


def vigil_miss_path(text: str) -> list[float]:
    page = MetricPage.parse(text)
    # A name no header declares may be anywhere, so this reads every family of the page.
    if page.has("absent_metric_total"):
        raise RuntimeError("the generated page unexpectedly has absent_metric_total")
    return criteria_vigil(page)


def vigil_eager_path(text: str) -> int:
    return sum(1 for _ in parse_samples(text))


def prometheus_client_path(text: str) -> list[float]:
    """prometheus_client's parser, then the same five criteria over its samples."""
    from prometheus_client.parser import text_string_to_metric_families

    by_name: dict[str, list[Any]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            by_name[sample.name].append(sample)

    def total(name: str, **labels: str | re.Pattern[str]) -> float:
        found = 0.0
        for s in by_name[name]:
            if all(
                s.labels.get(k) == v if isinstance(v, str) else v.fullmatch(s.labels.get(k, ""))
                for k, v in labels.items()
            ):
                found += s.value
        return found

    (queue,) = [
        s.value for s in by_name["anomaly_detector_queue_size"] if s.labels["queue"] == "logs"
    ]
    (rpc,) = [
        s.value
        for s in by_name["rpc_duration_seconds"]
        if s.labels["method"] == "Detect" and float(s.labels["quantile"]) == 0.99
    ]
    buckets = [
        (float(s.labels["le"]), s.value)
        for s in by_name["http_request_duration_seconds_bucket"]
        if s.labels["route"] == "/api/v1/detect"
    ]
    return [
        float(queue),
        total("events_failed_total", queue="logs") / total("events_processed_total", queue="logs"),
        rpc,
        histogram_quantile(0.99, buckets),
        total("http_requests_total", status=re.compile("5..")) / total("http_requests_total"),
    ]


PATHS: dict[str, Callable[[str], object]] = {
    "split": split_scan,
    "vigil": vigil_path,
    "vigil-miss": vigil_miss_path,
    "vigil-eager": vigil_eager_path,
    "prometheus_client": prometheus_client_path,
}
LABELS = {
    "split": "split-only line scan (baseline)",
    "vigil": "vigil: parse + 5 criteria",
    "vigil-miss": "vigil: + 1 absent-metric query (reads all)",
    "vigil-eager": "vigil: every sample line parsed",
    "prometheus_client": "prometheus_client parse + 5 criteria",
}


def time_once(function: Callable[[str], object], text: str) -> float:
    gc.collect()
    start = time.perf_counter()
    function(text)
    return time.perf_counter() - start


def run_child(*args: str) -> str:
    """Run this module in a fresh interpreter; its stdout."""
    command = [sys.executable, "-m", "bench.w2_metrics", *args]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=300, check=True
    )
    return done.stdout


def peak_rss_mib(mode: str, page_file: Path) -> tuple[float, float]:
    """(VmHWM, ru_maxrss) in MiB of a fresh interpreter that reads the page and runs one path."""
    report = json.loads(run_child("--rss-child", mode, str(page_file)))
    return report["vm_hwm_kib"] / 1024, report["maxrss_kib"] / 1024


def rss_child(mode: str, page_file: str) -> None:
    text = Path(page_file).read_text(encoding="utf-8")
    PATHS[mode](text)
    # Linux carries ru_maxrss across exec, so it can report the parent's peak; VmHWM is this
    # process image's own high-water mark. Both are reported; the parent spawns us while small.
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    status = Path("/proc/self/status").read_text(encoding="ascii").splitlines()
    hwm = next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), maxrss)
    sys.stdout.write(json.dumps({"vm_hwm_kib": hwm, "maxrss_kib": maxrss}) + "\n")


def verdicts(values: Sequence[float]) -> list[str]:
    rows = []
    for (kind, what, op, bound), value in zip(CRITERIA, values, strict=True):
        ok = value <= bound if op == "<=" else value < bound
        rows.append(
            f"  {kind:<19} {what:<58} {value:10.4g} {op} {bound:<6g} {'pass' if ok else 'FAIL'}"
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--rss-child", nargs=2, metavar=("MODE", "PAGE_FILE"))
    parser.add_argument("--write-page", metavar="PAGE_FILE")
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(*args.rss_child)
        return 0
    if args.write_page:
        Path(args.write_page).write_text(generate_page(args.samples), encoding="utf-8")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)

    with tempfile.TemporaryDirectory() as folder:
        # The page is written and measured by children while this process is still small.
        page_file = Path(folder) / "page.txt"
        run_child("--write-page", str(page_file), "--samples", str(args.samples))
        rss = {mode: peak_rss_mib(mode, page_file) for mode in PATHS}
        text = page_file.read_text(encoding="utf-8")

    sample_lines = sum(1 for line in text.splitlines() if line and line[0] != "#")
    ours, theirs = vigil_path(text), prometheus_client_path(text)
    agree = all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip(ours, theirs, strict=True))

    times: dict[str, list[float]] = {mode: [] for mode in PATHS}
    for _ in range(args.reps):
        for mode, function in PATHS.items():
            times[mode].append(time_once(function, text))

    baseline = statistics.median(times["split"])
    logger.info(
        "W2: %d samples, %.1f MiB page, 5 criteria; median of %d reps (min-max), Python %s",
        sample_lines, len(text) / 2**20, args.reps, sys.version.split()[0],
    )  # fmt: skip
    logger.info(
        "%-42s %10s %17s %9s %10s %10s",
        "path", "median ms", "min-max ms", "x split", "VmHWM MiB", "maxrss MiB",
    )  # fmt: skip
    for mode, samples in times.items():
        median = statistics.median(samples)
        logger.info(
            "%-42s %10.1f %8.1f-%-8.1f %8.2fx %10.1f %10.1f",
            LABELS[mode], median * 1e3, min(samples) * 1e3, max(samples) * 1e3,
            median / baseline, *rss[mode],
        )  # fmt: skip
    logger.info("criteria (vigil; prometheus_client agrees: %s):", "yes" if agree else "NO")
    for row in verdicts(ours):
        logger.info("%s", row)
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
