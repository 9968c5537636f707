"""Tests of the /metrics page parser and the PromQL-style helpers built on it.

The property tests generate random exposition pages and hold our lazy parser to
prometheus_client's parser sample for sample, and histogram quantiles to an independent
reference; the unit tests pin each feature, with expected quantiles taken from Prometheus'
own PromQL test data (promql/testdata/histograms.test).
"""

from __future__ import annotations

import math
import re
from itertools import accumulate
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from fixtures.exposition import (
    MetricError,
    MetricPage,
    Sample,
    escape_label_value,
    parse_sample_line,
    parse_samples,
    selector,
)
from fixtures.metric_math import counter_increase, histogram_quantile, quantile, ratio

INF = math.inf

PAGE = """\
# HELP anomaly_detector_queue_size Items waiting per queue.
# TYPE anomaly_detector_queue_size gauge
anomaly_detector_queue_size{queue="logs"} 12
anomaly_detector_queue_size{queue="metrics"} 3 1700000000000
# HELP events_processed_total Events processed.
# TYPE events_processed_total counter
events_processed_total{queue="logs"} 2000
events_processed_total{queue="metrics"} 500
# TYPE events_failed_total counter
events_failed_total{queue="logs"} 10
# TYPE restarts counter
restarts 4
# HELP http_requests_total Requests by status.
# TYPE http_requests_total counter
http_requests_total{route="/a",status="200"} 900
http_requests_total{route="/a",status="500"} 30
http_requests_total{route="/b",status="503"} 20
http_requests_total{route="/b",status="404"} 50
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{method="Detect",quantile="0.5"} 0.2
rpc_duration_seconds{method="Detect",quantile="0.99"} 1.5
rpc_duration_seconds_sum{method="Detect"} 40
rpc_duration_seconds_count{method="Detect"} 100
rpc_duration_seconds{method="Idle",quantile="0.99"} NaN
rpc_duration_seconds_sum{method="Idle"} 0
rpc_duration_seconds_count{method="Idle"} 0
# TYPE errors_total counter
# TYPE temperature untyped
temperature{sensor="a"} -Inf
temperature{sensor="b"} +Inf
"""


def page(text: str = PAGE) -> MetricPage:
    return MetricPage.parse(text)


# --- parsing ---------------------------------------------------------------------------------


def test_help_and_type_headers() -> None:
    parsed = page("# HELP a Line one\\nline two \\\\ done\n# TYPE a gauge\na 1\n")
    assert parsed.family_type("a") == "gauge"
    assert parsed.family_help("a") == "Line one\nline two \\ done"
    assert parsed.family_type("missing") is None
    assert parsed.family_help("missing") is None


def test_help_without_type_is_untyped() -> None:
    parsed = page("# HELP a Just help.\na 1\n")
    assert parsed.family_type("a") == "untyped"
    assert parsed.value("a") == 1.0


def test_label_escapes_are_decoded() -> None:
    parsed = page('# TYPE m gauge\nm{path="C:\\\\dir",quote="say \\"hi\\"",nl="a\\nb"} 1\n')
    (sample,) = parsed.samples("m")
    assert sample.labels == {"path": "C:\\dir", "quote": 'say "hi"', "nl": "a\nb"}
    assert parsed.value("m", quote='say "hi"') == 1.0
    assert parsed.value("m", path="C:\\dir", nl="a\nb") == 1.0


def test_label_values_may_hold_separators() -> None:
    line = 'm{a="x,y=z}",b="#{ }"} 2.5 # {trace_id="abc"} 1.0 123'
    assert parse_sample_line(line) == Sample("m", {"a": "x,y=z}", "b": "#{ }"}, 2.5, None)


def test_special_floats_and_timestamps() -> None:
    parsed = page()
    assert parsed.value("temperature", sensor="a") == -INF
    assert parsed.value("temperature", sensor="b") == INF
    assert math.isnan(parsed.samples("rpc_duration_seconds", method="Idle")[0].value)
    (stamped,) = parsed.samples("anomaly_detector_queue_size", queue="metrics")
    assert stamped.timestamp == 1_700_000_000.0
    assert parsed.samples("anomaly_detector_queue_size", queue="logs")[0].timestamp is None


