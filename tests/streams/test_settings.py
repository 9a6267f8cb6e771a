"""Settings come from TOUCHPOINT_* variables and options, and bad values are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import Settings, SettingsError

pytestmark = pytest.mark.unit


def test_defaults_mean_the_embedded_broker() -> None:
    assert Settings.from_env({}).embedded


def test_environment_variables_are_parsed_to_their_types() -> None:
    settings = Settings.from_env(
        {
            "TOUCHPOINT_BROKER": "kafka://k1:9092",
            "TOUCHPOINT_PARTITIONS": "12",
            "TOUCHPOINT_DATA_DIR": "/var/tp",
        }
    )
    assert (settings.broker, settings.partitions, settings.data_dir) == (
        "kafka://k1:9092",
        12,
        Path("/var/tp"),
    )
    assert not settings.embedded


def test_options_override_the_environment_and_none_means_unset() -> None:
    settings = Settings.from_env({"TOUCHPOINT_WEB_PORT": "7000"}, web_port=None, partitions="8")
    assert (settings.web_port, settings.partitions) == (7000, 8)


def test_the_worker_lets_short_lived_objects_die_young_unless_told_otherwise() -> None:
    assert Settings().collector_thresholds == (100_000, 20, 10)
    assert Settings.from_env({"TOUCHPOINT_GC_THRESHOLDS": "700, 10, 10"}).collector_thresholds == (
        700,
        10,
        10,
    )


def test_state_is_restored_in_bulk_unless_per_record_is_asked_for() -> None:
    assert Settings().state_restore == "bulk"
    assert Settings.from_env({"TOUCHPOINT_STATE_RESTORE": "per-record"}).state_restore == "per-record"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TOUCHPOINT_PARTITIONS": "many"}, "TOUCHPOINT_PARTITIONS must be a whole number"),
        ({"TOUCHPOINT_PARTITIONS": "0"}, "partitions must be from 1 to 10,000, got 0"),
        # One digit too many must not have the worker create such topics, nor a replay a clock for each.
        ({"TOUCHPOINT_PARTITIONS": "120000"}, "partitions must be from 1 to 10,000, got 120000"),
        # Every record would be dead-lettered as too large.
        ({"TOUCHPOINT_MAX_EVENT_BYTES": "0"}, "max_event_bytes must be from 1,024 to 16,777,216, got 0"),
        ({"TOUCHPOINT_MAX_EVENT_BYTES": "17000000"}, "max_event_bytes must be from 1,024 to 16,777,216"),
        ({"TOUCHPOINT_SESSION_TIMEOUT_S": "nan"}, "session_timeout_s must be from 1 to 1800 seconds"),
        ({"TOUCHPOINT_SESSION_TIMEOUT_S": "inf"}, "session_timeout_s must be from 1 to 1800 seconds"),
        ({"TOUCHPOINT_SESSION_TIMEOUT_S": "0"}, "session_timeout_s must be from 1 to 1800 seconds"),
        ({"TOUCHPOINT_FETCH_MAX_WAIT_MS": "0"}, "fetch_max_wait_ms must be 1..60000"),
        ({"TOUCHPOINT_FETCH_MAX_WAIT_MS": "3600000"}, "fetch_max_wait_ms must be 1..60000"),
        ({"TOUCHPOINT_BROKER": "localhost:9092"}, "kafka://host:port"),
        ({"TOUCHPOINT_LOG_LEVEL": "loud"}, "log_level"),
        ({"TOUCHPOINT_WEB_PORT": "70000"}, "web_port"),
        ({"TOUCHPOINT_GC_THRESHOLDS": "50000,20"}, "gc_thresholds: .* three whole numbers"),
        ({"TOUCHPOINT_GC_THRESHOLDS": "0,10,10"}, "gc_thresholds: .* at least 1 .0 switches it off"),
    ],
)
def test_bad_values_are_rejected_with_the_variable_and_the_problem(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


def test_unknown_override_is_an_error() -> None:
    with pytest.raises(SettingsError, match="unknown setting"):
        Settings.from_env({}, colour="blue")


def test_the_table_store_and_standby_replicas_are_settings() -> None:
    assert (Settings().store, Settings().standby_replicas) == ("memory", 0)
    settings = Settings.from_env({"TOUCHPOINT_STORE": "rocksdb", "TOUCHPOINT_STANDBY_REPLICAS": "1"})
    assert (settings.store, settings.standby_replicas) == ("rocksdb", 1)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TOUCHPOINT_STORE": "redis"}, "store must be memory or rocksdb, got 'redis'"),
        ({"TOUCHPOINT_STANDBY_REPLICAS": "-1"}, "standby_replicas must be 0 or more"),
        ({"TOUCHPOINT_STANDBY_REPLICAS": "one"}, "TOUCHPOINT_STANDBY_REPLICAS must be a whole number"),
        ({"TOUCHPOINT_STATE_RESTORE": "fast"}, "state_restore must be bulk or per-record, got 'fast'"),
    ],
)
def test_bad_store_settings_are_rejected(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


@pytest.mark.parametrize("store", ["memory", "rocksdb"])
def test_the_app_keeps_its_customer_table_in_the_configured_store(store: str, tmp_path: Path) -> None:
    from faust.stores import memory, rocksdb

    from streams.app import create_app

    settings = Settings(
        broker="kafka://127.0.0.1:9092", data_dir=tmp_path, store=store, standby_replicas=1, development=True
    ).validated()
    app = create_app(settings)
    assert app.conf.table_standby_replicas == 1
    data = app.customers.data  # the table's store, created on first use
    if store == "rocksdb":
        assert isinstance(data, rocksdb.Store)
        assert data.use_rocksdict, "the rocksdict driver (python-rocksdb is unmaintained)"
        assert Path(data.path).is_relative_to(tmp_path)
    else:
        assert isinstance(data, memory.Store)
