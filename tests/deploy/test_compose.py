"""docker-compose.yml agrees with the code: settings, topics, partitions, scrape targets and ports."""

from __future__ import annotations

import re
import shlex
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.settings import Settings
from tests.deploy.settings_env import SETTINGS_ENV, unknown_settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
WORKERS = sorted(name for name in SERVICES if name.startswith("worker-"))


def environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def expand(text: str, env: dict[str, str]) -> str:
    """Resolve a command's ``$$NAME`` (compose's escaped ``$NAME``) from the service environment."""
    return re.sub(r"\$\$\{?(\w+)\}?", lambda match: env[match.group(1)], text)


def created_topics() -> dict[str, tuple[int, list[str]]]:
    """topic → (partitions, extra kafka-topics.sh arguments), from the `topics` service's script."""
    script = "\n".join(SERVICES["topics"]["command"]).replace("\\\n", " ")  # continued lines joined
    env = environment("topics")
    created: dict[str, tuple[int, list[str]]] = {}
    for line in script.splitlines():
        if line.strip().startswith("create "):
            topic, partitions, *extra = shlex.split(expand(line, env), comments=True)[1:]
            assert topic not in created, f"topic {topic} created twice"
            created[topic] = (int(partitions), extra)
    return created


def mounted_secrets(env: dict[str, str], directory: Path) -> dict[str, str]:
    """*env* with each /run/secrets/<name> file replaced by a stand-in file under *directory*."""
    resolved = {}
    for name, value in env.items():
        if value.startswith("/run/secrets/"):
            stand_in = directory / Path(value).name
            stand_in.write_text("stand-in-secret-" + "x" * 32 + "\n")
            value = str(stand_in)
        resolved[name] = value
    return resolved


#: The stand-in secrets' folder, kept while the app made with them may read them, removed when the tests end.
_SECRETS: list[tempfile.TemporaryDirectory[str]] = []


@cache
def worker_app() -> Any:
    """The real app of a worker with the compose settings (secrets stand-ins)."""
    from streams.app import create_app

    _SECRETS.append(tempfile.TemporaryDirectory(prefix="compose-secrets-"))
    directory = Path(_SECRETS[-1].name)
    return create_app(Settings.from_env(mounted_secrets(environment(WORKERS[0]), directory)))


@cache
def code_topics() -> dict[str, str]:
    """Every topic a worker with the compose settings reads or writes → what it is, from the real app."""
    app = worker_app()
    used = {topic.get_topic_name(): "stream" for topic in app.streams.all()}
    # The coordinator's topics have one partition (agents/coordination/), the thresholds' is compacted.
    used[app.streams.progress.get_topic_name()] = "single"
    used[app.streams.best_customers.get_topic_name()] = "single, compacted"
    used.update({table.changelog_topic.get_topic_name(): "changelog" for table in app.tables.values()})
    used[app.tables["coordinator_state"].changelog_topic.get_topic_name()] = "single changelog"
    leader: Any = app._leader_assignor  # Faust's group-leader election topic, created by every worker
    used[leader._leader_topic_name] = "leader"
    return used


def code_topic_configs() -> dict[str, dict[str, str]]:
    """The configuration the worker creates each of its topics with."""
    app = worker_app()
    configs: dict[str, dict[str, str]] = {}
    for topic in app.streams.all():
        faust_topic = getattr(topic, "topic", topic)  # a DirectTopic wraps a Faust topic
        configs[faust_topic.get_topic_name()] = dict(faust_topic.config)
    for table in app.tables.values():
        configs[table.changelog_topic.get_topic_name()] = dict(table.changelog_topic.config)
    return configs


def test_the_stack_has_kafka_topics_two_workers_prometheus_grafana_and_a_demo_simulator() -> None:
    for name in (
        "kafka",
        "topics",
        "prometheus",
        "grafana",
        "simulator",
        "alertmanager",
        "notify",
        "console",
    ):
        assert name in SERVICES, f"service {name} missing"
    assert len(WORKERS) >= 2, f"workers: {WORKERS}"
    assert SERVICES["simulator"].get("profiles") == ["demo"]
    for name, service in SERVICES.items():
        if name != "simulator":
            assert not service.get("profiles"), f"{name} should start with a plain `docker compose up`"


