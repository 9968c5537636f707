"""AWS accounts and the checks that read them: ECS, CloudWatch, CloudWatch Logs, S3, IAM, SSM.

Every check only reads (describe/list/get calls); SSM parameter values are never fetched.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from plugins.schema.base import Bands, CheckSpec, Duration, StrictModel, duration_seconds
from plugins.schema.registry import check_kind, section

Statistic = Literal["Average", "Maximum", "Minimum", "Sum", "SampleCount"]
AlarmStateValue = Literal["ALARM", "INSUFFICIENT_DATA", "OK"]
_ALARM_ONLY: list[AlarmStateValue] = ["ALARM"]


@section("aws")
class AwsTarget(StrictModel):
    """One AWS account and region as Vigil reaches it.

    Credentials come from the usual chain (environment, ``profile``, instance role) unless
    given here; ``role_arn`` is assumed through STS first. ``endpoint_url`` points every
    client elsewhere (moto, LocalStack).

    Example::

        aws:
          acso:
            region: us-east-1
            profile: acso-readonly
            role_arn: arn:aws:iam::123456789012:role/vigil-readonly
    """

    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    profile: str | None = None
    role_arn: str | None = Field(default=None, pattern=r"^arn:aws[\w-]*:iam::\d{12}:role/.+")
    external_id: SecretStr | None = None
    endpoint_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+")
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    connect_timeout: float = Field(default=3.0, gt=0, le=60)
    read_timeout: float = Field(default=5.0, gt=0, le=120)

    @model_validator(mode="after")
    def _key_pair(self) -> AwsTarget:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("give both access_key_id and secret_access_key, or neither")
        if self.session_token is not None and self.access_key_id is None:
            raise ValueError("session_token needs access_key_id and secret_access_key")
        if self.profile is not None and self.access_key_id is not None:
            raise ValueError("give a profile or keys, not both")
        return self


class AwsCheck(CheckSpec):
    """Fields every AWS check has: which account it reads."""

    target: str = Field(description="a name under aws:")

    def references(self) -> list[tuple[str, str]]:
        return [("aws", self.target)]

    def observation_budget(self, timeout: float) -> float:
        # Paginated listings and a retry per call: several round trips per observation.
        return timeout * 6

    def subject(self) -> str:
        return self.component or f"aws/{self.target}"


@check_kind("ecs_services")
class EcsServicesCheck(AwsCheck):
    """ECS services of a cluster: running == desired, rollout completed, no failed tasks.

    ``expect: desired`` is the daily check; ``any_running`` the complete-outage test (at least
    one service has a task running); ``stopped`` confirms an isolation (desired 0, running 0).
    With ``wait`` the services are polled until stable, as ``aws ecs wait services-stable``.
    """

    probe: ClassVar[str] = "fixtures.aws:probe_ecs_services"
    kind: Literal["ecs_services"] = "ecs_services"
    cluster: str
    services: list[str] | None = Field(
        default=None, description="service names; none: every service in the cluster"
    )
    expect: Literal["desired", "any_running", "stopped"] = "desired"
    rollout: bool = Field(
        default=True, description="the PRIMARY deployment is COMPLETED and the only one"
    )
    failed_tasks: bool = Field(default=True, description="the PRIMARY deployment has none")
    tasks: bool = Field(
        default=False, description="also list the tasks: RUNNING count and none UNHEALTHY"
    )
    wait: Duration | None = None
    poll_every: Duration = "15s"

    def observation_budget(self, timeout: float) -> float:
        waited = duration_seconds(self.wait) if self.wait else 0.0
        return waited + timeout * 6

    def default_cadence(self) -> list[str]:
        return ["post_deploy"] if self.wait else ["daily"]

    def subject(self) -> str:
        return self.component or f"ecs/{self.cluster}"


class CloudWatchSelection(AwsCheck):
    """One CloudWatch metric: namespace, name, dimensions, statistic, period and window."""

    namespace: str
    metric: str
    dimensions: dict[str, str] = Field(default_factory=dict)
    for_each: dict[str, list[str]] | None = Field(
        default=None,
        description="one dimension and its values: the check judges each series, "
        "e.g. {ServiceName: [acso-production-supervisor, ...]}",
    )
    statistic: Statistic = "Average"
    period: Duration = "5m"
    window: Duration = "1h"

    @field_validator("period")
    @classmethod
    def _whole_minutes(cls, value: str) -> str:
        seconds = duration_seconds(value)
        if seconds < 60 or seconds % 60:
            raise ValueError("period must be a whole number of minutes (CloudWatch: 60 s steps)")
        return value

    @field_validator("for_each")
    @classmethod
    def _one_dimension(cls, value: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        if value is not None and (len(value) != 1 or not next(iter(value.values()))):
            raise ValueError("for_each names one dimension and at least one value")
        return value

    @model_validator(mode="after")
    def _window_holds_a_period(self) -> CloudWatchSelection:
        periods = duration_seconds(self.window) / duration_seconds(self.period)
        if not 1 <= periods <= 1440:
            raise ValueError("window must hold 1 to 1440 periods (CloudWatch's datapoint limit)")
        return self


@check_kind("cloudwatch_metric")
class CloudWatchMetricCheck(CloudWatchSelection):
    """The latest datapoints of a metric against bands; ``sustained: 2`` means "for 2 periods".

    With ``sustained: N`` the judged value is the least extreme of the latest N datapoints, so
    "CPU > 80% for 10 minutes" is ``period: 5m``, ``sustained: 2``, ``bands: {crit: 80}``.
    Without bands the check is informational: it reports the value and never fails.
    """

    probe: ClassVar[str] = "fixtures.aws:probe_cloudwatch_metric"
    kind: Literal["cloudwatch_metric"] = "cloudwatch_metric"
    sustained: int = Field(default=1, ge=1, le=1440)
    bands: Bands | None = None


@check_kind("cloudwatch_trend")
class CloudWatchTrendCheck(CloudWatchSelection):
    """A least-squares slope over the window's datapoints (per hour) against bands: a leak."""

    probe: ClassVar[str] = "fixtures.aws:probe_cloudwatch_metric"
    kind: Literal["cloudwatch_trend"] = "cloudwatch_trend"
    period: Duration = "1h"
    window: Duration = "24h"
    min_points: int = Field(default=6, ge=3)
    bands: Bands = Field(description="on the slope in units per hour, e.g. {crit: 1, unit: '%/h'}")


