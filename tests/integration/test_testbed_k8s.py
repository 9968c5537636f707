"""The simulated Kubernetes API (testbed.k8s), driven only through the real ``kubernetes`` client.

This is a simulation: an HTTPS server on loopback that speaks the API server's wire protocol.
Every call below goes through a client built by ``kubernetes.config.new_client_from_config``
from the kubeconfig the simulation writes, with a ``_request_timeout``.
"""

from __future__ import annotations

import datetime as dt
import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import urllib3
import yaml
from kubernetes.client import (
    ApiClient,
    AppsV1Api,
    AuthorizationV1Api,
    AutoscalingV2Api,
    BatchV1Api,
    Configuration,
    CoreV1Api,
    CustomObjectsApi,
    NetworkingV1Api,
    V1ResourceAttributes,
    V1SelfSubjectAccessReview,
    V1SelfSubjectAccessReviewSpec,
    VersionApi,
)
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from testbed.k8s import K8sApiServer, ScenarioError, start_k8s_api
from testbed.k8s.selectors import SelectorError, field_selector, label_selector
from testbed.k8s.timeexpr import expand_templates, resolve_time

T = 5  # seconds; every client call carries it as _request_timeout
PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


@pytest.fixture(scope="module")
def k8s_api() -> Iterator[K8sApiServer]:
    with start_k8s_api("healthy") as server:
        yield server