def test_kafka_is_the_official_image_pinned_in_kraft_mode() -> None:
    kafka = SERVICES["kafka"]
    image, _, tag = kafka["image"].partition(":")
    assert image == "apache/kafka"
    assert re.fullmatch(r"\d+\.\d+\.\d+", tag), f"kafka image not pinned to a version: {kafka['image']}"
    env = environment("kafka")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "zookeeper" not in str(COMPOSE).lower()
    assert SERVICES["topics"]["image"] == kafka["image"]


@pytest.mark.parametrize("name", ["kafka", "prometheus", "grafana", "alertmanager"])
def test_third_party_images_are_pinned(name: str) -> None:
    image = SERVICES[name]["image"]
    _, _, tag = image.rpartition(":")
    assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: image {image} is not pinned to a version"


@pytest.mark.parametrize("worker", WORKERS)
def test_worker_environment_names_real_settings_with_valid_values(worker: str) -> None:
    env = environment(worker)
    unknown = unknown_settings(list(env))
    assert not unknown, f"{worker}: {sorted(unknown)} are not settings; known: {sorted(SETTINGS_ENV)}"
    settings = Settings.from_env(env)  # raises SettingsError on a bad value
    assert not settings.embedded
    assert settings.broker.startswith("kafka://kafka:")
    assert settings.web_host == worker, "the web host is the service name, so other workers can forward to it"


def test_workers_share_app_id_partitions_and_web_port() -> None:
    keys = ("TOUCHPOINT_APP_ID", "TOUCHPOINT_PARTITIONS", "TOUCHPOINT_WEB_PORT", "TOUCHPOINT_BROKER")
    values = {worker: tuple(environment(worker).get(key) for key in keys) for worker in WORKERS}
    assert len(set(values.values())) == 1, f"workers differ in {keys}: {values}"


def test_every_other_client_would_create_a_missing_topic_as_the_workers_do() -> None:
    layout = ("TOUCHPOINT_PARTITIONS", "TOUCHPOINT_REPLICATION_FACTOR")
    workers = tuple(environment(WORKERS[0])[key] for key in layout)
    clients = [name for name in SERVICES if "TOUCHPOINT_BROKER" in environment(name) and name not in WORKERS]
    assert clients, "no client besides the workers"
    for name in clients:
        assert tuple(environment(name).get(key) for key in layout) == workers, name


def test_every_topic_partition_count_equals_the_workers_partitions() -> None:
    partitions = Settings.from_env(environment(WORKERS[0])).partitions
    for topic, (count, _) in created_topics().items():
        kind = code_topics().get(topic) or ""
        expected = 1 if kind == "leader" or "single" in kind else partitions
        assert count == expected, (
            f"{topic}: {count} partitions, workers use TOUCHPOINT_PARTITIONS={partitions}"
        )


def test_every_topic_the_code_uses_is_created() -> None:
    missing = set(code_topics()) - set(created_topics())
    assert not missing, f"the topics service does not create {sorted(missing)}"
    extra = set(created_topics()) - set(code_topics())
    assert not extra, f"the topics service creates {sorted(extra)}, which no code uses"


def _configs(extra: list[str]) -> dict[str, str]:
    values = [extra[i + 1] for i, flag in enumerate(extra) if flag == "--config"]
    return dict(value.split("=", 1) for value in values)


def test_table_changelogs_are_compacted() -> None:
    created = created_topics()
    for topic, kind in code_topics().items():
        if "changelog" in kind or "compacted" in kind:
            _, extra = created[topic]
            assert "compact" in _configs(extra)["cleanup.policy"].split(","), (
                f"{topic} must be compacted: {extra}"
            )