@check_kind("cloudwatch_alarm")
class CloudWatchAlarmCheck(AwsCheck):
    """An alarm exists as configured, watches a metric with dimensions, and is not firing."""

    probe: ClassVar[str] = "fixtures.aws:probe_cloudwatch_alarm"
    kind: Literal["cloudwatch_alarm"] = "cloudwatch_alarm"
    alarm: str
    namespace: str | None = None
    metric: str | None = None
    statistic: Statistic | None = None
    period: Duration | None = None
    threshold: float | None = None
    comparison: str | None = None
    evaluation_periods: int | None = Field(default=None, ge=1)
    require_dimensions: bool = Field(
        default=True, description="an alarm without dimensions watches a metric that never exists"
    )
    require_actions: bool = Field(default=False, description="it notifies somebody when it fires")
    bad_states: list[AlarmStateValue] = Field(default_factory=lambda: _ALARM_ONLY.copy())


@check_kind("cloudwatch_logs_count")
class CloudWatchLogsCountCheck(AwsCheck):
    """Events of a log group matching a filter pattern over a window, counted (or a percentage).

    ``pattern`` is CloudWatch Logs filter syntax, sent as written. ``any_of`` lists plain terms
    or quoted phrases, one query each, an event counted once however many it matches (the
    portable spelling of ``?a ?b``). ``percent_of`` makes it a rate: matches per 100 events
    matching that pattern ("" = every event). Without bands the count is informational.
    """

    probe: ClassVar[str] = "fixtures.aws:probe_logs_count"
    kind: Literal["cloudwatch_logs_count"] = "cloudwatch_logs_count"
    log_group: str
    pattern: str = ""
    any_of: list[str] | None = None
    stream_prefix: str | None = None
    window: Duration = "24h"
    percent_of: str | None = None
    bands: Bands | None = None
    max_pages: int = Field(default=100, ge=1, le=10_000, description="10000 events a page")

    @model_validator(mode="after")
    def _one_filter(self) -> CloudWatchLogsCountCheck:
        if self.any_of is not None and (self.pattern or not self.any_of):
            raise ValueError("give pattern or a non-empty any_of, not both")
        if self.percent_of is not None and self.any_of is not None:
            raise ValueError("percent_of works with pattern, not any_of")
        return self

    def subject(self) -> str:
        return self.component or f"logs/{self.log_group}"


@check_kind("s3_backup")
class S3BackupCheck(AwsCheck):
    """Today's backup objects exist under a dated prefix, are not empty, and are recent.

    ``prefix`` and ``key`` are strftime templates filled with the run's date in ``timezone``
    (``%Y/%m/%d/``); ``key`` is a glob over the part of the key after the prefix.
    """

    probe: ClassVar[str] = "fixtures.aws:probe_s3_backup"
    kind: Literal["s3_backup"] = "s3_backup"
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    prefix: str = "%Y/%m/%d/"
    key: str = "*"
    timezone: Literal["utc", "local"] = "utc"
    min_objects: int = Field(default=1, ge=1)
    min_size: int = Field(default=1, ge=0, description="bytes each object must have at least")
    max_age: Duration | None = None

    def subject(self) -> str:
        return self.component or f"s3/{self.bucket}"