@pytest.mark.parametrize(
    "line",
    [
        'm{a="x"',  # unclosed
        'm{a="x"} 1 2 3',  # too many fields
        'm{a="x",a="y"} 1',  # duplicate label
        "m{a=x} 1",  # unquoted value
        "m 1_000",  # digit separators
        'm{__a="x"} 1',  # reserved label name
        "m",  # no value
    ],
)
def test_malformed_lines_raise_metric_error(line: str) -> None:
    with pytest.raises(MetricError):
        parse_sample_line(line)


def test_malformed_family_does_not_hide_others() -> None:
    parsed = page("# TYPE bad gauge\nbad{oops 1\n# TYPE good gauge\ngood 2\n")
    assert parsed.value("good") == 2.0
    with pytest.raises(MetricError, match="malformed"):
        parsed.samples("bad")


def test_counters_with_and_without_total() -> None:
    parsed = page()
    assert parsed.value("restarts") == 4.0
    assert parsed.family_type("restarts") == "counter"
    assert parsed.value("events_processed_total", queue="logs") == 2000.0
    assert parsed.family_type("events_processed_total") == "counter"


def test_openmetrics_counter_created_and_eof() -> None:
    text = (
        "# TYPE jobs counter\n"
        'jobs_total{kind="a"} 5\n'
        'jobs_created{kind="a"} 1700000000.5\n'
        "# TYPE lat histogram\n"
        'lat_bucket{le="1.0"} 1\nlat_bucket{le="+Inf"} 2\nlat_count 2\nlat_sum 1.5\n'
        "lat_created 1700000000\n"
        "# EOF\n"
        "after_eof 1\n"
    )
    parsed = page(text)
    assert parsed.value("jobs_total", kind="a") == 5.0
    assert parsed.family_type("jobs_total") == "counter"
    assert parsed.value("jobs_created") == 1700000000.5
    assert parsed.family_type("lat_created") == "histogram"
    assert parsed.value("lat_count") == 2.0
    assert not parsed.has("after_eof")
    assert parsed.names() == ["jobs_created", "jobs_total", "lat_bucket", "lat_count",
                              "lat_created", "lat_sum"]  # fmt: skip


def test_crlf_line_endings() -> None:
    parsed = page('# TYPE a gauge\r\na{x="1"} 7\r\n')
    assert parsed.value("a", x="1") == 7.0
    assert parsed.family_type("a") == "gauge"


def test_headerless_samples_anywhere() -> None:
    text = 'early 1\n# TYPE g gauge\ng 2\nlate{k="v"} 3\nlate{k="w"} 4\n# TYPE h gauge\nh 5\n'
    parsed = page(text)
    assert parsed.value("early") == 1.0
    assert parsed.family_type("early") == "untyped"
    assert parsed.sum("late") == 7.0
    assert parsed.value("g") == 2.0
    assert parsed.value("h") == 5.0
    assert parsed.names() == ["early", "g", "h", "late"]


def test_own_header_ends_a_run_of_strays() -> None:
    parsed = page("# TYPE a gauge\na 1\nb 2\n# HELP a more\na 3\n")
    assert [s.value for s in parsed.samples("a")] == [1.0, 3.0]
    assert parsed.value("b") == 2.0


def test_parse_samples_reads_every_line_in_order() -> None:
    names = [s.name for s in parse_samples(PAGE)]
    assert names[:3] == ["anomaly_detector_queue_size"] * 2 + ["events_processed_total"]
    assert len(names) == sum(1 for line in PAGE.splitlines() if line and line[0] != "#")


# --- queries ---------------------------------------------------------------------------------


def test_value_requires_exactly_one_sample() -> None:
    parsed = page()
    assert parsed.value("anomaly_detector_queue_size", queue="logs") == 12.0
    with pytest.raises(MetricError) as missing:
        parsed.value("anomaly_detector_queue_size", queue="traces")
    assert missing.value.reason == (
        'metric anomaly_detector_queue_size{queue="traces"} not found on page'
    )
    with pytest.raises(MetricError, match="matches 2 samples"):
        parsed.value("anomaly_detector_queue_size")


def test_sum_with_regex_and_equality() -> None:
    parsed = page()
    assert parsed.sum("http_requests_total", status=re.compile("5..")) == 50.0
    assert parsed.sum("http_requests_total", route="/b", status=re.compile("5..")) == 20.0
    assert parsed.sum("http_requests_total") == 1000.0
    # Regexes are anchored like PromQL's: "5" alone matches no status.
    assert parsed.sum("http_requests_total", status=re.compile("5")) == 0.0


