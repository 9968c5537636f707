"""k8s_version against the simulated Kubernetes API (the real client, over HTTPS)."""

from __future__ import annotations

from pathlib import Path

from testbed.k8s import start_k8s_api
from tests.support import run_vigil


def test_server_version_against_minimums(tmp_path: Path) -> None:
    with start_k8s_api("healthy") as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        env = {
            "name": "k8s-version",
            "kubernetes": {"main": {"kubeconfig": str(kubeconfig), "context": "vigil-sim"}},
            "checks": {
                "new-enough": {"kind": "k8s_version", "cluster": "main", "minimum": "1.24"},
                "too-old": {
                    "kind": "k8s_version",
                    "cluster": "main",
                    "minimum": "1.30",
                    "severity": "high",
                },
            },
        }
        result = run_vigil(tmp_path, env, "-p", "no:html")
    assert result.result("new-enough")["outcome"] == "passed"
    too_old = result.result("too-old")
    assert (too_old["outcome"], too_old["severity"]) == ("failed", "high")
    assert too_old["message"] == "cluster main runs Kubernetes v1.29.4, expected >= 1.30"