def test_every_topic_has_the_retention_the_workers_create_it_with() -> None:
    from streams import topics

    created = created_topics()
    configs = code_topic_configs()
    for topic, kind in code_topics().items():
        if kind == "leader":
            continue
        assert _configs(created[topic][1]) == configs[topic], f"{topic}: compose and the worker differ"
        if kind == "stream":
            assert configs[topic] == topics.topic_config(topic)
    assert configs["touchpoint-customer_to_state-changelog"]["delete.retention.ms"] == str(topics.DAY_MS)


def test_every_published_port_is_bound_to_loopback() -> None:
    for name, service in SERVICES.items():
        for mapping in service.get("ports", []):
            assert str(mapping).startswith("127.0.0.1:"), f"{name} publishes {mapping} on every interface"


@pytest.mark.parametrize("worker", WORKERS)
def test_workers_take_their_keys_and_token_from_secrets_never_from_a_literal(worker: str) -> None:
    env = environment(worker)
    mounted = set(SERVICES[worker].get("secrets", []))
    for name in ("IDENTITY_SALT", "CONTROL_SECRET", "WEB_TOKEN", "KAFKA_SASL_PASSWORD"):
        assert f"TOUCHPOINT_{name}" not in env, f"{worker}: TOUCHPOINT_{name} as a literal"
        path = env[f"TOUCHPOINT_{name}_FILE"]
        assert path.startswith("/run/secrets/"), path
        assert Path(path).name in mounted, f"{worker}: {path} is not a secret it mounts"
    for secret in COMPOSE["secrets"].values():
        assert secret["file"].startswith("./secrets/")