def test_sum_of_declared_metric_without_series_is_zero() -> None:
    parsed = page()
    assert parsed.sum("errors_total") == 0.0
    with pytest.raises(MetricError, match="not found on page"):
        parsed.sum("eror_total")


def test_absent_label_matches_empty_string() -> None:
    parsed = page('# TYPE m gauge\nm 1\nm{zone="a"} 2\n')
    assert parsed.value("m", zone="") == 1.0
    assert parsed.sum("m", zone=re.compile("a?")) == 3.0


def test_selector_quotes_values() -> None:
    assert selector("m", {}) == "m"
    assert selector("m", {"a": 'x"y', "b": re.compile("5..")}) == 'm{a="x\\"y",b=~"5.."}'
    assert escape_label_value('\\"\n') == '\\\\\\"\\n'


def test_page_answers_repeated_queries_consistently() -> None:
    parsed = page()
    first = parsed.samples("http_requests_total", route="/a")
    again = parsed.samples("http_requests_total", route="/a")
    assert first == again and len(first) == 2
    assert parsed.sum("http_requests_total") == 1000.0


# --- helpers -----------------------------------------------------------------------------------


def test_ratio_and_zero_denominator() -> None:
    parsed = page()
    assert ratio(parsed, "events_failed_total", "events_processed_total", queue="logs") == 0.005
    assert ratio(parsed, "events_failed_total", "events_processed_total", queue="metrics") == 0
    with pytest.raises(MetricError) as undefined:
        ratio(parsed, "events_failed_total", "events_processed_total", queue="none")
    assert undefined.value.reason == (
        'ratio events_failed_total{queue="none"} / events_processed_total{queue="none"} '
        "is undefined: the denominator is 0"
    )


def test_summary_quantile() -> None:
    parsed = page()
    assert quantile(parsed, "rpc_duration_seconds", 0.99, method="Detect") == 1.5
    with pytest.raises(MetricError, match="NaN"):
        quantile(parsed, "rpc_duration_seconds", 0.99, method="Idle")
    with pytest.raises(MetricError, match="cannot be aggregated"):
        quantile(parsed, "rpc_duration_seconds", 0.99, method=re.compile(".*"))
    with pytest.raises(MetricError, match=re.escape('no quantile="0.9"')):
        quantile(parsed, "rpc_duration_seconds", 0.9, method="Detect")


def test_quantile_rejects_other_types_and_bad_q() -> None:
    parsed = page()
    with pytest.raises(MetricError, match="is a gauge"):
        quantile(parsed, "anomaly_detector_queue_size", 0.5)
    with pytest.raises(MetricError, match="not found"):
        quantile(parsed, "nothing_here", 0.5)
    with pytest.raises(ValueError):
        quantile(parsed, "rpc_duration_seconds", 1.5)
    with pytest.raises(ValueError):
        quantile(parsed, "rpc_duration_seconds", 0.5, quantile="0.5")


def histogram_text(name: str, series: dict[str, list[tuple[str, int]]]) -> str:
    lines = [f"# TYPE {name} histogram"]
    for labels, buckets in series.items():
        sep = "," if labels else ""
        lines += [f'{name}_bucket{{{labels}{sep}le="{le}"}} {count}' for le, count in buckets]
        lines.append(f"{name}_count{{{labels}}} {buckets[-1][1]}")
    return "\n".join(lines) + "\n"


# Prometheus' testhistogram at 50m (every count is 10 times its per-step increment).
POSITIVE = [("0.1", 50), (".2", 70), ("1e0", 110), ("+Inf", 120)]
NEGATIVE = [("-.2", 10), ("-0.1", 20), ("0.3", 20), ("+Inf", 30)]
REQUESTS = {
    'job="job1",instance="ins1"': [("0.1", 10), ("0.2", 30), ("+Inf", 40)],
    'job="job1",instance="ins2"': [("0.1", 20), ("0.2", 50), ("+Inf", 60)],
    'job="job2",instance="ins1"': [("0.1", 30), ("0.2", 40), ("+Inf", 60)],
    'job="job2",instance="ins2"': [("0.1", 40), ("0.2", 70), ("+Inf", 90)],
}


