"""deploy/k8s/backfill/: the replay Job runs as written, with the workers' partitions, rules and identifier
key, on its volume, with no network, and cleans up when it is stopped or retried.

The Job's own arguments and environment are run here, with its mounts mapped into a folder: the image's
entry point is ``touchpoint``, and the folders ``/data`` and ``/etc/touchpoint/rules`` become the test's.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from streams.replay import OUTPUT_FILES
from tests.deploy.settings_env import unknown_settings
from tests.deploy.test_k8s import LITERAL_ENV as WORKER_ENV
from tests.deploy.test_k8s import of_kind
from tests.streams.replay.traffic import traffic

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
BACKFILL = ROOT / "deploy" / "k8s" / "backfill"
DOCUMENTS = [
    document for path in sorted(BACKFILL.glob("*.yaml")) for document in yaml.safe_load_all(path.read_text())
]
(JOB,) = [document for document in DOCUMENTS if document["kind"] == "Job"]
(CLAIM,) = [document for document in DOCUMENTS if document["kind"] == "PersistentVolumeClaim"]
(POLICY,) = [document for document in DOCUMENTS if document["kind"] == "NetworkPolicy"]
POD: dict[str, Any] = JOB["spec"]["template"]
(REPLAY,) = POD["spec"]["containers"]
ENV: list[dict[str, Any]] = REPLAY["env"]
LITERAL_ENV = {item["name"]: str(item["value"]) for item in ENV if "value" in item}
MOUNTS = {mount["name"]: Path(mount["mountPath"]) for mount in REPLAY["volumeMounts"]}
VOLUMES = {volume["name"]: volume for volume in POD["spec"]["volumes"]}


def argument(option: str) -> str:
    arguments = REPLAY["args"]
    return str(arguments[arguments.index(option) + 1])


def test_the_job_replays_with_the_workers_partitions_rules_and_identifier_key() -> None:
    assert REPLAY["args"][0] == "replay"
    assert not unknown_settings(list(LITERAL_ENV))
    assert LITERAL_ENV["TOUCHPOINT_PARTITIONS"] == WORKER_ENV["TOUCHPOINT_PARTITIONS"]
    assert LITERAL_ENV["TOUCHPOINT_CONFIG"] == WORKER_ENV["TOUCHPOINT_CONFIG"]
    [salt] = [item for item in ENV if item["name"] == "TOUCHPOINT_IDENTITY_SALT"]
    assert salt["valueFrom"]["secretKeyRef"] == {"name": "touchpoint", "key": "identity-salt"}
    rules = VOLUMES["rules"]["configMap"]["name"]
    assert rules in {document["metadata"]["name"] for document in of_kind("ConfigMap")}
    assert Path(LITERAL_ENV["TOUCHPOINT_CONFIG"]).parent == MOUNTS["rules"]


def test_the_job_reads_and_writes_only_its_volume_one_process_per_cpu_and_never_restarts_in_place() -> None:
    data = MOUNTS["data"]
    assert VOLUMES["data"]["persistentVolumeClaim"]["claimName"] == CLAIM["metadata"]["name"]
    paths = (REPLAY["args"][1], argument("--erasures"), argument("--out"))
    assert all(Path(path).is_relative_to(data) for path in paths)
    assert argument("--processes") == str(REPLAY["resources"]["requests"]["cpu"])
    # A retry is a new pod: it finds the output folder as the one before left it.
    assert POD["spec"]["restartPolicy"] == "Never"
    assert JOB["spec"]["backoffLimit"] >= 1
    assert POD["spec"]["securityContext"]["runAsNonRoot"] is True
    assert REPLAY["securityContext"]["readOnlyRootFilesystem"] is True


def test_no_traffic_reaches_or_leaves_a_backfill() -> None:
    assert POLICY["spec"]["podSelector"]["matchLabels"] == {
        key: POD["metadata"]["labels"][key] for key in POLICY["spec"]["podSelector"]["matchLabels"]
    }
    assert set(POLICY["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert not POLICY["spec"].get("ingress")
    assert not POLICY["spec"].get("egress")


def test_the_backfill_is_applied_on_purpose_never_with_the_kustomization() -> None:
    kustomization = yaml.safe_load((ROOT / "deploy" / "k8s" / "kustomization.yaml").read_text())
    assert not [resource for resource in kustomization["resources"] if "backfill" in resource]


def test_the_jobs_command_runs_as_written(tmp_path: Path) -> None:
    """The Job's arguments and environment, its volume and its rules mount mapped into *tmp_path*."""
    mapped = {MOUNTS["data"]: tmp_path / "data", MOUNTS["rules"]: tmp_path / "rules"}

    def local(path: str) -> str:
        for mounted, folder in mapped.items():
            if Path(path).is_relative_to(mounted):
                return str(folder / Path(path).relative_to(mounted))
        return path

    (configmap,) = [
        document
        for document in of_kind("ConfigMap")
        if document["metadata"]["name"] == VOLUMES["rules"]["configMap"]["name"]
    ]
    mapped[MOUNTS["rules"]].mkdir()
    for name, content in configmap["data"].items():
        (mapped[MOUNTS["rules"]] / name).write_text(content)
    history = Path(local(REPLAY["args"][1]))
    history.parent.mkdir(parents=True)
    history.write_bytes(gzip.compress(traffic()))
    first = orjson.loads(traffic().splitlines()[0])
    erasure = {
        "schema_version": 1,
        "request_id": "dsr-1",
        "customer_id": first["customer_id"],
        "requested_at": "2026-01-20T00:00:00+00:00",
        "by": "privacy-office",
        "reason": "gdpr-art-17",
    }
    Path(local(argument("--erasures"))).write_bytes(orjson.dumps(erasure) + b"\n")
    environment = {
        **os.environ,
        **{name: local(value) for name, value in LITERAL_ENV.items()},
        "TOUCHPOINT_IDENTITY_SALT": "the workers' key",
        "PYTHONPATH": str(ROOT),
    }

    replayed = subprocess.run(
        [sys.executable, "-m", "streams.cli", *(local(str(item)) for item in REPLAY["args"])],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert replayed.returncode == 0, replayed.stderr
    out = Path(local(argument("--out")))
    assert sorted(path.name for path in out.iterdir()) == sorted(OUTPUT_FILES.values())
    assert (out / "erasures.jsonl").read_bytes()
    assert "TOUCHPOINT_IDENTITY_SALT is not set" not in replayed.stderr
