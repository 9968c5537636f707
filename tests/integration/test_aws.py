"""AWS checks against moto's server (real boto3 over real HTTP), seeded by the demo's part.

``production`` (us-east-1) is the healthy ACSO seed; ``staging`` (us-west-2) is seeded with
every fault: a service at 1 of 2 tasks, failed tasks, CPU over its band, a memory leak, an
ERROR burst, no backup today, a forbidden policy, a foreign account in a trust policy, a
missing SSM parameter and a firing alarm. A small fake AWS endpoint answers throttling,
HTTP 500, expired and denied credentials. One Vigil run judges it all.

moto's ``filter_log_events`` understands only plain terms and one quoted phrase (any other
pattern silently matches everything), so the log checks here use plain terms only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from fixtures.aws import policy_matches, slope_per_hour, trusted_accounts
from testbed.parts.aws import full_name, seed_acso, seed_all, variables
from testbed.services.moto_server import MotoServer, start_moto
from tests.support import VigilRun, run_vigil

pytestmark = pytest.mark.integration

SECRET = "vigil-test-secret-6c1f9a"  # moto accepts any secret; it must never be printed
STAGING = {
    "ecs_running": {"threat-hunter": 1},
    "failed_tasks": {"incident-response": 3},
    "cpu_high": ["supervisor"],
    "memory_leak": ["supervisor"],
    "error_events": 150,
    "no_backup_today": True,
    "forbidden_policy": {"task-role": "AdministratorAccess"},
    "trust_account": {"execution-role": "999988887777"},
    "missing_parameters": ["/acso/staging/database/url"],
    "alarm_state": "ALARM",
    "no_scaling_policy": True,
    "backup_keep_forever": True,
}
# The fake endpoint's answer, chosen by the access key id the request is signed with.
FAKE_ANSWERS = {
    "AKIDTHROTTLED": (400, "ThrottlingException", "Rate exceeded"),
    "AKIDBOOM": (500, "ServerException", "internal failure"),
    "AKIDEXPIRED": (400, "ExpiredTokenException", "The security token included is expired"),
    "AKIDDENIED": (400, "AccessDeniedException", "not authorized to perform ecs:ListServices"),
}


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = start_moto()
    seed_all(server)  # production, healthy, us-east-1
    seed_acso(server, "staging", "us-west-2", STAGING)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fake_aws() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            authorization = self.headers.get("Authorization", "")
            key = authorization.split("Credential=", 1)[-1].split("/", 1)[0]
            status, code, message = FAKE_ANSWERS.get(key, (400, "UnknownKey", key))
            body = json.dumps({"__type": code, "message": message}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def target(moto: MotoServer, region: str, **extra: Any) -> dict[str, Any]:
    values = variables(moto, region)
    return {
        "region": region,
        "endpoint_url": values["MOTO_ENDPOINT_URL"],
        "access_key_id": values["MOTO_ACCESS_KEY_ID"],
        "secret_access_key": SECRET,
        "connect_timeout": 2,
        "read_timeout": 5,
        **extra,
    }


def acso_checks(name: str, aws: str, environment: str) -> dict[str, Any]:
    """The same runbook checks for one ACSO environment (names prefixed with ``name``)."""
    cluster = f"acso-{environment}-cluster"
    services = {"ServiceName": [full_name(environment, s) for s in ("supervisor", "threat-hunter")]}
    group = f"/aws/acso/{environment}/agents"
    common = {"target": aws, "namespace": "AWS/ECS", "dimensions": {"ClusterName": cluster}}
    return {
        f"{name}-ecs": {"kind": "ecs_services", "target": aws, "cluster": cluster},
        f"{name}-tasks": {"kind": "ecs_services", "target": aws, "cluster": cluster, "tasks": True},
        f"{name}-outage": {
            "kind": "ecs_services",
            "target": aws,
            "cluster": cluster,
            "expect": "any_running",
            "severity": "critical",
        },
        f"{name}-stable": {
            "kind": "ecs_services",
            "target": aws,
            "cluster": cluster,
            "services": [full_name(environment, "threat-hunter")],
            "wait": "3s",
            "poll_every": "1s",
        },
        f"{name}-cpu-daily": {
            **common,
            "kind": "cloudwatch_metric",
            "metric": "CPUUtilization",
            "for_each": services,
            "period": "1h",
            "window": "1h",
            "bands": {"crit": 70, "unit": "%"},
        },
        f"{name}-high-cpu": {
            **common,
            "kind": "cloudwatch_metric",
            "metric": "CPUUtilization",
            "for_each": services,
            "statistic": "Maximum",
            "period": "5m",
            "window": "30m",
            "sustained": 2,
            "bands": {"crit": 80, "unit": "%"},
            "severity": "medium",
            "respond_within": "15m",
        },
        f"{name}-memory-trend": {
            **common,
            "kind": "cloudwatch_trend",
            "metric": "MemoryUtilization",
            "for_each": services,
            "bands": {"warn": 0.5, "crit": 1, "unit": "%/h"},
        },
        f"{name}-alarm": {
            "kind": "cloudwatch_alarm",
            "target": aws,
            "alarm": "ACSO-MemoryLeak-Supervisor"
            if environment == "production"
            else f"ACSO-{environment}-MemoryLeak-Supervisor",
            "threshold": 85,
            "evaluation_periods": 3,
            "require_actions": True,
        },
        f"{name}-error-rate": {
            "kind": "cloudwatch_logs_count",
            "target": aws,
            "log_group": group,
            "pattern": "ERROR",
            "percent_of": "",
            "bands": {"crit": 1, "unit": "%"},
        },
        f"{name}-errors-last-hour": {
            "kind": "cloudwatch_logs_count",
            "target": aws,
            "log_group": group,
            "pattern": "ERROR",
            "window": "1h",
            "bands": {"crit": 20},
            "severity": "high",
        },
        f"{name}-backup": {
            "kind": "s3_backup",
            "target": aws,
            "bucket": f"acso-{environment}-backups",
            "min_objects": 2,
            "min_size": 1024,
            "max_age": "26h",
        },
        f"{name}-iam-review": {
            "kind": "iam_policies",
            "target": aws,
            "pattern": f"acso-{environment}-",
            "forbidden": ["AdministratorAccess"],
            "trusted_accounts": [],
        },
        f"{name}-ssm": {
            "kind": "ssm_parameters",
            "target": aws,
            "names": [
                f"/acso/{environment}/supervisor/config",
                f"/acso/{environment}/database/url",
            ],
            "secure": True,
        },
    }


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("aws")


@pytest.fixture(scope="module")
def run(moto: MotoServer, fake_aws: str, workdir: Path) -> VigilRun:
    unreachable = f"http://127.0.0.1:{closed_port()}"
    fake = {"region": "us-east-1", "endpoint_url": fake_aws, "secret_access_key": SECRET}
    aws = {
        "production": target(moto, "us-east-1", role_arn=variables(moto)["ACSO_READONLY_ROLE_ARN"]),
        "staging": target(moto, "us-west-2"),
        "unreachable": {**target(moto, "us-east-1"), "endpoint_url": unreachable},
        "no-credentials": {
            "region": "us-east-1",
            "endpoint_url": variables(moto)["MOTO_ENDPOINT_URL"],
        },
        "no-profile": {"region": "us-east-1", "profile": "vigil-no-such-profile"},
        **{
            name: {**fake, "access_key_id": key}
            for name, key in (
                ("throttled", "AKIDTHROTTLED"),
                ("broken", "AKIDBOOM"),
                ("expired", "AKIDEXPIRED"),
                ("denied", "AKIDDENIED"),
            )
        },
    }
    errors = {
        f"error-{name}": {
            "kind": "ecs_services",
            "target": name,
            "cluster": "acso-production-cluster",
        }
        for name in (
            "unreachable",
            "no-credentials",
            "no-profile",
            "throttled",
            "broken",
            "expired",
            "denied",
        )
    }
    checks: dict[str, Any] = {
        **acso_checks("prod", "production", "production"),
        **acso_checks("staging", "staging", "staging"),
        **errors,
        "prod-identity": {
            "kind": "aws_identity",
            "target": "production",
            "account": "123456789012",
            "arn_pattern": "assumed-role/vigil-readonly/",
        },
        "prod-execution-role": {
            "kind": "iam_policies",
            "target": "production",
            "names": ["acso-production-execution-role"],
            "allowed": ["AmazonECSTaskExecutionRolePolicy", "acso-production-ssm-read"],
            "required": ["AmazonECSTaskExecutionRolePolicy"],
        },
        "aureus-backup": {
            "kind": "s3_backup",
            "target": "production",
            "bucket": "aureus-backups",
            "prefix": "",
            "key": "backup-%Y%m%d.sql.gz",
            "min_size": 1024,
        },
        "aureus-newuser": {
            "kind": "iam_policies",
            "target": "production",
            "principal": "user",
            "names": ["newuser"],
            "allowed": ["ReadOnlyAccess"],
            "required": ["ReadOnlyAccess"],
        },
        "aureus-olduser-revoked": {
            "kind": "iam_policies",
            "target": "production",
            "principal": "user",
            "names": ["olduser"],
            "allowed": [],
            "missing_ok": True,
        },
        "prod-autoscaling": {
            "kind": "autoscaling_policy",
            "target": "production",
            "resource_id": "service/acso-production-cluster/acso-production-supervisor",
            "dimension": "ecs:service:DesiredCount",
            "policy": "acso-supervisor-scale-up",
            "policy_type": "StepScaling",
        },
        "prod-backup-plans": {
            "kind": "aws_backup_plans",
            "target": "production",
            "plans": ["acso-production-daily"],
            "min_days": 7,
        },
        "staging-autoscaling": {
            "kind": "autoscaling_policy",
            "target": "staging",
            "resource_id": "service/acso-staging-cluster/acso-staging-supervisor",
            "dimension": "ecs:service:DesiredCount",
            "policy": "acso-supervisor-scale-up",
        },
        "staging-backup-plans": {
            "kind": "aws_backup_plans",
            "target": "staging",
            "plans": ["acso-staging-daily"],
        },
        "moto-backup-job": {"kind": "aws_backup_job", "target": "production"},
        "missing-log-group": {
            "kind": "cloudwatch_logs_count",
            "target": "production",
            "log_group": "/aws/acso/production/nonexistent",
            "pattern": "ERROR",
        },
        "no-datapoints": {
            "kind": "cloudwatch_metric",
            "target": "production",
            "namespace": "AWS/ECS",
            "metric": "CPUUtilization",
            # The runbook's own query: no ClusterName, a service that does not exist.
            "dimensions": {"ServiceName": "acso-production-nonexistent"},
            "bands": {"crit": 70},
        },
    }
    environment = {"name": "aws-test", "aws": aws, "checks": checks}
    isolated_credentials = {
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SESSION_TOKEN": "",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/vigil-credentials",
        "AWS_CONFIG_FILE": "/nonexistent/vigil-config",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ROLE_ARN"):
            patch.delenv(name, raising=False)
        return run_vigil(workdir, environment, "checks/test_aws.py", extra_env=isolated_credentials)


def test_healthy_production_passes(run: VigilRun) -> None:
    healthy = [name for name in run.outcomes() if name.startswith(("prod-", "aureus-"))]
    assert len(healthy) == 20, healthy
    failing = {
        name: run.result(name)["message"] for name in healthy if run.outcomes()[name] != "passed"
    }
    assert failing == {}


def test_service_at_one_of_two_fails_high(run: VigilRun) -> None:
    result = run.result("staging-ecs")
    assert result["outcome"] == "failed"
    assert result["severity"] == "high"
    assert "acso-staging-threat-hunter: 1 of 2 tasks running" in result["message"]
    assert "deployment IN_PROGRESS" in result["message"]
    assert (
        "acso-staging-incident-response: 3 failed tasks in the current deployment"
        in (result["message"])
    )
    assert "supervisor" not in result["message"]


def test_task_listing_sees_the_missing_task(run: VigilRun) -> None:
    result = run.result("staging-tasks")
    assert result["outcome"] == "failed"
    assert "acso-staging-threat-hunter: 1 of 2 tasks running" in result["message"]


def test_wait_polls_until_its_deadline(run: VigilRun) -> None:
    result = run.result("staging-stable")
    assert result["outcome"] == "failed"
    waited = re.search(r"after waiting (\d+)s", result["message"])
    assert waited is not None, result["message"]
    assert 2 <= int(waited.group(1)) <= 10  # polled every second up to the 3 s wait
    assert run.result("prod-stable")["outcome"] == "passed"


def test_outage_check_passes_while_anything_runs(run: VigilRun) -> None:
    assert run.result("staging-outage")["outcome"] == "passed"


def test_cpu_over_band_for_ten_minutes_fails_medium(run: VigilRun) -> None:
    result = run.result("staging-high-cpu")
    assert result["outcome"] == "failed"
    assert result["severity"] == "medium"
    message = result["message"]
    assert (
        "AWS/ECS CPUUtilization Maximum ServiceName=acso-staging-supervisor for 2 x 5m" in message
    )
    assert "> crit 80%" in message
    assert "threat-hunter" not in message


def test_memory_leak_trend_fails(run: VigilRun) -> None:
    result = run.result("staging-memory-trend")
    assert result["outcome"] == "failed"
    message = result["message"]
    assert "MemoryUtilization Average ServiceName=acso-staging-supervisor trend over 24h" in message
    assert "%/h > crit 1%/h" in message
    assert "threat-hunter" not in message


def test_firing_alarm_fails(run: VigilRun) -> None:
    result = run.result("staging-alarm")
    assert result["outcome"] == "failed"
    assert "is ALARM: Threshold Crossed" in result["message"]


def test_error_count_and_rate_over_bound_fail(run: VigilRun) -> None:
    """Plain term ERROR only: moto's filter understands plain terms and one quoted phrase."""
    count = run.result("staging-errors-last-hour")
    assert count["outcome"] == "failed"
    assert count["severity"] == "high"
    assert "events matching ERROR" in count["message"]
    assert "> crit 20" in count["message"]
    rate = run.result("staging-error-rate")
    assert rate["outcome"] == "failed"
    assert "per 100 events" in rate["message"] and "> crit 1%" in rate["message"]
    assert run.result("prod-errors-last-hour")["outcome"] == "passed"