@check_kind("iam_policies")
class IamPoliciesCheck(AwsCheck):
    """IAM roles or users carry only allowed policies (attached and inline).

    Policies are named by name or ARN; names may be globs. ``allowed`` (when given) is the
    whole list a principal may carry; ``forbidden`` may never appear; ``required`` must.
    ``trusted_accounts`` lists the accounts a role's trust policy may name (cross-account
    review). With none of these the check is informational: it lists what it found.
    """

    probe: ClassVar[str] = "fixtures.aws:probe_iam_policies"
    kind: Literal["iam_policies"] = "iam_policies"
    principal: Literal["role", "user"] = "role"
    names: list[str] | None = None
    pattern: str | None = Field(default=None, description="regex searched in the name")
    allowed: list[str] | None = None
    forbidden: list[str] = Field(default_factory=list)
    required: list[str] = Field(default_factory=list)
    trusted_accounts: list[str] | None = None
    missing_ok: bool = Field(
        default=False, description="a named principal that does not exist passes (revoked)"
    )

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as problem:
                raise ValueError(f"pattern is not a regex: {problem}") from None
        return value

    @model_validator(mode="after")
    def _selects(self) -> IamPoliciesCheck:
        if (self.names is None) == (self.pattern is None):
            raise ValueError("give exactly one of names, pattern")
        return self

    def informational(self) -> bool:
        """True when nothing is asserted: the check only reports."""
        return (
            self.allowed is None
            and not self.forbidden
            and not self.required
            and self.trusted_accounts is None
        )


@check_kind("ssm_parameters")
class SsmParametersCheck(AwsCheck):
    """SSM parameters exist (by name, or at least N under a path); values are never read."""

    probe: ClassVar[str] = "fixtures.aws:probe_ssm_parameters"
    kind: Literal["ssm_parameters"] = "ssm_parameters"
    names: list[str] = Field(default_factory=list)
    path: str | None = Field(default=None, pattern=r"^/")
    min_count: int = Field(default=1, ge=0)
    secure: bool = Field(default=False, description="every parameter found is a SecureString")

    @model_validator(mode="after")
    def _selects(self) -> SsmParametersCheck:
        if not self.names and self.path is None:
            raise ValueError("give names, path, or both")
        return self


@check_kind("aws_identity")
class AwsIdentityCheck(AwsCheck):
    """The credentials work (STS GetCallerIdentity) and belong to the expected account."""

    probe: ClassVar[str] = "fixtures.aws:probe_identity"
    kind: Literal["aws_identity"] = "aws_identity"
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    arn_pattern: str | None = Field(default=None, description="regex the caller ARN must match")


@check_kind("autoscaling_policy")
class AutoscalingPolicyCheck(AwsCheck):
    """An Application Auto Scaling policy exists on the stated resource and dimension.

    ``describe-scaling-policies``: the policy named ``policy`` has ``policy_type`` and sits on
    ``resource_id`` / ``dimension`` of ``namespace``.
    """

    probe: ClassVar[str] = "fixtures.aws:probe_autoscaling_policy"
    kind: Literal["autoscaling_policy"] = "autoscaling_policy"
    namespace: str = Field(default="ecs", description="ecs, dynamodb, rds, ...")
    resource_id: str = Field(description="e.g. service/CLUSTER/SERVICE")
    dimension: str = Field(description="e.g. ecs:service:DesiredCount")
    policy: str
    policy_type: Literal["StepScaling", "TargetTrackingScaling", "PredictiveScaling"] | None = None

    def subject(self) -> str:
        return self.component or f"autoscaling/{self.resource_id}"


@check_kind("aws_backup_plans")
class AwsBackupPlansCheck(AwsCheck):
    """AWS Backup plans exist and every rule has a retention (lifecycle ``DeleteAfterDays``).

    ``plans`` names the plans required (none: every plan, at least one); ``min_days`` and
    ``max_days`` bound each rule's retention.
    """

    probe: ClassVar[str] = "fixtures.aws:probe_backup_plans"
    kind: Literal["aws_backup_plans"] = "aws_backup_plans"
    plans: list[str] = Field(default_factory=list, description="plan names; none: all")
    min_days: int | None = Field(default=None, ge=1)
    max_days: int | None = Field(default=None, ge=1)

    def subject(self) -> str:
        return self.component or f"backup/{self.target}"


@check_kind("aws_backup_job")
class AwsBackupJobCheck(AwsCheck):
    """The latest AWS Backup job (of a vault or resource type) within ``window`` is COMPLETED.

    ``list-backup-jobs --by-created-after``, then the newest job's ``State``.
    """

    probe: ClassVar[str] = "fixtures.aws:probe_backup_job"
    kind: Literal["aws_backup_job"] = "aws_backup_job"
    window: Duration = "24h"
    vault: str | None = None
    resource_type: str | None = Field(default=None, description="e.g. RDS, EFS, EC2")

    def subject(self) -> str:
        return self.component or f"backup/{self.vault or self.target}"
