"""AWS checks: ECS, CloudWatch, Logs counts, S3, IAM, SSM, STS, Auto Scaling, AWS Backup.

Catalogue kinds ecs_service, cloudwatch_metric, iam_access, and the error_rate, log_pattern
and backup_freshness items served by CloudWatch Logs and S3. The probes (fixtures.aws) read;
these functions judge. An unobservable account (credentials, endpoint, throttling) is an
error raised by the probe, never a pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from fixtures.aws import (
    AlarmState,
    BackupJob,
    BackupPlans,
    EcsObservation,
    IamListing,
    Identity,
    LogCount,
    MetricSeries,
    S3Listing,
    ScalingPolicies,
    SsmListing,
    ecs_problems,
    policy_matches,
    slope_per_hour,
)
from fixtures.verdict import fail, judge, judge_each
from plugins.schema.aws import (
    AutoscalingPolicyCheck,
    AwsBackupJobCheck,
    AwsBackupPlansCheck,
    AwsIdentityCheck,
    CloudWatchAlarmCheck,
    CloudWatchLogsCountCheck,
    CloudWatchMetricCheck,
    CloudWatchTrendCheck,
    EcsServicesCheck,
    IamPoliciesCheck,
    S3BackupCheck,
    SsmParametersCheck,
)
from plugins.schema.base import duration_seconds

Record = Callable[[str, object], None]


@pytest.mark.kind("ecs_services")
@pytest.mark.severity("high")
@pytest.mark.availability
def test_ecs_services(check: EcsServicesCheck, observation: EcsObservation) -> None:
    problems = ecs_problems(check, observation.services)
    if problems:
        waited = f" after waiting {observation.waited_s:.0f}s" if check.wait else ""
        shown = "; ".join(problems[:4]) + (
            f" (+{len(problems) - 4} more)" if len(problems) > 4 else ""
        )
        fail(
            f"ecs {check.cluster}{waited}: {shown}",
            observed=f"{len(problems)} of {len(observation.services)} services unhealthy",
            expected={
                "desired": "running == desired, rollout COMPLETED, no failed tasks",
                "any_running": "at least one service running",
                "stopped": "desired 0 and running 0",
            }[check.expect],
        )


@pytest.mark.kind("cloudwatch_metric")
@pytest.mark.severity("medium")
@pytest.mark.performance
def test_cloudwatch_metric(
    check: CloudWatchMetricCheck, observation: list[MetricSeries], record_property: Record
) -> None:
    readings = []
    span = f" for {check.sustained} x {check.period}" if check.sustained > 1 else ""
    for series in observation:
        latest = [value for _, value in series.points[-check.sustained :]]
        # Past the band for N periods means even the mildest of the last N is past it.
        above = check.bands is None or check.bands.direction == "above"
        value = min(latest) if above else max(latest)
        readings.append((f"cloudwatch {series.label}{span}", value))
    record_property("observed", ", ".join(f"{what} = {value:.4g}" for what, value in readings))
    if check.bands is None:
        record_property(
            "message", "informational: " + "; ".join(f"{w} = {v:.4g}" for w, v in readings)
        )
        return
    judge_each(readings, check.bands)


@pytest.mark.kind("cloudwatch_trend")
@pytest.mark.severity("medium")
@pytest.mark.capacity
def test_cloudwatch_trend(check: CloudWatchTrendCheck, observation: list[MetricSeries]) -> None:
    readings = []
    for series in observation:
        first, last = series.points[0][1], series.points[-1][1]
        what = (
            f"cloudwatch {series.label} trend over {check.window} "
            f"({len(series.points)} points, {first:.4g} -> {last:.4g})"
        )
        readings.append((what, slope_per_hour(series.points)))
    judge_each(readings, check.bands)


@pytest.mark.kind("cloudwatch_alarm")
@pytest.mark.severity("medium")
def test_cloudwatch_alarm(check: CloudWatchAlarmCheck, observation: AlarmState) -> None:
    what = f"cloudwatch alarm {check.alarm}"
    if not observation.found:
        fail(f"{what} does not exist", observed="missing", expected="configured")
    wanted = {
        "namespace": check.namespace,
        "metric": check.metric,
        "statistic": check.statistic,
        "period": int(duration_seconds(check.period)) if check.period else None,
        "threshold": check.threshold,
        "comparison": check.comparison,
        "evaluation_periods": check.evaluation_periods,
    }
    for field, expected in wanted.items():
        actual = getattr(observation, field)
        if expected is not None and actual != expected:
            fail(
                f"{what}: {field} is {actual}, expected {expected}",
                observed=actual,
                expected=expected,
            )
    if check.require_dimensions and not observation.dimensions:
        fail(
            f"{what} has no dimensions: it watches a metric that is never published",
            observed="no dimensions",
            expected="ClusterName/ServiceName (or the metric's own)",
        )
    if check.require_actions and not observation.actions:
        fail(f"{what} notifies nobody (no alarm actions)", observed=0, expected=">= 1 action")
    if observation.state in check.bad_states:
        fail(
            f"{what} is {observation.state}: {observation.reason}",
            observed=observation.state,
            expected=f"not {' or '.join(check.bad_states)}",
        )


@pytest.mark.kind("cloudwatch_logs_count")
@pytest.mark.severity("medium")
def test_cloudwatch_logs_count(
    check: CloudWatchLogsCountCheck, observation: LogCount, record_property: Record
) -> None:
    if observation.total is not None:
        percent = 100.0 * observation.matched / observation.total
        what = f"logs {observation.what} per 100 events ({observation.matched}/{observation.total})"
        value = percent
    else:
        at_least = ">= " if observation.at_least else ""
        what = f"logs {observation.what} ({at_least}{observation.matched} events)"
        value = float(observation.matched)
    record_property("observed", f"{value:.4g}")
    if check.bands is None:
        record_property("message", f"informational: {what}")
        return
    judge(what, value, check.bands)


@pytest.mark.kind("s3_backup")
@pytest.mark.severity("high")
@pytest.mark.backup
def test_s3_backup(check: S3BackupCheck, observation: S3Listing) -> None:
    where = f"s3://{observation.bucket}/{observation.prefix}{observation.key_glob}"
    day = f"{observation.now:%Y-%m-%d} {check.timezone.upper()}"
    if len(observation.objects) < check.min_objects:
        fail(
            f"{where}: {len(observation.objects)} backup objects for {day}, "
            f"expected >= {check.min_objects} (today's backup is missing)",
            observed=len(observation.objects),
            expected=f">= {check.min_objects}",
        )
    small = [o for o in observation.objects if o.size < check.min_size]
    if small:
        fail(
            f"s3://{observation.bucket}/{small[0].key} is {small[0].size} bytes "
            f"(< {check.min_size}); {len(small)} object(s) too small",
            observed=f"{small[0].size} bytes",
            expected=f">= {check.min_size} bytes",
        )
    if check.max_age is not None:
        newest = max(o.last_modified for o in observation.objects)
        age = (observation.now - newest).total_seconds()
        if age > duration_seconds(check.max_age):
            fail(
                f"{where}: newest backup is {age / 3600:.1f}h old, expected <= {check.max_age}",
                observed=f"{age / 3600:.1f}h",
                expected=f"<= {check.max_age}",
            )


@pytest.mark.kind("iam_policies")
@pytest.mark.severity("high")
@pytest.mark.security
def test_iam_policies(
    check: IamPoliciesCheck, observation: IamListing, record_property: Record
) -> None:
    kind = observation.principal
    if not observation.principals and not check.missing_ok:
        fail(f"iam: no {kind} matches {check.pattern or check.names}", observed=0, expected=">= 1")
    problems, inventory = [], []
    for principal in observation.principals:
        if not principal.exists:
            if not check.missing_ok:
                problems.append(f"{kind} {principal.name} does not exist")
            continue
        policies = [(name, arn, "attached") for name, arn in principal.attached]
        policies += [(name, name, "inline") for name in principal.inline]
        inventory.append(f"{principal.name}: {', '.join(p[0] for p in policies) or 'no policies'}")
        for name, arn, how in policies:
            if policy_matches(name, arn, check.forbidden):
                problems.append(f"{kind} {principal.name}: policy {name} ({how}) is forbidden")
            elif check.allowed is not None and not policy_matches(name, arn, check.allowed):
                problems.append(f"{kind} {principal.name}: policy {name} ({how}) is not allowed")
        for required in check.required:
            if not any(policy_matches(name, arn, [required]) for name, arn, _ in policies):
                problems.append(f"{kind} {principal.name}: required policy {required} missing")
        if check.trusted_accounts is not None:
            trusted = {*check.trusted_accounts, observation.account}
            for account in principal.trusted_accounts:
                if account not in trusted:
                    problems.append(
                        f"role {principal.name}: trust policy lets account {account} assume it"
                    )
    record_property("observed", "; ".join(inventory)[:2000])
    if check.informational():
        record_property("message", "informational: " + ("; ".join(inventory) or "nothing found"))
        return
    if problems:
        fail(
            "iam: "
            + "; ".join(problems[:4])
            + (f" (+{len(problems) - 4} more)" if len(problems) > 4 else ""),
            observed=f"{len(problems)} problem(s)",
            expected="only allowed policies and trusted accounts",
        )


@pytest.mark.kind("ssm_parameters")
@pytest.mark.severity("high")
@pytest.mark.availability
def test_ssm_parameters(check: SsmParametersCheck, observation: SsmListing) -> None:
    if observation.missing:
        fail(
            f"ssm: parameter(s) missing: {', '.join(observation.missing)}",
            observed=f"{len(observation.missing)} missing",
            expected="every named parameter present",
        )
    if observation.path is not None and observation.under_path < check.min_count:
        fail(
            f"ssm: {observation.under_path} parameters under {observation.path}, "
            f"expected >= {check.min_count}",
            observed=observation.under_path,
            expected=f">= {check.min_count}",
        )
    if check.secure:
        plain = sorted(name for name, kind in observation.found.items() if kind != "SecureString")
        if plain:
            fail(
                f"ssm: not SecureString: {', '.join(plain[:5])}",
                observed=f"{len(plain)} plain parameter(s)",
                expected="SecureString",
            )


@pytest.mark.kind("aws_identity")
@pytest.mark.severity("high")
@pytest.mark.security
def test_aws_identity(check: AwsIdentityCheck, observation: Identity) -> None:
    if check.account is not None and observation.account != check.account:
        fail(
            f"aws {check.target}: credentials belong to account {observation.account}, "
            f"expected {check.account}",
            observed=observation.account,
            expected=check.account,
        )
    if check.arn_pattern is not None and not re.search(check.arn_pattern, observation.arn):
        fail(
            f"aws {check.target}: caller {observation.arn} does not match {check.arn_pattern}",
            observed=observation.arn,
            expected=check.arn_pattern,
        )


@pytest.mark.kind("autoscaling_policy")
@pytest.mark.severity("medium")
def test_autoscaling_policy(check: AutoscalingPolicyCheck, observation: ScalingPolicies) -> None:
    where = f"{check.namespace} {observation.resource_id}"
    policy = observation.named
    if policy is None:
        others = ", ".join(p.name for p in observation.on_resource) or "none"
        fail(
            f"scaling policy {check.policy} not found on {where} (policies there: {others})",
            observed="missing",
            expected=check.policy,
        )
    if policy.dimension != check.dimension:
        fail(
            f"scaling policy {check.policy} on {where} scales {policy.dimension},"
            f" expected {check.dimension}",
            observed=policy.dimension,
            expected=check.dimension,
        )
    if check.policy_type is not None and policy.policy_type != check.policy_type:
        fail(
            f"scaling policy {check.policy} on {where} is {policy.policy_type},"
            f" expected {check.policy_type}",
            observed=policy.policy_type,
            expected=check.policy_type,
        )


@pytest.mark.kind("aws_backup_plans")
@pytest.mark.severity("medium")
def test_aws_backup_plans(check: AwsBackupPlansCheck, observation: BackupPlans) -> None:
    missing = [name for name in check.plans if name not in observation.names]
    if missing or not observation.names:
        fail(
            f"aws {check.target}: backup plan(s) missing: {', '.join(missing) or 'any plan'}",
            observed=", ".join(observation.names) or "no plans",
            expected=", ".join(check.plans) or "at least one plan",
        )
    problems: list[str] = []
    for rule in observation.rules:
        days = rule.delete_after_days
        label = f"{rule.plan}/{rule.rule}"
        if days is None:
            problems.append(f"{label} has no retention (kept forever)")
        elif check.min_days is not None and days < check.min_days:
            problems.append(f"{label} keeps {days}d < {check.min_days}d")
        elif check.max_days is not None and days > check.max_days:
            problems.append(f"{label} keeps {days}d > {check.max_days}d")
    if problems:
        fail(
            f"aws {check.target}: backup retention: {'; '.join(problems)}",
            observed=f"{len(problems)} rule(s) off",
            expected="every rule has a lifecycle within bounds",
        )


@pytest.mark.kind("aws_backup_job")
@pytest.mark.severity("high")
def test_aws_backup_job(check: AwsBackupJobCheck, observation: BackupJob) -> None:
    scope = check.vault or check.resource_type or check.target
    if observation.job_id is None:
        fail(
            f"aws backup {scope}: no backup job in the last {observation.window}",
            observed="no job",
            expected="COMPLETED",
        )
    if observation.state != "COMPLETED":
        said = f": {observation.status_message}" if observation.status_message else ""
        fail(
            f"aws backup {scope}: latest job {observation.job_id} ({observation.resource})"
            f" is {observation.state}{said}",
            observed=str(observation.state),
            expected="COMPLETED",
        )