@pytest.fixture(autouse=True)
def _reset(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "k8s_api" in request.fixturenames:
        server: K8sApiServer = request.getfixturevalue("k8s_api")
        server.clear_faults()
        if server.scenario_name != "healthy":
            server.load_scenario("healthy")


def make_client(
    server: K8sApiServer, directory: Path, token: str | None = None, retries: int | None = None
) -> ApiClient:
    kubeconfig = server.write_kubeconfig(directory / "kubeconfig", token=token)
    configuration = Configuration()
    configuration.retries = retries
    return kubernetes.config.new_client_from_config(
        config_file=str(kubeconfig), persist_config=False, client_configuration=configuration
    )


@pytest.fixture
def client(k8s_api: K8sApiServer, tmp_path: Path) -> Iterator[ApiClient]:
    api_client = make_client(k8s_api, tmp_path)
    yield api_client
    api_client.close()


def status_body(error: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body)
    return body


def condition(conditions: list[Any], kind: str) -> Any:
    return next(c for c in conditions if c.type == kind)


def last_two_am(now: dt.datetime) -> dt.datetime:
    moment = now.replace(hour=2, minute=0, second=0, microsecond=0)
    return moment if moment <= now else moment - dt.timedelta(days=1)


# --- connection, TLS, authentication ---------------------------------------------------------


@pytest.mark.integration
def test_kubeconfig_carries_ca_and_token_and_is_private(
    k8s_api: K8sApiServer, tmp_path: Path
) -> None:
    path = k8s_api.write_kubeconfig(tmp_path / "kc", context="ops")
    config = yaml.safe_load(path.read_text())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config["current-context"] == "ops"
    assert config["clusters"][0]["cluster"]["server"] == k8s_api.url
    assert config["clusters"][0]["cluster"]["certificate-authority-data"]
    assert config["users"][0]["user"]["token"] == k8s_api.token


@pytest.mark.integration
def test_client_verifies_tls_against_the_kubeconfig_ca(
    k8s_api: K8sApiServer, tmp_path: Path
) -> None:
    path = k8s_api.write_kubeconfig(tmp_path / "kc")
    config = yaml.safe_load(path.read_text())
    del config["clusters"][0]["cluster"]["certificate-authority-data"]
    path.write_text(yaml.safe_dump(config))
    configuration = Configuration()
    configuration.retries = 0
    untrusting = kubernetes.config.new_client_from_config(
        config_file=str(path), persist_config=False, client_configuration=configuration
    )
    with pytest.raises(urllib3.exceptions.MaxRetryError) as caught:
        CoreV1Api(untrusting).list_namespace(_request_timeout=T)
    assert isinstance(caught.value.reason, urllib3.exceptions.SSLError)


@pytest.mark.integration
def test_bad_token_gets_401_status(k8s_api: K8sApiServer, tmp_path: Path) -> None:
    bad = make_client(k8s_api, tmp_path, token="not-a-valid-token")
    with pytest.raises(ApiException) as caught:
        CoreV1Api(bad).list_namespaced_pod("aegis", _request_timeout=T)
    assert caught.value.status == 401
    body = status_body(caught.value)
    assert body["kind"] == "Status"
    assert body["reason"] == "Unauthorized"
    assert "not-a-valid-token" not in caught.value.body
    assert k8s_api.requests[-1].user is None


@pytest.mark.integration
def test_version_reports_the_cluster_version(client: ApiClient) -> None:
    version = VersionApi(client).get_code(_request_timeout=T)
    assert (int(version.major), int(version.minor)) >= (1, 24)
    assert version.git_version.startswith("v1.")


# --- reads per resource ------------------------------------------------------------------------


@pytest.mark.integration
def test_namespaces_list_and_get(client: ApiClient) -> None:
    core = CoreV1Api(client)
    names = {ns.metadata.name for ns in core.list_namespace(_request_timeout=T).items}
    assert {"aegis", "aureus", "kube-system", "default"} <= names
    assert core.read_namespace("aegis", _request_timeout=T).status.phase == "Active"


@pytest.mark.integration
def test_nodes_report_ready_and_no_pressure(client: ApiClient) -> None:
    nodes = CoreV1Api(client).list_node(_request_timeout=T).items
    assert len(nodes) == 3
    for node in nodes:
        by_type = {c.type: c.status for c in node.status.conditions}
        assert by_type == {
            "Ready": "True",
            "MemoryPressure": "False",
            "DiskPressure": "False",
            "PIDPressure": "False",
        }
        assert node.status.node_info.kubelet_version.startswith("v1.")


@pytest.mark.integration
def test_healthy_pods_are_running_ready_without_restarts(client: ApiClient) -> None:
    pods = CoreV1Api(client).list_namespaced_pod("aegis", _request_timeout=T).items
    assert {p.metadata.labels["app.kubernetes.io/name"] for p in pods} == {
        "backend",
        "frontend",
        "ai-engine",
        "executor",
        "postgres",
        "redis",
    }
    now = dt.datetime.now(dt.UTC)
    for pod in pods:
        assert pod.status.phase == "Running"
        assert condition(pod.status.conditions, "Ready").status == "True"
        assert all(s.restart_count == 0 and s.state.running for s in pod.status.container_statuses)
        assert pod.metadata.creation_timestamp < now


@pytest.mark.integration
def test_get_one_pod_and_404_for_unknown(client: ApiClient) -> None:
    core = CoreV1Api(client)
    pod = core.read_namespaced_pod("postgres-0", "aureus", _request_timeout=T)
    assert pod.metadata.namespace == "aureus"
    assert pod.spec.containers[0].image == "postgres:15"
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod("no-such-pod", "aureus", _request_timeout=T)
    assert caught.value.status == 404
    body = status_body(caught.value)
    assert (body["reason"], body["details"]["name"]) == ("NotFound", "no-such-pod")
    assert body["message"] == 'pods "no-such-pod" not found'


@pytest.mark.integration
def test_label_selectors_filter_lists(client: ApiClient) -> None:
    core = CoreV1Api(client)

    def names(selector: str) -> set[str]:
        pods = core.list_namespaced_pod("aegis", label_selector=selector, _request_timeout=T)
        return {p.metadata.labels["app.kubernetes.io/name"] for p in pods.items}

    backend = core.list_namespaced_pod(
        "aegis", label_selector="app.kubernetes.io/name=backend", _request_timeout=T
    )
    assert len(backend.items) == 2
    assert names("app.kubernetes.io/name in (backend,frontend)") == {"backend", "frontend"}
    assert "backend" not in names("app.kubernetes.io/name!=backend")
    assert names("statefulset.kubernetes.io/pod-name") == {"postgres", "redis"}


@pytest.mark.integration
def test_field_selectors_filter_lists_and_reject_unknown_fields(client: ApiClient) -> None:
    core = CoreV1Api(client)
    by_name = core.list_namespaced_pod(
        "aegis", field_selector="metadata.name=redis-0", _request_timeout=T
    )
    assert [p.metadata.name for p in by_name.items] == ["redis-0"]
    finished = core.list_pod_for_all_namespaces(
        field_selector="status.phase=Succeeded", _request_timeout=T
    ).items
    assert len(finished) == 1
    assert finished[0].metadata.labels["job-name"].startswith("postgres-backup-")
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_pod("aegis", field_selector="spec.hostname=x", _request_timeout=T)
    assert caught.value.status == 400
    assert status_body(caught.value)["message"] == "field label not supported: spec.hostname"


@pytest.mark.integration
def test_lists_paginate_with_limit_and_continue(client: ApiClient) -> None:
    core = CoreV1Api(client)
    everything = core.list_pod_for_all_namespaces(_request_timeout=T).items
    seen: list[str] = []
    token = None
    while True:
        page = core.list_pod_for_all_namespaces(limit=7, _continue=token, _request_timeout=T)
        assert len(page.items) <= 7
        seen += [p.metadata.name for p in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert seen == [p.metadata.name for p in everything]
    assert len(everything) > 7


@pytest.mark.integration
def test_deployments_report_rollout_status(client: ApiClient) -> None:
    apps = AppsV1Api(client)
    bridge = apps.read_namespaced_deployment("bridge", "aureus", _request_timeout=T)
    assert bridge.spec.replicas == 3
    status = bridge.status
    assert status.observed_generation == bridge.metadata.generation
    assert status.updated_replicas == status.available_replicas == status.ready_replicas == 3
    assert condition(status.conditions, "Progressing").reason == "NewReplicaSetAvailable"
    aegis = apps.list_namespaced_deployment("aegis", _request_timeout=T).items
    assert {d.metadata.name for d in aegis} == {"backend", "ai-engine", "executor", "frontend"}


@pytest.mark.integration
def test_service_endpoints_list_ready_pod_addresses(client: ApiClient) -> None:
    core = CoreV1Api(client)
    service = core.read_namespaced_service("backend", "aegis", _request_timeout=T)
    assert service.spec.ports[0].port == 3000
    endpoints = core.read_namespaced_endpoints("backend", "aegis", _request_timeout=T)
    pods = core.list_namespaced_pod(
        "aegis", label_selector="app.kubernetes.io/name=backend", _request_timeout=T
    )
    subset = endpoints.subsets[0]
    assert {a.ip for a in subset.addresses} == {p.status.pod_ip for p in pods.items}
    assert subset.not_ready_addresses is None
    assert subset.ports[0].port == 3000


@pytest.mark.integration
def test_hpa_reports_bounds_target_and_current_utilisation(client: ApiClient) -> None:
    hpa = AutoscalingV2Api(client).read_namespaced_horizontal_pod_autoscaler(
        "aureus-os-hpa", "aureus", _request_timeout=T
    )
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (3, 10)
    assert hpa.spec.scale_target_ref.name == "aureus-os"
    assert hpa.spec.metrics[0].resource.target.average_utilization == 70
    assert hpa.status.current_metrics[0].resource.current.average_utilization == 41
    assert condition(hpa.status.conditions, "ScalingActive").reason == "ValidMetricFound"


@pytest.mark.integration
def test_backup_cronjob_succeeded_after_last_schedule(
    k8s_api: K8sApiServer, client: ApiClient
) -> None:
    k8s_api.load_scenario("healthy")  # resolve "last 02:00" now, not at module start
    batch = BatchV1Api(client)
    cronjob = batch.read_namespaced_cron_job("postgres-backup", "aureus", _request_timeout=T)
    assert cronjob.spec.schedule == "0 2 * * *"
    template = cronjob.spec.job_template.spec.template.spec
    assert (template.containers[0].image, template.restart_policy) == ("postgres:15", "OnFailure")
    now = dt.datetime.now(dt.UTC)
    assert cronjob.status.last_schedule_time == last_two_am(now)
    assert cronjob.status.last_successful_time >= cronjob.status.last_schedule_time
    jobs = batch.list_namespaced_job("aureus", _request_timeout=T).items
    assert len(jobs) == 3
    for job in jobs:
        owner = job.metadata.owner_references[0]
        assert (owner.kind, owner.name, owner.uid) == (
            "CronJob",
            "postgres-backup",
            cronjob.metadata.uid,
        )
        assert condition(job.status.conditions, "Complete").status == "True"
        scheduled = job.metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        minutes = int(dt.datetime.fromisoformat(scheduled).timestamp()) // 60
        assert job.metadata.name == f"postgres-backup-{minutes}"


@pytest.mark.integration
def test_secrets_full_and_metadata_only(client: ApiClient) -> None:
    secrets = CoreV1Api(client).list_namespaced_secret("aegis", _request_timeout=T).items
    backend = next(s for s in secrets if s.metadata.name == "aegis-backend-secrets")
    assert set(backend.data) == {
        "DB_PASSWORD",
        "JWT_SECRET",
        "JWT_REFRESH_SECRET",
        "REDIS_PASSWORD",
    }
    response = client.call_api(
        "/api/v1/namespaces/{namespace}/secrets",
        "GET",
        path_params={"namespace": "aegis"},
        header_params={"Accept": PARTIAL_LIST},
        auth_settings=["BearerToken"],
        _preload_content=False,
        _return_http_data_only=True,
        _request_timeout=T,
    )
    partial = json.loads(response.data)
    assert partial["kind"] == "PartialObjectMetadataList"
    assert {i["metadata"]["name"] for i in partial["items"]} == {
        "aegis-backend-secrets",
        "aegis-ai-engine-secrets",
        "aegis-executor-secrets",
        "aegis-executor-hmac",
    }
    assert all(set(item) == {"kind", "apiVersion", "metadata"} for item in partial["items"])


@pytest.mark.integration
def test_network_policies_include_default_deny(client: ApiClient) -> None:
    policies = NetworkingV1Api(client).list_namespaced_network_policy("aegis", _request_timeout=T)
    by_name = {p.metadata.name: p for p in policies.items}
    deny = by_name["default-deny-all"].spec
    assert deny.pod_selector.match_labels is None and deny.ingress is None
    assert set(deny.policy_types) == {"Ingress", "Egress"}
    allow = by_name["allow-backend-to-postgres"].spec
    assert allow.pod_selector.match_labels == {"app.kubernetes.io/name": "postgres"}
    assert allow.ingress[0].ports[0].port == 5432


@pytest.mark.integration
def test_pod_log_tail(client: ApiClient) -> None:
    response = CoreV1Api(client).read_namespaced_pod_log(
        "backend-6b8f9c7d5-x2kfq", "aegis", tail_lines=1, _preload_content=False, _request_timeout=T
    )
    lines = response.data.decode().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["msg"] == "GET /api/v1/health/ping 200 2ms"


@pytest.mark.integration
def test_dynamic_client_discovers_and_reads(client: ApiClient, tmp_path: Path) -> None:
    # The discovery cache goes to tmp_path instead of the client's default under /tmp.
    dynamic = DynamicClient(client, cache_file=str(tmp_path / "discovery.json"))
    deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    listed = deployments.get(namespace="aureus", _request_timeout=T)
    assert {d.metadata.name for d in listed.items} >= {"bridge", "aureus-os", "openclaw"}


# --- access reviews and RBAC ---------------------------------------------------------------------


def can_i(client: ApiClient, verb: str, resource: str, namespace: str, group: str = "") -> Any:
    review = V1SelfSubjectAccessReview(
        spec=V1SelfSubjectAccessReviewSpec(
            resource_attributes=V1ResourceAttributes(
                verb=verb, resource=resource, namespace=namespace, group=group
            )
        )
    )
    return (
        AuthorizationV1Api(client)
        .create_self_subject_access_review(review, _request_timeout=T)
        .status
    )


@pytest.mark.integration
def test_self_subject_access_review_follows_the_token_rules(
    k8s_api: K8sApiServer, client: ApiClient, tmp_path: Path
) -> None:
    assert can_i(client, "list", "pods", "aureus").allowed is True
    assert can_i(client, "create", "secrets", "aegis").allowed is False
    operator = make_client(k8s_api, tmp_path, token=k8s_api.issue_token("aegis-operator"))
    for resource, group in [
        ("secrets", ""),
        ("deployments", "apps"),
        ("services", ""),
        ("configmaps", ""),
        ("networkpolicies", "networking.k8s.io"),
    ]:
        decision = can_i(operator, "create", resource, "aegis", group)
        assert decision.allowed is True, resource
        assert "aegis-operator" in decision.reason
    assert can_i(operator, "create", "secrets", "aureus").allowed is False
    executor = make_client(
        k8s_api, tmp_path, token=k8s_api.issue_token("system:serviceaccount:aegis:executor")
    )
    assert can_i(executor, "delete", "pods", "aegis").allowed is True
    assert can_i(executor, "patch", "deployments", "aegis", "apps").allowed is True
    assert can_i(executor, "delete", "deployments", "aegis", "apps").allowed is False


@pytest.mark.integration
def test_reads_are_authorised_per_user(k8s_api: K8sApiServer, tmp_path: Path) -> None:
    viewer = CoreV1Api(make_client(k8s_api, tmp_path, token=k8s_api.issue_token("newuser")))
    assert viewer.list_namespaced_pod("aureus", _request_timeout=T).items
    with pytest.raises(ApiException) as caught:
        viewer.list_namespaced_secret("aureus", _request_timeout=T)
    assert caught.value.status == 403
    assert status_body(caught.value)["message"] == (
        'secrets is forbidden: User "newuser" cannot list resource "secrets" '
        'in API group "" in the namespace "aureus"'
    )
    revoked = CoreV1Api(make_client(k8s_api, tmp_path, token=k8s_api.issue_token("olduser")))
    with pytest.raises(ApiException) as caught:
        revoked.list_namespaced_pod("aureus", _request_timeout=T)
    assert caught.value.status == 403


# --- faults ------------------------------------------------------------------------------------


@pytest.mark.integration
def test_fault_answers_500_for_a_path_prefix_only(k8s_api: K8sApiServer, client: ApiClient) -> None:
    k8s_api.set_fault("/apis/apps/v1", 500)
    with pytest.raises(ApiException) as caught:
        AppsV1Api(client).list_namespaced_deployment("aegis", _request_timeout=T)
    assert caught.value.status == 500
    assert status_body(caught.value)["reason"] == "InternalError"
    assert CoreV1Api(client).list_namespaced_pod("aegis", _request_timeout=T).items
    k8s_api.clear_faults()
    assert AppsV1Api(client).list_namespaced_deployment("aegis", _request_timeout=T).items


@pytest.mark.integration
def test_fault_answers_429_with_retry_after(k8s_api: K8sApiServer, tmp_path: Path) -> None:
    k8s_api.set_fault("/api/v1/namespaces/aegis/pods", 429)
    # retries=0: urllib3's default retry would honour Retry-After (1 s) three times.
    no_retry = CoreV1Api(make_client(k8s_api, tmp_path, retries=0))
    with pytest.raises(ApiException) as caught:
        no_retry.list_namespaced_pod("aegis", _request_timeout=T)
    assert caught.value.status == 429
    assert caught.value.headers["Retry-After"] == "1"
    assert status_body(caught.value)["reason"] == "TooManyRequests"


@pytest.mark.integration
def test_hang_fault_trips_the_client_timeout(k8s_api: K8sApiServer, tmp_path: Path) -> None:
    k8s_api.set_fault("/api/v1/namespaces/aegis/pods", "hang")
    impatient = CoreV1Api(make_client(k8s_api, tmp_path, retries=0))
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.MaxRetryError) as caught:
        impatient.list_namespaced_pod("aegis", _request_timeout=0.3)
    assert isinstance(caught.value.reason, urllib3.exceptions.ReadTimeoutError)
    assert time.monotonic() - started < 2.0


def test_fault_must_be_an_error_status_or_hang(k8s_api: K8sApiServer) -> None:
    with pytest.raises(ValueError, match="400-599"):
        k8s_api.set_fault("/api", 200)


# --- fault scenarios ---------------------------------------------------------------------------


@pytest.mark.integration
def test_crashloop_scenario(k8s_api: K8sApiServer, client: ApiClient) -> None:
    k8s_api.load_scenario("crashloop")
    core = CoreV1Api(client)
    pods = core.list_namespaced_pod(
        "aegis", label_selector="app.kubernetes.io/name=backend", _request_timeout=T
    ).items
    crashing = [p for p in pods if p.status.container_statuses[0].state.waiting]
    assert len(crashing) == 1
    status = crashing[0].status.container_statuses[0]
    assert status.state.waiting.reason == "CrashLoopBackOff"
    assert status.restart_count == 14
    assert status.last_state.terminated.exit_code == 1
    assert condition(crashing[0].status.conditions, "Ready").status == "False"
    events = core.list_namespaced_event(
        "aegis",
        field_selector=f"involvedObject.name={crashing[0].metadata.name}",
        _request_timeout=T,
    ).items
    assert [(e.type, e.reason) for e in events] == [("Warning", "BackOff")]
    endpoints = core.read_namespaced_endpoints("backend", "aegis", _request_timeout=T)
    assert [a.ip for a in endpoints.subsets[0].not_ready_addresses] == [crashing[0].status.pod_ip]
    backend = AppsV1Api(client).read_namespaced_deployment("backend", "aegis", _request_timeout=T)
    assert backend.status.available_replicas < backend.spec.replicas
    assert condition(backend.status.conditions, "Available").status == "False"


@pytest.mark.integration
def test_rollout_stuck_scenario(k8s_api: K8sApiServer, client: ApiClient) -> None:
    k8s_api.load_scenario("rollout-stuck")
    bridge = AppsV1Api(client).read_namespaced_deployment("bridge", "aureus", _request_timeout=T)
    progressing = condition(bridge.status.conditions, "Progressing")
    assert (progressing.status, progressing.reason) == ("False", "ProgressDeadlineExceeded")
    assert bridge.status.updated_replicas == 1 < bridge.spec.replicas
    pods = (
        CoreV1Api(client)
        .list_namespaced_pod(
            "aureus",
            label_selector="app=bridge",
            field_selector="status.phase=Pending",
            _request_timeout=T,
        )
        .items
    )
    assert [p.status.container_statuses[0].state.waiting.reason for p in pods] == [
        "ImagePullBackOff"
    ]


@pytest.mark.integration
def test_cronjob_missed_scenario(k8s_api: K8sApiServer, client: ApiClient) -> None:
    k8s_api.load_scenario("cronjob-missed")
    batch = BatchV1Api(client)
    cronjob = batch.read_namespaced_cron_job("postgres-backup", "aureus", _request_timeout=T)
    now = dt.datetime.now(dt.UTC)
    assert cronjob.status.last_successful_time < last_two_am(now)
    assert now - cronjob.status.last_successful_time > dt.timedelta(hours=26)
    jobs = sorted(
        batch.list_namespaced_job("aureus", _request_timeout=T).items,
        key=lambda j: j.metadata.creation_timestamp,
    )
    newest = jobs[-1]
    failed = condition(newest.status.conditions, "Failed")
    assert (failed.status, failed.reason) == ("True", "BackoffLimitExceeded")
    since_success = [j for j in jobs if j.status.start_time > cronjob.status.last_successful_time]
    assert len(since_success) == 2
    assert all(j.status.succeeded is None for j in since_success)


@pytest.mark.integration
def test_custom_scenario_from_mapping(k8s_api: K8sApiServer, client: ApiClient) -> None:
    k8s_api.load_scenario(
        {
            "name": "one-namespace",
            "access": {"vigil": [{"verbs": ["list", "get"], "resources": ["*"]}]},
            "objects": [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "solo"}},
            ],
        }
    )
    names = [ns.metadata.name for ns in CoreV1Api(client).list_namespace(_request_timeout=T).items]
    assert names == ["solo"]


