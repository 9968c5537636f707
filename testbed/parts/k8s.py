"""The simulated Kubernetes API (``testbed.k8s``) and a kubeconfig with one context per user.

Variables: ``VIGIL_K8S_KUBECONFIG`` (the file), ``VIGIL_K8S_CONTEXT`` (Vigil's read-only
identity) and ``VIGIL_K8S_<USER>_CONTEXT`` for the identities whose rights the RBAC checks
review (the aegis executor service account, the aegis operator, a new and a departed
engineer). The scenario is ``testbed.scenarios.k8s`` (default ``healthy``).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from testbed.demo import RunningTestbed, TestbedError

CONTEXT = "vigil-sim"
# Context suffix -> the simulated cluster's user name (see testbed/k8s/scenarios/healthy.yaml).
IDENTITIES = {
    "executor": "system:serviceaccount:aegis:executor",
    "operator": "aegis-operator",
    "newuser": "newuser",
    "olduser": "olduser",
}


def start(spec: Mapping[str, Any], running: RunningTestbed) -> None:
    from testbed.k8s import ScenarioError, start_k8s_api

    scenario = str((spec.get("scenarios") or {}).get("k8s", "healthy"))
    try:
        server = start_k8s_api(scenario)
    except ScenarioError as problem:
        raise TestbedError(f"k8s: {problem}") from None
    running.stoppers.append(server.stop)
    directory = Path(tempfile.mkdtemp(prefix="vigil-k8s-"))
    running.stoppers.append(lambda: shutil.rmtree(directory, ignore_errors=True))
    contexts = {CONTEXT: server.token}
    for suffix, user in IDENTITIES.items():
        contexts[f"{CONTEXT}-{suffix}"] = server.issue_token(user)
    kubeconfig = merged_kubeconfig(server, directory, contexts)
    running.variables["VIGIL_K8S_KUBECONFIG"] = str(kubeconfig)
    running.variables["VIGIL_K8S_CONTEXT"] = CONTEXT
    for suffix in IDENTITIES:
        running.variables[f"VIGIL_K8S_{suffix.upper()}_CONTEXT"] = f"{CONTEXT}-{suffix}"


def merged_kubeconfig(server: Any, directory: Path, tokens: Mapping[str, str]) -> Path:
    """One kubeconfig (mode 0600) holding a context per ``tokens`` entry, the first current."""
    merged: dict[str, Any] = {"clusters": [], "users": [], "contexts": []}
    for context, token in tokens.items():
        part = server.write_kubeconfig(directory / f"{context}.part", context=context, token=token)
        document = yaml.safe_load(part.read_text(encoding="utf-8"))
        part.unlink()
        for key in merged:
            merged[key] += document[key]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        **merged,
        "current-context": next(iter(tokens)),
    }
    path = directory / "kubeconfig"
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
