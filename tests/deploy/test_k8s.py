"""deploy/k8s/: every manifest parses, and the workers' StatefulSet agrees with the code and itself:
settings, probes, ports, the rules file mount, the state volume, services and monitoring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agents.config import load_config
from streams.settings import Settings
from tests.deploy.settings_env import SETTINGS_ENV, unknown_settings

pytestmark = pytest.mark.unit

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
MANIFEST_FILES = sorted(K8S.glob("*.yaml"))


def _documents() -> list[dict[str, Any]]:
    return [
        document
        for path in MANIFEST_FILES
        if path.name != "kustomization.yaml"
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


DOCUMENTS = _documents()


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [document for document in DOCUMENTS if document["kind"] == kind]


(STATEFULSET,) = of_kind("StatefulSet")
POD: dict[str, Any] = STATEFULSET["spec"]["template"]
(WORKER,) = POD["spec"]["containers"]
ENV: list[dict[str, Any]] = WORKER["env"]
LITERAL_ENV = {item["name"]: str(item["value"]) for item in ENV if "value" in item}
PORTS = {port["name"]: port["containerPort"] for port in WORKER["ports"]}


def _port_number(port: int | str) -> int:
    return PORTS[port] if isinstance(port, str) else port


@pytest.mark.parametrize("path", MANIFEST_FILES, ids=lambda path: path.name)
def test_every_manifest_parses_and_names_its_kind(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        assert document, f"{path.name}: empty document"
        assert document.get("apiVersion"), f"{path.name}: no apiVersion"
        assert document.get("kind"), f"{path.name}: no kind"
        if document["kind"] != "Kustomization":
            assert document.get("metadata", {}).get("name"), f"{path.name}: {document['kind']} without a name"


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {path.name for path in MANIFEST_FILES if path.name != "kustomization.yaml"}
    assert listed == on_disk


def test_the_expected_resources_exist() -> None:
    kinds = sorted(document["kind"] for document in DOCUMENTS)
    for kind in ("StatefulSet", "Service", "ConfigMap", "ServiceMonitor", "PrometheusRule"):
        assert kind in kinds, f"no {kind} in deploy/k8s"


def test_worker_environment_names_real_settings() -> None:
    names = [item["name"] for item in ENV]
    assert len(names) == len(set(names)), f"repeated env vars: {names}"
    unknown = unknown_settings(names)
    assert not unknown, f"{sorted(unknown)} are not settings; known: {sorted(SETTINGS_ENV)}"


def test_worker_environment_values_are_valid_settings() -> None:
    # Values from the downward API or a Secret are filled in by Kubernetes: stand-ins here.
    stand_ins = {item["name"]: "10.0.0.7" for item in ENV if "valueFrom" in item}
    settings = Settings.from_env({**LITERAL_ENV, **stand_ins})
    assert settings.broker.startswith("kafka://"), "the workers need a Kafka cluster"
    assert settings.replication_factor >= 3, "use replicated topics on a production cluster"
    assert STATEFULSET["spec"]["replicas"] <= settings.partitions, "more workers than partitions idle"


def test_web_host_is_the_pod_ip_so_workers_can_forward_to_each_other() -> None:
    (web_host,) = [item for item in ENV if item["name"] == "TOUCHPOINT_WEB_HOST"]
    assert web_host["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"


def test_probes_hit_the_web_port() -> None:
    web_port = int(LITERAL_ENV["TOUCHPOINT_WEB_PORT"])
    assert web_port in PORTS.values(), f"no containerPort {web_port} (TOUCHPOINT_WEB_PORT)"
    readiness = WORKER["readinessProbe"]["httpGet"]
    assert readiness["path"] == "/ready"
    assert _port_number(readiness["port"]) == web_port
    liveness = WORKER["livenessProbe"]
    probe = liveness.get("httpGet") or liveness.get("tcpSocket")
    assert probe, "liveness probe must be httpGet or tcpSocket on the web port"
    assert _port_number(probe["port"]) == web_port


def test_prometheus_annotations_point_at_the_metrics_endpoint() -> None:
    annotations = POD["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == int(LITERAL_ENV["TOUCHPOINT_WEB_PORT"])
    assert annotations["prometheus.io/path"] == "/metrics"


def test_the_rules_configmap_is_mounted_where_touchpoint_config_points_and_is_valid(tmp_path: Path) -> None:
    config_path = Path(LITERAL_ENV["TOUCHPOINT_CONFIG"])
    volumes = {volume["name"]: volume for volume in POD["spec"]["volumes"]}
    configmaps = {document["metadata"]["name"]: document for document in of_kind("ConfigMap")}
    found = False
    for mount in WORKER["volumeMounts"]:
        source = volumes.get(mount["name"], {}).get("configMap")
        if source is None:
            continue
        data = configmaps[source["name"]]["data"]
        if "subPath" in mount:
            mounted = {Path(mount["mountPath"]): mount["subPath"]}
        else:
            mounted = {Path(mount["mountPath"]) / key: key for key in data}
        if config_path in mounted:
            found = True
            rules = tmp_path / "rules.toml"
            rules.write_text(data[mounted[config_path]])
            load_config(rules)  # raises ConfigError naming the key when the rules file is invalid
    assert found, f"TOUCHPOINT_CONFIG={config_path} is not a file of a mounted ConfigMap"


def test_the_state_volume_claim_is_mounted_at_the_data_dir() -> None:
    claims = {claim["metadata"]["name"] for claim in STATEFULSET["spec"]["volumeClaimTemplates"]}
    mounts = {mount["name"]: mount["mountPath"] for mount in WORKER["volumeMounts"]}
    data_dir = LITERAL_ENV["TOUCHPOINT_DATA_DIR"]
    assert any(mounts.get(claim) == data_dir for claim in claims), (
        f"no volumeClaimTemplate mounted at TOUCHPOINT_DATA_DIR={data_dir}"
    )


def test_services_select_the_workers_and_the_headless_one_is_the_statefulsets() -> None:
    labels = POD["metadata"]["labels"]
    assert STATEFULSET["spec"]["selector"]["matchLabels"].items() <= labels.items()
    services = {
        document["metadata"]["name"]: document
        for document in of_kind("Service")
        if document["spec"]["selector"].get("app.kubernetes.io/component") == "worker"
    }
    headless = services[STATEFULSET["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    for name, service in services.items():
        assert service["spec"]["selector"].items() <= labels.items(), f"service {name} selects no worker"
        for port in service["spec"]["ports"]:
            assert _port_number(port["targetPort"]) == int(LITERAL_ENV["TOUCHPOINT_WEB_PORT"]), name


def test_the_service_monitor_scrapes_the_metrics_service_as_job_touchpoint() -> None:
    (monitor,) = of_kind("ServiceMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    selected = [
        service
        for service in of_kind("Service")
        if selector.items() <= service["metadata"].get("labels", {}).items()
    ]
    assert len(selected) == 1, f"the ServiceMonitor selects {len(selected)} services"
    (service,) = selected
    port_names = {port["name"] for port in service["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in port_names
        assert endpoint.get("path", "/metrics") == "/metrics"
    # The alerting rules select job="touchpoint": the job label comes from this service label.
    assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] == "touchpoint"


def test_the_prometheus_rule_carries_exactly_the_shipped_rules() -> None:
    (rule,) = of_kind("PrometheusRule")
    shipped = yaml.safe_load((K8S.parent / "prometheus" / "rules.yml").read_text())
    assert rule["spec"] == shipped, "deploy/k8s/prometheusrule.yaml differs from deploy/prometheus/rules.yml"


def _deployment(component: str) -> dict[str, Any]:
    (found,) = [
        d
        for d in of_kind("Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    return found


def _container_env(deployment: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container, {item["name"]: str(item.get("value", "")) for item in container["env"]}


def _service_for(component: str) -> dict[str, Any]:
    (found,) = [
        s for s in of_kind("Service") if s["spec"]["selector"].get("app.kubernetes.io/component") == component
    ]
    return found


@pytest.mark.parametrize("component", ["notify", "console"])
def test_notify_and_console_use_real_settings_the_workers_broker_and_the_workers_image(
    component: str,
) -> None:
    container, env = _container_env(_deployment(component))
    unknown = unknown_settings(list(env))
    assert not unknown, f"{component}: {sorted(unknown)} are not settings"
    assert env["TOUCHPOINT_BROKER"] == LITERAL_ENV["TOUCHPOINT_BROKER"]
    assert env.get("TOUCHPOINT_APP_ID", "touchpoint") == LITERAL_ENV["TOUCHPOINT_APP_ID"]
    # A topic it finds missing is created as the workers would create it.
    for layout in ("TOUCHPOINT_PARTITIONS", "TOUCHPOINT_REPLICATION_FACTOR"):
        assert env[layout] == LITERAL_ENV[layout], layout
    assert container["image"] == WORKER["image"]
    assert container["args"] == [component]
    labels = _deployment(component)["spec"]["template"]["metadata"]["labels"]
    assert _deployment(component)["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_notify_posts_to_the_alertmanager_service_and_probes_its_own_port() -> None:
    from streams.ops_settings import NotifySettings, load

    container, env = _container_env(_deployment("notify"))
    settings = load(NotifySettings, env)
    service = _service_for("alertmanager")
    port = service["spec"]["ports"][0]["port"]
    assert settings.alertmanagers == (f"http://{service['metadata']['name']}:{port}",)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports[container["readinessProbe"]["httpGet"]["port"]] == settings.notify_web_port
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    annotations = _deployment("notify")["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == settings.notify_web_port


def test_the_console_requires_sign_in_from_a_secret_and_reads_customers_from_the_workers() -> None:
    from streams.ops_settings import ConsoleSettings, load

    container, env = _container_env(_deployment("console"))
    settings = load(ConsoleSettings, env)
    secrets = {item["name"] for item in container["env"] if "secretKeyRef" in item.get("valueFrom", {})}
    assert settings.console_host not in {"127.0.0.1", "localhost"}
    assert secrets & {"TOUCHPOINT_CONSOLE_USERS", "TOUCHPOINT_CONSOLE_TOKEN"}, (
        "beyond loopback it needs sign-in"
    )
    assert "TOUCHPOINT_CONSOLE_SESSION_SECRET" in secrets, "replicas must accept each other's sessions"
    workers = {s["metadata"]["name"]: s for s in of_kind("Service")}
    host, port = settings.console_worker_url.split("//")[1].split(":")
    assert host in workers
    assert int(port) == int(LITERAL_ENV["TOUCHPOINT_WEB_PORT"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert _service_for("console")["spec"]["ports"][0]["port"] == settings.console_port


def test_the_alertmanager_configmap_carries_exactly_the_shipped_routing_tree() -> None:
    (config,) = [c for c in of_kind("ConfigMap") if c["metadata"]["name"] == "touchpoint-alertmanager"]
    shipped = (K8S.parent / "alertmanager" / "alertmanager.yml").read_text()
    assert config["data"]["alertmanager.yml"] == shipped, (
        "deploy/k8s/alertmanager.yaml differs from deploy/alertmanager/"
    )


def test_the_workers_take_their_secrets_from_kubernetes_secrets_never_from_literals() -> None:
    from streams.settings import SECRET_FIELDS

    literal = set(LITERAL_ENV)
    for field in SECRET_FIELDS:
        assert f"TOUCHPOINT_{field.upper()}" not in literal, f"{field} as a literal value"
    from_secrets = {
        item["name"]: item["valueFrom"]["secretKeyRef"]["name"]
        for item in ENV
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    for name in ("TOUCHPOINT_IDENTITY_SALT", "TOUCHPOINT_CONTROL_SECRET", "TOUCHPOINT_WEB_TOKEN"):
        assert from_secrets.get(name) == "touchpoint", f"{name} is not from the Secret touchpoint"


def test_every_touchpoint_process_speaks_tls_and_sasl_to_kafka_with_files_it_mounts() -> None:
    for deployment in [STATEFULSET, *of_kind("Deployment")]:
        pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"]:
            if container.get("args", [""])[0] not in {"worker", "notify", "console"}:
                continue
            env = {item["name"]: str(item["value"]) for item in container["env"] if "value" in item}
            settings = Settings.from_env(env)
            assert settings.kafka_security.protocol == "SASL_SSL", container["name"]
            mounts = {Path(mount["mountPath"]) for mount in container["volumeMounts"]}
            for variable in ("TOUCHPOINT_KAFKA_CA_FILE", "TOUCHPOINT_KAFKA_SASL_PASSWORD_FILE"):
                assert Path(env[variable]).parent in mounts, f"{container['name']}: {variable} not mounted"
            assert pod["securityContext"].get("fsGroup") == 10001, "the secret files are readable by the user"


def test_a_network_policy_lets_only_workers_the_console_and_monitoring_reach_the_web_port() -> None:
    policies = {document["metadata"]["name"]: document for document in of_kind("NetworkPolicy")}
    worker = policies["touchpoint-worker"]["spec"]
    assert worker["podSelector"]["matchLabels"].items() <= POD["metadata"]["labels"].items()
    assert worker["policyTypes"] == ["Ingress"]
    [rule] = worker["ingress"]
    assert [port["port"] for port in rule["ports"]] == [int(LITERAL_ENV["TOUCHPOINT_WEB_PORT"])]
    components = {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for peer in rule["from"]
        if "podSelector" in peer
    }
    assert components == {"worker", "console"}
    assert any("namespaceSelector" in peer for peer in rule["from"]), "Prometheus scrapes from its namespace"
    assert {"touchpoint-console", "touchpoint-notify", "touchpoint-alertmanager"} <= set(policies)