def test_unknown_scenario_is_a_clear_error(k8s_api: K8sApiServer) -> None:
    with pytest.raises(ScenarioError, match="no Kubernetes scenario named 'nope'"):
        k8s_api.load_scenario("nope")


# --- building blocks (no server) -----------------------------------------------------------------


def test_time_expressions_resolve_relative_to_now() -> None:
    now = dt.datetime(2024, 3, 10, 9, 30, tzinfo=dt.UTC)
    assert resolve_time("-26h", now) == dt.datetime(2024, 3, 9, 7, 30, tzinfo=dt.UTC)
    assert resolve_time("last 02:00 +4m", now) == dt.datetime(2024, 3, 10, 2, 4, tzinfo=dt.UTC)
    assert resolve_time("last 12:00", now) == dt.datetime(2024, 3, 9, 12, 0, tzinfo=dt.UTC)
    early = dt.datetime(2024, 3, 10, 2, 1, tzinfo=dt.UTC)
    assert resolve_time("last 02:00 +4m", early) == early  # never in the future
    minutes = int(dt.datetime(2024, 3, 10, 2, 0, tzinfo=dt.UTC).timestamp()) // 60
    assert expand_templates("job-{unix_minutes:last 02:00}", now) == f"job-{minutes}"


def test_label_selector_parsing() -> None:
    pod = {"metadata": {"labels": {"app": "web", "tier": "front"}}}
    assert label_selector("app=web,tier in (front, back)")(pod)
    assert not label_selector("app=web,!tier")(pod)
    assert label_selector("app notin (db),release!=canary")(pod)
    with pytest.raises(SelectorError):
        label_selector("app=(")


def test_field_selector_rejects_unsupported_fields() -> None:
    supported = frozenset({"metadata.name"})
    assert field_selector("metadata.name=a", supported)({"metadata": {"name": "a"}})
    with pytest.raises(SelectorError, match=r"field label not supported: status\.phase"):
        field_selector("status.phase=Running", supported)


@pytest.mark.integration
def test_pod_metrics_served_as_metrics_server_does(client: ApiClient) -> None:
    """The simulated metrics.k8s.io/v1beta1 PodMetrics list, read as `kubectl top pods` does."""
    listed = CustomObjectsApi(client).list_namespaced_custom_object(
        "metrics.k8s.io",
        "v1beta1",
        "aureus",
        "pods",
        label_selector="app=bridge",
        _request_timeout=T,
    )
    assert listed["kind"] == "PodMetricsList" and len(listed["items"]) == 3
    usage = listed["items"][0]["containers"][0]["usage"]
    assert usage == {"cpu": "120m", "memory": "256Mi"}
    assert listed["items"][0]["timestamp"].endswith("Z")