@pytest.mark.parametrize(
    ("q", "positive", "negative"),
    [(0, 0, -0.2), (0.2, 0.048, -0.2), (0.5, 0.15, -0.15), (0.8, 0.72, 0.3), (1, 1, 0.3)],
)
def test_histogram_quantile_matches_promql_testdata(
    q: float, positive: float, negative: float
) -> None:
    text = histogram_text("t", {'start="positive"': POSITIVE, 'start="negative"': NEGATIVE})
    parsed = page(text)
    assert quantile(parsed, "t", q, start="positive") == pytest.approx(positive)
    assert quantile(parsed, "t", q, start="negative") == pytest.approx(negative)


@pytest.mark.parametrize(
    ("q", "labels", "expected"),
    [
        (0.3, {}, 0.075),
        (0.5, {}, 0.1277777777777778),
        (0.5, {"instance": "ins1"}, 0.1333333333),
        (0.5, {"instance": "ins2"}, 0.125),
        (0.3, {"job": "job1"}, 0.1),
        (0.3, {"job": "job2"}, 0.0642857142857143),
        (0.5, {"job": "job2", "instance": "ins2"}, 0.1166666666666667),
    ],
)
def test_histogram_quantile_sums_matching_series_by_le(
    q: float, labels: dict[str, str], expected: float
) -> None:
    parsed = page(histogram_text("request_duration_seconds", REQUESTS))
    assert quantile(parsed, "request_duration_seconds", q, **labels) == pytest.approx(expected)


def test_histogram_quantile_exactly_mid_bucket() -> None:
    buckets = [(0.0, 0.0), (2.0, 1.0), (4.0, 2.0), (6.0, 3.0), (INF, 3.0)]
    assert histogram_quantile(1 / 6, buckets) == pytest.approx(1)
    assert histogram_quantile(0.5, buckets) == pytest.approx(3)
    assert histogram_quantile(5 / 6, buckets) == pytest.approx(5)


def test_histogram_quantile_special_cases() -> None:
    good = [(1.0, 1.0), (INF, 2.0)]
    assert histogram_quantile(-0.1, good) == -INF
    assert histogram_quantile(1.01, good) == INF
    assert math.isnan(histogram_quantile(math.nan, good))
    assert math.isnan(histogram_quantile(0.5, [(1.0, 1.0), (2.0, 2.0)]))  # no +Inf
    assert math.isnan(histogram_quantile(0.5, [(INF, 2.0)]))  # one bucket
    assert math.isnan(histogram_quantile(0.5, [(1.0, 0.0), (INF, 0.0)]))  # no observations
    # Equal bounds written differently coalesce; a dip in counts is smoothed away.
    mixed = [(0.1, 1), (0.2, 1), (0.2, 1), (0.2, 1), (INF, 4)]
    assert histogram_quantile(0.5, mixed) == pytest.approx(0.15)
    assert histogram_quantile(0.625, [(1.0, 4), (2.0, 2), (3.0, 6), (INF, 8)]) == 2.5


def test_histogram_quantile_errors_name_the_reason() -> None:
    empty = page(histogram_text("h", {'a="x"': [("1", 0), ("+Inf", 0)]}))
    with pytest.raises(MetricError, match="no observations"):
        quantile(empty, "h", 0.9)
    no_inf = page(histogram_text("h", {'a="x"': [("1", 3), ("2", 5)]}))
    with pytest.raises(MetricError, match=r'no le="\+Inf" bucket'):
        quantile(no_inf, "h", 0.9)
    with pytest.raises(MetricError, match="not found"):
        quantile(no_inf, "h", 0.9, a="y")


def test_counter_increase_handles_resets_and_new_series() -> None:
    before = page('# TYPE c_total counter\nc_total{a="1"} 10\nc_total{a="2"} 50\n')
    after = page('# TYPE c_total counter\nc_total{a="1"} 15\nc_total{a="2"} 7\nc_total{a="3"} 2\n')
    assert counter_increase(before, after, "c_total", a="1") == 5.0
    assert counter_increase(before, after, "c_total", a="2") == 7.0  # reset: counts from 0
    assert counter_increase(before, after, "c_total", a="3") == 2.0  # born between scrapes
    assert counter_increase(before, after, "c_total") == 14.0
    assert counter_increase(after, after, "c_total") == 0.0
    with pytest.raises(MetricError, match="earlier page"):
        counter_increase(page("# TYPE x gauge\nx 1\n"), after, "c_total")


