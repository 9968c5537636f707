"""The AWS side of the seed systems on moto's server: ACSO (seed 002) and Aureus's S3 backups.

moto stands in for AWS (real boto3 clients, real HTTP). Seeded for ``environment``
(default ``production``): the ECS cluster ``acso-<env>-cluster`` with the runbook's five
services (2 tasks each), 24 h of CloudWatch CPU/memory per service (5-minute statistics),
RDS and ElastiCache metrics, the memory-leak alarm, the agents' CloudWatch Logs group, S3
backups under today's and yesterday's UTC date prefix, IAM roles and policies, and SSM
parameters. Also (once) the ``vigil-readonly`` role Vigil assumes, ``aureus-backups`` and
the IAM user ``newuser``.

Options (``testbed.options.aws``): ``environment``, ``region``, ``faults``:
``ecs_running: {service: n}``, ``failed_tasks: {service: n}``, ``cpu_high: [service]``,
``memory_leak: [service]``, ``error_events: n``, ``no_backup_today: true``,
``forbidden_policy: {role: policy}``, ``trust_account: {role: account}``,
``missing_parameters: [name]``, ``alarm_state: ALARM``, ``no_scaling_policy: true``,
``backup_keep_forever: true`` (the backup plan's rule loses its lifecycle). Services are named short
(``threat-hunter``) or in full.

Variables: ``MOTO_ENDPOINT_URL``, ``MOTO_REGION``, ``MOTO_ACCESS_KEY_ID``,
``MOTO_SECRET_ACCESS_KEY``, ``ACSO_ACCOUNT_ID``, ``ACSO_READONLY_ROLE_ARN``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import os
import random
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

from testbed.demo import RunningTestbed, TestbedError
from testbed.services.moto_server import (
    FAKE_ACCESS_KEY,
    FAKE_SECRET_KEY,
    REGION,
    MotoServer,
    start_moto,
)

logger = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"  # moto's default account
SERVICES = (
    "supervisor",
    "threat-hunter",
    "incident-response",
    "service-orchestration",
    "financial-intelligence",
)
DESIRED = 2
READONLY_ROLE = "vigil-readonly"
_CPU_BASE = {"supervisor": 38, "threat-hunter": 44, "incident-response": 22}
_MEMORY_BASE = {"supervisor": 46, "threat-hunter": 52, "financial-intelligence": 41}
_FAILED_TASKS_ENV = "MOTO_ECS_SERVICE_FAILED_TASKS"
_TRUST_ECS_TASKS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def start(spec: Mapping[str, Any], running: RunningTestbed) -> None:
    """Start moto, reset it, seed ACSO and the shared resources; set the variables."""
    options = dict(spec.get("options", {}).get("aws", {}) or {})
    unknown = set(options) - {"environment", "region", "faults"}
    if unknown:
        raise TestbedError(f"aws: unknown option(s) {sorted(unknown)}")
    server = start_moto()
    running.stoppers.append(server.stop)
    region = str(options.get("region", REGION))
    seed_all(server, str(options.get("environment", "production")), region, options.get("faults"))
    running.variables.update(variables(server, region))


def seed_all(
    server: MotoServer,
    environment: str = "production",
    region: str = REGION,
    faults: Mapping[str, Any] | None = None,
) -> None:
    """Reset moto, then seed the shared resources and one ACSO environment."""
    reset(server)
    seed_shared(server, region)
    seed_acso(server, environment, region, faults)


def variables(server: MotoServer, region: str = REGION) -> dict[str, str]:
    """The variables an environment file reads to reach this moto."""
    return {
        "MOTO_ENDPOINT_URL": server.endpoint_url,
        "MOTO_REGION": region,
        "MOTO_ACCESS_KEY_ID": FAKE_ACCESS_KEY,
        "MOTO_SECRET_ACCESS_KEY": FAKE_SECRET_KEY,
        "ACSO_ACCOUNT_ID": ACCOUNT_ID,
        "ACSO_READONLY_ROLE_ARN": f"arn:aws:iam::{ACCOUNT_ID}:role/{READONLY_ROLE}",
    }


def reset(server: MotoServer) -> None:
    """Forget all moto state (it lives in this process and outlives a server's stop)."""
    _moto_api(server, "/moto-api/reset", {})
    # Tasks stay RUNNING: moto otherwise advances a task's status on every describe call.
    _moto_api(
        server,
        "/moto-api/state-manager/set-transition",
        {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 10**9}},
    )