def test_every_kafka_client_signs_in_and_kafka_offers_sasl_on_every_client_listener() -> None:
    kafka = environment("kafka")
    protocols = dict(pair.split(":") for pair in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    advertised = [entry.split("://")[0] for entry in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")]
    assert all(protocols[name].startswith("SASL_") for name in advertised), protocols
    assert "PLAIN" in kafka["KAFKA_SASL_ENABLED_MECHANISMS"].split(",")
    jaas = "\n".join(SERVICES["kafka"]["command"])
    for service in [*WORKERS, "notify", "console", "simulator"]:
        env = environment(service)
        settings = Settings.from_env(
            {k: v for k, v in env.items() if not k.endswith("_FILE")}, **_sasl_password()
        )
        security = settings.kafka_security
        assert security.protocol == "SASL_PLAINTEXT", service
        assert f"user_{security.sasl_username}=" in jaas, f"{service} signs in as a user Kafka does not know"
        assert env["TOUCHPOINT_KAFKA_SASL_PASSWORD_FILE"] == "/run/secrets/kafka-touchpoint-password"
        assert "kafka-touchpoint-password" in SERVICES[service]["secrets"]


def _sasl_password() -> dict[str, Any]:
    from streams.secrets import Secret

    return {"kafka_sasl_password": Secret("stand-in")}


def test_prometheus_scrapes_every_worker_on_its_web_port_and_loads_the_rules() -> None:
    mounts = dict(volume.split(":")[1::-1] for volume in SERVICES["prometheus"]["volumes"])
    config_path = mounts["/etc/prometheus/prometheus.yml"]
    config = yaml.safe_load((ROOT / config_path).read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        if job["job_name"] == "touchpoint"
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    expected = {f"{worker}:{environment(worker)['TOUCHPOINT_WEB_PORT']}" for worker in WORKERS}
    assert targets == expected
    for rules in config["rule_files"]:
        mounted = str(Path("/etc/prometheus") / rules)
        assert mounted in mounts, f"rule file {rules} is not mounted at {mounted}"
        assert (ROOT / mounts[mounted]).is_file()


def test_worker_state_is_on_a_volume_at_the_data_dir() -> None:
    for worker in WORKERS:
        data_dir = environment(worker)["TOUCHPOINT_DATA_DIR"]
        targets = [volume.split(":")[1] for volume in SERVICES[worker].get("volumes", [])]
        assert data_dir in targets, f"{worker}: {data_dir} is not on a volume"


def test_published_host_ports_do_not_clash() -> None:
    seen: dict[str, str] = {}
    for name, service in SERVICES.items():
        for mapping in service.get("ports", []):
            host = str(mapping).rsplit(":", 1)[0] if ":" in str(mapping) else str(mapping)
            assert host not in seen, f"host port {host} used by {seen.get(host)} and {name}"
            seen[host] = name
    for worker in WORKERS:
        web_port = environment(worker)["TOUCHPOINT_WEB_PORT"]
        published = [str(mapping).rsplit(":", 1)[1] for mapping in SERVICES[worker].get("ports", [])]
        assert published == [web_port], f"{worker} publishes {published}, its web port is {web_port}"


def _scrape_targets(job: str) -> set[str]:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    return {
        target
        for scrape in config["scrape_configs"]
        if scrape["job_name"] == job
        for static in scrape.get("static_configs", [])
        for target in static["targets"]
    }


def test_prometheus_sends_its_alerts_to_the_alertmanager_service() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target
        for manager in config["alerting"]["alertmanagers"]
        for static in manager["static_configs"]
        for target in static["targets"]
    }
    assert targets == {"alertmanager:9093"}
    assert "alertmanager" in SERVICES


def test_alertmanager_loads_the_shipped_routing_tree() -> None:
    alertmanager = SERVICES["alertmanager"]
    config_flag = next(arg for arg in alertmanager["command"] if arg.startswith("--config.file="))
    mounts = dict(volume.split(":")[1::-1] for volume in alertmanager["volumes"])
    source = mounts[config_flag.split("=", 1)[1]]
    assert (ROOT / source).resolve() == ROOT / "deploy" / "alertmanager" / "alertmanager.yml"


@pytest.mark.parametrize("service", ["notify", "console"])
def test_notify_and_console_use_real_settings_and_the_workers_broker_and_app_id(service: str) -> None:
    env = environment(service)
    unknown = unknown_settings(list(env))
    assert not unknown, f"{service}: {sorted(unknown)} are not settings"
    worker = environment(WORKERS[0])
    assert env["TOUCHPOINT_BROKER"] == worker["TOUCHPOINT_BROKER"]
    assert env.get("TOUCHPOINT_APP_ID", "touchpoint") == worker["TOUCHPOINT_APP_ID"]
    assert SERVICES[service]["command"] == [service]


def test_notify_posts_to_alertmanager_links_to_the_console_and_is_scraped() -> None:
    from streams.ops_settings import NotifySettings, load

    settings = load(NotifySettings, environment("notify"))
    assert settings.alertmanagers == ("http://alertmanager:9093",)
    console_port = environment("console")["TOUCHPOINT_CONSOLE_PORT"]
    assert settings.console_url == f"http://localhost:{console_port}"
    assert f"127.0.0.1:{console_port}:{console_port}" in SERVICES["console"]["ports"]
    assert _scrape_targets("touchpoint-notify") == {f"notify:{settings.notify_web_port}"}
    assert settings.notify_web_host == "0.0.0.0", "Prometheus scrapes it from another container"


def test_the_console_requires_sign_in_reads_a_worker_and_is_scraped() -> None:
    from streams.auth import Credentials, check_bind, verify_password
    from streams.ops_settings import ConsoleSettings, load

    env = environment("console")
    settings = load(ConsoleSettings, env)
    # Compose doubles every `$` of the hash; the container sees single ones.
    credentials = Credentials.from_env(
        {k: v.replace("$$", "$") for k, v in env.items()}, "TOUCHPOINT_CONSOLE_"
    )
    check_bind(settings.console_host, credentials, "the console", "")  # raises without a credential
    assert verify_password("admin", credentials.users["admin"]), "the documented demo sign-in"
    worker_host = settings.console_worker_url.split("//")[1].split(":")[0]
    assert worker_host in WORKERS
    assert _scrape_targets("touchpoint-console") == {f"console:{settings.console_port}"}