def test_missing_backup_today_fails(run: VigilRun) -> None:
    result = run.result("staging-backup")
    today = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d")
    assert result["outcome"] == "failed"
    assert f"s3://acso-staging-backups/{today}/*: 0 backup objects" in result["message"]
    assert "today's backup is missing" in result["message"]


def test_missing_scaling_policy_and_endless_retention_fail(run: VigilRun) -> None:
    scaling = run.result("staging-autoscaling")
    assert (scaling["outcome"], scaling["severity"]) == ("failed", "medium"), scaling
    assert scaling["message"] == (
        "scaling policy acso-supervisor-scale-up not found on ecs"
        " service/acso-staging-cluster/acso-staging-supervisor (policies there: none)"
    )
    plans = run.result("staging-backup-plans")
    assert plans["outcome"] == "failed"
    assert plans["message"] == (
        "aws staging: backup retention: acso-staging-daily/daily has no retention (kept forever)"
    )


def test_backup_jobs_unanswered_by_moto_is_an_error(run: VigilRun) -> None:
    # moto implements AWS Backup plans but not jobs: its 404 page becomes one plain reason.
    job = run.result("moto-backup-job")
    assert (job["outcome"], job["severity"]) == ("error", "high"), job
    assert "AWS Backup API not available at endpoint http://127.0.0.1:" in job["message"]
    assert "<html" not in job["message"].lower()