def _moto_api(server: MotoServer, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        server.endpoint_url + path, data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        answer.read()


def client(server: MotoServer, service: str, region: str = REGION) -> Any:
    """A seeding client: the launcher's, but without request compression (moto rejects it)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=server.endpoint_url,
        region_name=region,
        aws_access_key_id=FAKE_ACCESS_KEY,
        aws_secret_access_key=FAKE_SECRET_KEY,
        config=Config(
            connect_timeout=5,
            read_timeout=10,
            retries={"max_attempts": 1},
            disable_request_compression=True,
        ),
    )


def full_name(environment: str, service: str) -> str:
    """``acso-production-threat-hunter`` from ``threat-hunter`` (full names pass through)."""
    prefix = f"acso-{environment}-"
    return service if service.startswith(prefix) else prefix + service


def seed_shared(server: MotoServer, region: str = REGION) -> None:
    """Once per moto: Vigil's read-only role, Aureus's backups and IAM user."""
    iam = client(server, "iam", region)
    trust_account = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName=READONLY_ROLE, AssumeRolePolicyDocument=json.dumps(trust_account))
    readonly = _policy(iam, "ReadOnlyAccess", ["ec2:Describe*", "s3:List*", "iam:List*"])
    iam.attach_role_policy(RoleName=READONLY_ROLE, PolicyArn=readonly)
    iam.create_user(UserName="newuser")
    iam.attach_user_policy(UserName="newuser", PolicyArn=readonly)

    s3 = client(server, "s3", region)
    _bucket(s3, "aureus-backups", region)
    today = dt.datetime.now(dt.UTC)
    for day in (today - dt.timedelta(days=1), today):
        s3.put_object(
            Bucket="aureus-backups",
            Key=f"backup-{day:%Y%m%d}.sql.gz",
            Body=_payload(48 * 1024, day.toordinal()),
        )
    s3.put_object(
        Bucket="aureus-backups",
        Key=f"manual/backup-{today:%Y%m%d}.sql.gz",
        Body=_payload(40 * 1024, 7),
    )


def seed_acso(
    server: MotoServer,
    environment: str = "production",
    region: str = REGION,
    faults: Mapping[str, Any] | None = None,
) -> None:
    """Seed one ACSO environment; ``faults`` make it degraded (see the module docstring)."""
    faults = dict(faults or {})
    known = {
        "ecs_running",
        "failed_tasks",
        "cpu_high",
        "memory_leak",
        "error_events",
        "no_backup_today",
        "forbidden_policy",
        "trust_account",
        "missing_parameters",
        "alarm_state",
        "no_scaling_policy",
        "backup_keep_forever",
    }
    if set(faults) - known:
        raise TestbedError(f"aws: unknown fault(s) {sorted(set(faults) - known)}")
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    rng = random.Random(f"acso-{environment}")
    _seed_ecs(server, environment, region, faults)
    _seed_metrics(server, environment, region, faults, now, rng)
    _seed_logs(server, environment, region, faults, now, rng)
    _seed_backups(server, environment, region, faults, now)
    _seed_backup_plan(server, environment, region, faults)
    _seed_autoscaling(server, environment, region, faults)
    _seed_iam(server, environment, region, faults)
    _seed_ssm(server, environment, region, faults)
    logger.info(
        "moto seeded with ACSO %s in %s (faults: %s)", environment, region, faults or "none"
    )


def _per_service(environment: str, mapping: Mapping[str, Any] | None) -> dict[str, Any]:
    return {full_name(environment, str(k)): v for k, v in (mapping or {}).items()}


@contextlib.contextmanager
def _failed_tasks(count: int) -> Iterator[None]:
    # moto reads this at create_service, like MOTO_ECS_SERVICE_RUNNING.
    previous = os.environ.get(_FAILED_TASKS_ENV)
    os.environ[_FAILED_TASKS_ENV] = str(count)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(_FAILED_TASKS_ENV, None)
        else:
            os.environ[_FAILED_TASKS_ENV] = previous


def _seed_ecs(server: MotoServer, environment: str, region: str, faults: dict[str, Any]) -> None:
    ecs = client(server, "ecs", region)
    cluster = f"acso-{environment}-cluster"
    ecs.create_cluster(clusterName=cluster)
    running_counts = _per_service(environment, faults.get("ecs_running"))
    failed_counts = _per_service(environment, faults.get("failed_tasks"))
    for short in SERVICES:
        name = full_name(environment, short)
        # moto places FARGATE tasks without a network or an EC2 host (real Fargate needs
        # awsvpc); that keeps the EC2 simulation, and its seconds of start-up, out of it.
        ecs.register_task_definition(
            family=name,
            containerDefinitions=[
                {"name": short, "image": f"acso/{short}:1.8.2", "cpu": 256, "memory": 1024}
            ],
        )
        running = int(running_counts.get(name, DESIRED))
        with MotoServer.ecs_running_count(running), _failed_tasks(int(failed_counts.get(name, 0))):
            ecs.create_service(
                cluster=cluster, serviceName=name, taskDefinition=name, desiredCount=DESIRED
            )
        if running:
            placed = ecs.run_task(
                cluster=cluster,
                taskDefinition=name,
                count=running,
                launchType="FARGATE",
                group=f"service:{name}",
                startedBy="ecs-svc/vigil-demo",
            )
            if placed.get("failures"):
                raise TestbedError(f"aws: moto did not place {name}'s tasks: {placed['failures']}")


def _cpu(short: str, hours_ago: float, rng: random.Random) -> float:
    daily = 9.0 * math.sin(2 * math.pi * (24 - hours_ago) / 24.0)
    return max(3.0, _CPU_BASE.get(short, 28) + daily + rng.uniform(-3.5, 3.5))


def _memory(short: str, hours_ago: float, leak: bool, rng: random.Random) -> float:
    if leak:
        return 40.0 + 38.0 * (24.0 - hours_ago) / 24.0 + rng.uniform(-0.8, 0.8)
    return _MEMORY_BASE.get(short, 36) + rng.uniform(-2.0, 2.0)


def _datum(
    name: str, dimensions: dict[str, str], when: dt.datetime, mean: float, spread: float
) -> dict[str, Any]:
    # Five one-minute samples per period, as the ECS agent publishes them.
    return {
        "MetricName": name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
        "Timestamp": when,
        "StatisticValues": {
            "SampleCount": 5.0,
            "Sum": round(mean * 5, 2),
            "Minimum": round(max(0.0, mean - spread * 0.7), 2),
            "Maximum": round(min(100.0, mean + spread), 2),
        },
        "Unit": "Percent",
    }


def _seed_metrics(
    server: MotoServer,
    environment: str,
    region: str,
    faults: dict[str, Any],
    now: dt.datetime,
    rng: random.Random,
) -> None:
    cloudwatch = client(server, "cloudwatch", region)
    cluster = f"acso-{environment}-cluster"
    hot = {full_name(environment, s) for s in faults.get("cpu_high", [])}
    leaking = {full_name(environment, s) for s in faults.get("memory_leak", [])}
    data: list[dict[str, Any]] = []
    for short in SERVICES:
        name = full_name(environment, short)
        dimensions = {"ClusterName": cluster, "ServiceName": name}
        for step in range(288):
            when = now - dt.timedelta(minutes=5 * step + 2)
            hours_ago = step / 12.0
            cpu = _cpu(short, hours_ago, rng)
            if name in hot and step < 6:
                cpu = rng.uniform(88.0, 93.0)
            data.append(_datum("CPUUtilization", dimensions, when, cpu, 8.0))
            memory = _memory(short, hours_ago, name in leaking, rng)
            data.append(_datum("MemoryUtilization", dimensions, when, memory, 2.0))
    for step in range(24):
        when = now - dt.timedelta(minutes=5 * step + 2)
        data.append(
            {
                "MetricName": "DatabaseConnections",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": f"acso-{environment}-db"}],
                "Timestamp": when,
                "Value": float(rng.randint(38, 61)),
                "Unit": "Count",
            }
        )
    for batch in range(0, len(data), 500):
        cloudwatch.put_metric_data(
            Namespace="AWS/ECS",
            MetricData=[
                d for d in data[batch : batch + 500] if d["MetricName"] != "DatabaseConnections"
            ],
        )
    cloudwatch.put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[d for d in data if d["MetricName"] == "DatabaseConnections"],
    )
    cloudwatch.put_metric_data(
        Namespace="AWS/ElastiCache",
        MetricData=[
            {
                "MetricName": "CacheHitRate",
                "Dimensions": [{"Name": "CacheClusterId", "Value": f"acso-{environment}-cache"}],
                "Timestamp": now - dt.timedelta(minutes=5 * step + 2),
                "Value": round(rng.uniform(91.0, 97.5), 1),
                "Unit": "Percent",
            }
            for step in range(24)
        ],
    )
    topic = client(server, "sns", region).create_topic(Name=f"acso-{environment}-oncall")
    supervisor = full_name(environment, "supervisor")
    cloudwatch.put_metric_alarm(
        AlarmName="ACSO-MemoryLeak-Supervisor"
        if environment == "production"
        else f"ACSO-{environment}-MemoryLeak-Supervisor",
        AlarmDescription="Potential memory leak in supervisor",
        MetricName="MemoryUtilization",
        Namespace="AWS/ECS",
        Statistic="Average",
        Period=3600,
        Threshold=85,
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=3,
        Dimensions=[
            {"Name": "ClusterName", "Value": cluster},
            {"Name": "ServiceName", "Value": supervisor},
        ],
        AlarmActions=[topic["TopicArn"]],
    )
    if faults.get("alarm_state"):
        cloudwatch.set_alarm_state(
            AlarmName="ACSO-MemoryLeak-Supervisor"
            if environment == "production"
            else f"ACSO-{environment}-MemoryLeak-Supervisor",
            StateValue=str(faults["alarm_state"]),
            StateReason="Threshold Crossed: 3 datapoints were greater than the threshold (85.0)",
        )


def _log_line(short: str, index: int, rng: random.Random) -> str:
    if index % 180 == 97:
        return f"ERROR [{short}] upstream timeout calling enrichment api after 30000ms"
    if index % 41 == 5:
        return f"WARN  [{short}] slow query 1840ms table=incidents"
    if index % 53 == 11:
        pause, heap = rng.randint(40, 180), rng.randint(380, 520)
        return f"INFO  [{short}] gc pause {pause}ms heap_used_mb={heap}"
    return (
        f"INFO  [{short}] heartbeat ok agents=5 queue_depth={rng.randint(0, 9)} "
        f"latency_ms={rng.randint(8, 60)}"
    )


def _seed_logs(
    server: MotoServer,
    environment: str,
    region: str,
    faults: dict[str, Any],
    now: dt.datetime,
    rng: random.Random,
) -> None:
    logs = client(server, "logs", region)
    group = f"/aws/acso/{environment}/agents"
    logs.create_log_group(logGroupName=group)
    now_ms = int(now.timestamp() * 1000)
    errors = int(faults.get("error_events", 0))
    for number, short in enumerate(SERVICES):
        stream = f"{short}/ecs-task-{number:02d}"
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        # One line every two minutes for the last 24 h (the newest a minute ago).
        lines = [
            (now_ms - (index * 2 + 1) * 60_000 - number * 7_000, _log_line(short, index, rng))
            for index in range(719, -1, -1)
        ]
        if short == "supervisor":
            lines.append(
                (
                    now_ms - 20 * 60_000 + 500,
                    f"INFO  [supervisor] Configuration loaded from "
                    f"/acso/{environment}/supervisor/config (version 14)",
                )
            )
            lines += [
                (
                    now_ms - 50 * 60_000 + index * 19_000,
                    "ERROR [supervisor] agent threat-hunter unreachable: "
                    "connection refused (retrying)",
                )
                for index in range(errors)
            ]
        events = [{"timestamp": stamp, "message": text} for stamp, text in sorted(lines)]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def _payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _bucket(s3: Any, name: str, region: str) -> None:
    arguments: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**arguments)


def _seed_backups(
    server: MotoServer, environment: str, region: str, faults: dict[str, Any], now: dt.datetime
) -> None:
    s3 = client(server, "s3", region)
    bucket = f"acso-{environment}-backups"
    _bucket(s3, bucket, region)
    days = [now - dt.timedelta(days=1)] + ([] if faults.get("no_backup_today") else [now])
    for day in days:
        prefix = f"{day:%Y/%m/%d}/"
        s3.put_object(
            Bucket=bucket, Key=f"{prefix}acso-{environment}-db.sql.gz", Body=_payload(64 * 1024, 1)
        )
        s3.put_object(
            Bucket=bucket, Key=f"{prefix}acso-{environment}-config.tar.gz", Body=_payload(8192, 2)
        )


def _seed_backup_plan(
    server: MotoServer, environment: str, region: str, faults: dict[str, Any]
) -> None:
    # moto answers AWS Backup plans and vaults, not backup jobs (no server here does).
    backup = client(server, "backup", region)
    vault = f"acso-{environment}-vault"
    backup.create_backup_vault(BackupVaultName=vault)
    rule: dict[str, Any] = {
        "RuleName": "daily",
        "TargetBackupVaultName": vault,
        "ScheduleExpression": "cron(0 3 * * ? *)",
    }
    if not faults.get("backup_keep_forever"):
        rule["Lifecycle"] = {"DeleteAfterDays": 30}
    backup.create_backup_plan(
        BackupPlan={"BackupPlanName": f"acso-{environment}-daily", "Rules": [rule]}
    )


def _seed_autoscaling(
    server: MotoServer, environment: str, region: str, faults: dict[str, Any]
) -> None:
    # The runbook's scale-up policy on the supervisor service (scale-up-policy.json is not
    # in the runbook: one step of +1 task).
    if faults.get("no_scaling_policy"):
        return
    scaling = client(server, "application-autoscaling", region)
    resource = f"service/acso-{environment}-cluster/{full_name(environment, 'supervisor')}"
    target = {
        "ServiceNamespace": "ecs",
        "ResourceId": resource,
        "ScalableDimension": "ecs:service:DesiredCount",
    }
    scaling.register_scalable_target(**target, MinCapacity=1, MaxCapacity=10)
    scaling.put_scaling_policy(
        PolicyName="acso-supervisor-scale-up",
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
            "Cooldown": 300,
        },
        **target,
    )


def _policy(iam: Any, name: str, actions: list[str], path: str = "/") -> str:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    try:
        answer = iam.create_policy(PolicyName=name, Path=path, PolicyDocument=json.dumps(document))
        return str(answer["Policy"]["Arn"])
    except iam.exceptions.EntityAlreadyExistsException:
        return f"arn:aws:iam::{ACCOUNT_ID}:policy{path}{name}"


def _seed_iam(server: MotoServer, environment: str, region: str, faults: dict[str, Any]) -> None:
    iam = client(server, "iam", region)
    execution = f"acso-{environment}-execution-role"
    task = f"acso-{environment}-task-role"
    trusts = {full_name(environment, k): v for k, v in (faults.get("trust_account") or {}).items()}
    for role in (execution, task):
        trust = json.loads(json.dumps(_TRUST_ECS_TASKS))
        if role in trusts:
            trust["Statement"].append(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{trusts[role]}:root"},
                    "Action": "sts:AssumeRole",
                }
            )
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    managed = _policy(
        iam,
        "AmazonECSTaskExecutionRolePolicy",
        ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "logs:PutLogEvents"],
        "/service-role/",
    )
    iam.attach_role_policy(RoleName=execution, PolicyArn=managed)
    iam.put_role_policy(
        RoleName=execution,
        PolicyName=f"acso-{environment}-ssm-read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["ssm:GetParameters"],
                        "Resource": f"arn:aws:ssm:{region}:{ACCOUNT_ID}:parameter"
                        f"/acso/{environment}/*",
                    }
                ],
            }
        ),
    )
    task_policy = _policy(
        iam, f"acso-{environment}-task-policy", ["logs:PutLogEvents", "s3:GetObject", "sqs:*"]
    )
    iam.attach_role_policy(RoleName=task, PolicyArn=task_policy)
    for role, policy in _per_service(environment, faults.get("forbidden_policy")).items():
        role_name = role if role.endswith("-role") else f"{role}-role"
        iam.attach_role_policy(RoleName=role_name, PolicyArn=_policy(iam, str(policy), ["*"]))


def _seed_ssm(server: MotoServer, environment: str, region: str, faults: dict[str, Any]) -> None:
    ssm = client(server, "ssm", region)
    missing = set(faults.get("missing_parameters", []))
    names = [f"/acso/{environment}/{short}/config" for short in SERVICES]
    names.append(f"/acso/{environment}/database/url")
    for name in names:
        if name in missing:
            continue
        # Demo values only; Vigil never reads them.
        ssm.put_parameter(Name=name, Value=f"demo-{_stand_in(name)}", Type="SecureString")


def _stand_in(name: str) -> str:
    """A stable, meaningless stand-in value for a parameter."""
    return f"{random.Random(name).getrandbits(48):012x}"