# --- properties: our parser against prometheus_client ---------------------------------------

LABEL_NAMES = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,5}", fullmatch=True).filter(
    lambda n: not n.startswith("__") and n not in ("le", "quantile")
)
LABEL_VALUES = st.text(
    st.one_of(st.sampled_from('\\"\n{}=, #\t'), st.characters(exclude_categories=["Cs"])),
    max_size=6,
)
NUMBERS = st.one_of(
    st.floats(),
    st.integers(-(10**20), 10**20),
    st.sampled_from([0.0, -0.0, INF, -INF, math.nan, 1e-9, 1e300]),
)
HELP_TEXT = st.text(st.sampled_from('ab \\\n\t{}#="'), max_size=8)


def number(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def label_text(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels.items()) + "}"


@st.composite
def families(draw: st.DrawFn, index: int) -> tuple[str, str, list[str], bool]:
    """One family as (name, kind, its lines, whether it deviates from text format 0.0.4)."""
    kind = draw(
        st.sampled_from(
            ["counter", "counter_total", "gauge", "histogram", "summary", "untyped", "bare"]
        )
    )
    name = f"m{index}_" + draw(st.from_regex(r"[a-z_:]{0,4}", fullmatch=True))
    if kind == "counter_total":
        name += "_total"
    label_names = draw(st.lists(LABEL_NAMES, max_size=3, unique=True))
    series = draw(
        st.lists(
            st.fixed_dictionaries({k: LABEL_VALUES for k in label_names}),
            min_size=1 if kind == "bare" else 0,
            max_size=3,
        )
    )
    stamp = st.one_of(st.none(), st.integers(-(2**40), 2**40))
    created = kind in ("counter_total", "histogram", "summary") and draw(st.booleans())
    lines: list[str] = []
    if kind != "bare":
        if draw(st.booleans()):
            help_text = draw(HELP_TEXT).replace("\\", "\\\\").replace("\n", "\\n")
            lines.append(f"# HELP {name} {help_text}")
        if kind != "untyped" or draw(st.booleans()):
            lines.append(f"# TYPE {name} {kind.removesuffix('_total')}")
    for labels in series:
        if kind == "histogram":
            bounds = [*sorted(set(draw(st.lists(st.floats(-1e3, 1e3), max_size=3)))), INF]
            counts = accumulate(draw(st.lists(st.integers(0, 99), min_size=len(bounds),
                                              max_size=len(bounds))))  # fmt: skip
            for bound, count in zip(bounds, counts, strict=True):
                le = "+Inf" if bound == INF else repr(bound)
                lines.append(f"{name}_bucket{label_text({**labels, 'le': le})} {count}")
            lines.append(f"{name}_sum{label_text(labels)} {number(draw(NUMBERS))}")
            lines.append(f"{name}_count{label_text(labels)} {count}")
        elif kind == "summary":
            for q in draw(st.lists(st.sampled_from(["0.5", "0.9", "0.99"]), unique=True)):
                value = number(draw(NUMBERS))
                lines.append(f"{name}{label_text({**labels, 'quantile': q})} {value}")
            lines.append(f"{name}_sum{label_text(labels)} {number(draw(NUMBERS))}")
            lines.append(f"{name}_count{label_text(labels)} {draw(st.integers(0, 10**6))}")
        else:
            ts = draw(stamp)
            suffix = "" if ts is None else f" {ts}"
            lines.append(f"{name}{label_text(labels)} {number(draw(NUMBERS))}{suffix}")
        if created:
            base = name.removesuffix("_total")
            lines.append(f"{base}_created{label_text(labels)} 1700000000.25")
    return name, kind, lines, created


@st.composite
def pages(draw: st.DrawFn) -> tuple[str, list[tuple[str, str, list[str], bool]]]:
    count = draw(st.integers(1, 6))
    drawn = [draw(families(i)) for i in range(count)]
    return "\n".join(line for _, _, lines, _ in drawn for line in lines) + "\n", drawn


def same_value(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def reference_samples(text: str, renamed: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    """prometheus_client's samples by name, undoing its renaming of counters to ``*_total``."""
    grouped: dict[str, list[tuple[Any, ...]]] = {}
    for metric in text_string_to_metric_families(text):
        for s in metric.samples:
            name = renamed.get(s.name, s.name) if metric.type == "counter" else s.name
            grouped.setdefault(name, []).append((s.labels, float(s.value), s.timestamp))
    return grouped


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages())
def test_parser_agrees_with_prometheus_client(drawn: tuple[str, list[Any]]) -> None:
    text, fams = drawn
    renamed = {
        f"{name}_total": name
        for name, kind, _, _ in fams
        if kind == "counter" and not name.endswith("_total")
    }
    expected = reference_samples(text, renamed)
    docs: dict[str, str] = {}
    for metric in text_string_to_metric_families(text):
        docs.setdefault(metric.name, metric.documentation)
    parsed = MetricPage.parse(text)
    assert set(parsed.names()) == set(expected)
    for name, samples in expected.items():
        got = [(s.labels, s.value, s.timestamp) for s in parsed.samples(name)]
        assert len(got) == len(samples), name
        for (labels, value, ts), (ref_labels, ref_value, ref_ts) in zip(got, samples, strict=True):
            assert labels == ref_labels
            assert same_value(value, ref_value), (name, value, ref_value)
            assert ts == ref_ts
        # Every sample can be selected back by its own labels (exercises the prefilter).
        for ref_labels, ref_value, _ in samples:
            selected = parsed.samples(name, **ref_labels)
            assert any(same_value(s.value, ref_value) for s in selected)
    for name, kind, lines, created in fams:
        if lines and lines[0].startswith("#") and not created:
            declared = "untyped" if kind == "untyped" else kind.removesuffix("_total")
            assert parsed.family_type(name) == declared
        if lines and lines[0].startswith("# HELP"):
            documented = name.removesuffix("_total") if kind.startswith("counter") else name
            assert parsed.family_help(name) == docs[documented]


# --- properties: histogram quantiles against an independent reference --------------------------


def reference_quantile(q: float, buckets: list[tuple[float, int]]) -> float | None:
    """Straight-line PromQL bucket quantile for integer counts; None where PromQL gives NaN."""
    merged: dict[float, int] = {}
    for bound, count in buckets:
        merged[bound] = merged.get(bound, 0) + count
    bounds = sorted(merged)
    counts = list(accumulate((merged[b] for b in bounds), max))
    if bounds[-1] != INF or len(bounds) < 2 or counts[-1] == 0:
        return None
    rank = q * counts[-1]
    reaching = [i for i, count in enumerate(counts[:-1]) if count >= rank]
    if not reaching:
        return bounds[-2]
    i = reaching[0]
    if i == 0 and bounds[0] <= 0:
        return bounds[0]
    lower = bounds[i - 1] if i else 0.0
    below = counts[i - 1] if i else 0
    if counts[i] - below == 0:
        return None
    return lower + (bounds[i] - lower) * (rank - below) / (counts[i] - below)


BOUNDS = st.sampled_from([-5.0, -1.0, 0.0, 0.005, 0.1, 0.25, 1.0, 2.5, 10.0, 1e3])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(BOUNDS, st.integers(0, 1000)), min_size=0, max_size=6),
        min_size=1,
        max_size=3,
    ),
    st.lists(st.integers(0, 1000), min_size=3, max_size=3),
    st.floats(0, 1),
)
def test_histogram_quantile_agrees_with_reference(
    series: list[list[tuple[float, int]]], inf_counts: list[int], q: float
) -> None:
    buckets: list[tuple[float, int]] = []
    lines = ["# TYPE h histogram"]
    for index, finite in enumerate(series):
        # Counts come in any order and need not be monotonic: PromQL smooths that.
        for bound, count in [*finite, (INF, inf_counts[index])]:
            le = "+Inf" if bound == INF else repr(bound)
            lines.append(f'h_bucket{{instance="i{index}",le="{le}"}} {count}')
            buckets.append((bound, count))
    assume(len(lines) > 1)
    parsed = MetricPage.parse("\n".join(lines) + "\n")
    expected = reference_quantile(q, buckets)
    if expected is None:
        assert math.isnan(histogram_quantile(q, buckets))
    else:
        assert histogram_quantile(q, buckets) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    if expected is None:
        with pytest.raises(MetricError):
            quantile(parsed, "h", q)
    else:
        assert quantile(parsed, "h", q) == pytest.approx(expected, rel=1e-12, abs=1e-12)
        assert quantile(parsed, "h", q) <= quantile(parsed, "h", min(1.0, q + 0.1))