def test_forbidden_policy_and_foreign_trust_fail(run: VigilRun) -> None:
    result = run.result("staging-iam-review")
    assert result["outcome"] == "failed"
    assert result["severity"] == "high"
    message = result["message"]
    assert (
        "role acso-staging-task-role: policy AdministratorAccess (attached) is forbidden" in message
    )
    assert "role acso-staging-execution-role: trust policy lets account 999988887777" in message


def test_missing_ssm_parameter_fails(run: VigilRun) -> None:
    result = run.result("staging-ssm")
    assert result["outcome"] == "failed"
    assert result["message"] == "ssm: parameter(s) missing: /acso/staging/database/url"


@pytest.mark.parametrize(
    ("check", "reason"),
    [
        ("error-unreachable", "cannot reach http://127.0.0.1:"),
        ("error-no-credentials", "no AWS credentials found"),
        ("error-no-profile", "AWS profile 'vigil-no-such-profile' not found"),
        ("error-throttled", "throttled by AWS (ThrottlingException) after 3 attempts"),
        ("error-broken", "AWS API error HTTP 500 (ServerException) after 3 attempts"),
        ("error-expired", "AWS credentials expired (ExpiredTokenException)"),
        ("error-denied", "access denied (AccessDeniedException)"),
        ("missing-log-group", "not found"),
        ("no-datapoints", "no datapoints in the last 1h"),
    ],
)
def test_unobservable_account_is_an_error_with_its_reason(
    run: VigilRun, check: str, reason: str
) -> None:
    result = run.result(check)
    assert result["outcome"] == "error", result
    assert reason in result["message"]


def test_secret_never_printed(run: VigilRun, workdir: Path) -> None:
    assert SECRET not in run.output
    reports = [path for path in (workdir / "reports").rglob("*") if path.is_file()]
    assert len(reports) >= 2  # summary.json and the HTML report at least
    for report in reports:
        assert SECRET not in report.read_text(errors="replace"), report


def test_slope_per_hour_is_least_squares() -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    points = [
        (start + dt.timedelta(hours=h), 40 + 1.5 * h + (0.3 if h % 2 else -0.3)) for h in range(24)
    ]
    assert slope_per_hour(points) == pytest.approx(1.5, abs=0.05)
    flat = [(start + dt.timedelta(hours=h), 50.0) for h in range(6)]
    assert slope_per_hour(flat) == 0.0


def test_trust_policy_accounts_and_policy_globs() -> None:
    document = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}},
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::999988887777:root", "111122223333"]},
            },
            {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}},
        ]
    }
    assert trusted_accounts(document) == ["999988887777", "111122223333"]
    arn = "arn:aws:iam::aws:policy/AdministratorAccess"
    assert (
        policy_matches("AdministratorAccess", arn, ["*FullAccess", "Administrator*"])
        == "Administrator*"
    )
    assert policy_matches("ReadOnlyAccess", "arn:x", ["AdministratorAccess"]) is None
    assert policy_matches("AdministratorAccess", arn, ["arn:aws:iam::aws:policy/*"]) is not None
