"""The rules file: defaults from the schema, TOML loading, and errors that say where and what."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

import orjson
import pytest

import schemas
from agents.config import (
    AlertConfig,
    BestCustomersConfig,
    Config,
    ConfigError,
    CurrencyConfig,
    config_from_mapping,
    default_config,
    detector_settings,
    effective_config,
    load_config,
    schema_problems,
)
from agents.identity.resolution import KindLimit
from agents.models.params import DEFAULT_PARAMS, params_document

pytestmark = pytest.mark.unit

SECTIONS = ("currency", "lifecycle", "state", "deadlines")


def schema_default(section: str, key: str) -> Any:
    return schemas.load_schema("config")["properties"][section]["properties"][key]["default"]


def test_every_documented_key_has_a_default_in_the_schema() -> None:
    properties = schemas.load_schema("config")["properties"]
    for section in SECTIONS:
        for key, spec in properties[section]["properties"].items():
            assert "default" in spec, f"{section}.{key}"
            assert spec.get("description") or key == "base" or key == "rates", (
                f"{section}.{key} is undocumented"
            )
    assert "default" in properties["value_tiers"]


@pytest.mark.parametrize("section", SECTIONS)
def test_defaults_equal_the_schemas_documented_defaults(section: str) -> None:
    values = dataclasses.asdict(getattr(default_config(), section))
    documented = schemas.load_schema("config")["properties"][section]["properties"]
    assert set(values) == set(documented), "the dataclass and the schema name the same keys"
    for key, value in values.items():
        assert value == schema_default(section, key), f"{section}.{key}"


def test_default_value_tiers_are_bronze_silver_gold_platinum() -> None:
    tiers = default_config().value_tiers
    assert [(tier.name, tier.min_value) for tier in tiers] == [
        (tier["name"], tier["min_value"])
        for tier in schemas.load_schema("config")["properties"]["value_tiers"]["default"]
    ]
    assert [(tier.name, tier.min_value) for tier in tiers] == [
        ("bronze", 0),
        ("silver", 250),
        ("gold", 1000),
        ("platinum", 5000),
    ]
    assert default_config().top_tier == "platinum"


def test_the_documented_defaults_are_the_ones_the_domain_calls_for() -> None:
    rules = default_config().lifecycle
    assert (rules.at_risk_multiplier, rules.lapsed_multiplier, rules.at_risk_min_days) == (2.0, 4.0, 14)
    assert (rules.lapse_window_days, rules.loyal_min_purchase_days, rules.loyal_min_tenure_days) == (
        365,
        4,
        60,
    )
    assert (rules.advocate_min_nps, rules.loyal_min_satisfaction) == (9, 0.6)
    assert default_config().state.dedupe_window == 16
    assert default_config().currency.base == "EUR"


def test_the_effective_configuration_fills_every_default_and_validates() -> None:
    filled = effective_config({})
    schemas.validator("config")(filled)
    assert {"currency", "lifecycle", "value_tiers", "state", "deadlines"} <= set(filled)
    assert set(filled) == set(schemas.load_schema("config")["properties"])
    assert filled["lifecycle"]["default_gap_days"] == 60


@pytest.mark.parametrize("example", schemas.load_schema("config")["examples"])
def test_every_schema_example_is_a_usable_configuration(example: dict[str, Any]) -> None:
    config_from_mapping(example, "example")


def test_a_partial_section_keeps_the_other_defaults() -> None:
    config = config_from_mapping({"lifecycle": {"default_gap_days": 10}})
    assert config.lifecycle.default_gap_days == 10
    assert config.lifecycle.lapsed_multiplier == schema_default("lifecycle", "lapsed_multiplier")
    assert config.state == default_config().state


def test_the_given_mapping_is_not_modified() -> None:
    data: dict[str, Any] = {"lifecycle": {"default_gap_days": 10}}
    config_from_mapping(data)
    assert data == {"lifecycle": {"default_gap_days": 10}}


def test_configurations_do_not_share_mutable_defaults() -> None:
    first = default_config()
    assert isinstance(first.currency.rates, dict)
    first.currency.rates["USD"] = 0.5
    assert default_config().currency.rates == {}
    assert schema_default("currency", "rates") == {}
    effective_config({})["value_tiers"].clear()
    assert len(default_config().value_tiers) == 4


def test_a_toml_rules_file_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        """
[currency]
base = "USD"
rates = { EUR = 1.1, GBP = 1.27 }

[lifecycle]
default_gap_days = 45
lapse_window_days = 270

[[value_tiers]]
name = "standard"
min_value = 0

[[value_tiers]]
name = "best"
min_value = 2000

[deadlines]
wall_clock_sweep = false
""",
        "utf-8",
    )
    config = load_config(path)
    assert config.source == str(path)
    assert config.currency == CurrencyConfig("USD", {"EUR": 1.1, "GBP": 1.27})
    assert (config.lifecycle.default_gap_days, config.lifecycle.lapse_window_days) == (45, 270)
    assert config.lifecycle.at_risk_multiplier == schema_default("lifecycle", "at_risk_multiplier")
    assert [tier.name for tier in config.value_tiers] == ["standard", "best"]
    assert config.top_tier == "best"
    assert config.deadlines.wall_clock_sweep is False
    assert config.deadlines.quiet_seconds == schema_default("deadlines", "quiet_seconds")


def test_a_byte_order_mark_before_the_rules_is_not_part_of_them(tmp_path: Path) -> None:
    # Notepad writes one; TOML itself would refuse it as a statement at line 1, column 1.
    path = tmp_path / "rules.toml"
    path.write_bytes(b"\xef\xbb\xbf[lifecycle]\r\ndefault_gap_days = 45\r\n")
    assert load_config(path).lifecycle.default_gap_days == 45


def test_an_empty_rules_file_means_all_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.toml"
    path.write_text("# nothing to change\n", "utf-8")
    assert comparable(load_config(path)) == comparable(default_config())


def comparable(config: Config) -> tuple[Any, ...]:
    """The journey's sections of a configuration, which compare by value."""
    return tuple(getattr(config, section) for section in (*SECTIONS, "value_tiers"))


def test_no_rules_file_means_all_defaults() -> None:
    config = load_config(None)
    assert config.source == "<defaults>"
    assert comparable(config) == comparable(default_config())


INVALID_FILES = [
    pytest.param('colour = "blue"\n', "(top level)", "unknown key(s): colour", id="unknown top-level key"),
    pytest.param(
        "[lifecycle]\ndefault_gap = 30\n", "lifecycle", "unknown key(s): default_gap", id="unknown nested key"
    ),
    pytest.param(
        '[lifecycle]\ndefault_gap_days = "sixty"\n',
        "lifecycle.default_gap_days",
        "must be number",
        id="wrong type: string for number",
    ),
    pytest.param(
        "[lifecycle]\ndefault_gap_days = true\n",
        "lifecycle.default_gap_days",
        "must be number",
        id="wrong type: boolean for number",
    ),
    pytest.param(
        '[deadlines]\nwall_clock_sweep = "yes"\n',
        "deadlines.wall_clock_sweep",
        "must be boolean",
        id="wrong type: string for boolean",
    ),
    pytest.param(
        "[state]\ndedupe_window = 2.5\n", "state.dedupe_window", "must be integer", id="fraction for integer"
    ),
    pytest.param("currency = 3\n", "currency", "must be object", id="number for a section"),
    pytest.param(
        "[lifecycle]\nat_risk_min_days = -1\n",
        "lifecycle.at_risk_min_days",
        "must be bigger than or equal to 0",
        id="negative value",
    ),
    pytest.param(
        "[lifecycle]\ndefault_gap_days = 0\n",
        "lifecycle.default_gap_days",
        "must be bigger than 0",
        id="zero where it must be positive",
    ),
    pytest.param(
        "[currency]\nrates = { USD = -0.9 }\n",
        "currency.rates.USD",
        "must be bigger than 0",
        id="negative rate",
    ),
    pytest.param(
        '[currency]\nbase = "euro"\n',
        "currency.base",
        "must be a three-letter currency code in capitals, e.g. EUR; got 'euro'",
        id="base not a currency code",
    ),
    pytest.param(
        "[lifecycle]\nloyal_min_satisfaction = 1.5\n",
        "lifecycle.loyal_min_satisfaction",
        "must be smaller than or equal to 1",
        id="satisfaction above 1",
    ),
    pytest.param(
        "[state]\ndedupe_window = 5000\n",
        "state.dedupe_window",
        "must be smaller than or equal to 1024",
        id="dedupe window too large",
    ),
    pytest.param("value_tiers = []\n", "value_tiers", "must contain at least 1 items", id="no tiers"),
    pytest.param(
        '[[value_tiers]]\nname = "gold"\nmin_value = 1000\n[[value_tiers]]\nname = "bronze"\nmin_value = 0\n',
        "value_tiers",
        "min_value must increase strictly",
        id="tiers not ascending",
    ),
    pytest.param(
        '[[value_tiers]]\nname = "a"\nmin_value = 0\n[[value_tiers]]\nname = "b"\nmin_value = 0\n',
        "value_tiers",
        "min_value must increase strictly",
        id="tiers with equal minimums",
    ),
    pytest.param(
        '[[value_tiers]]\nname = "a"\nmin_value = 0\n[[value_tiers]]\nname = "a"\nmin_value = 10\n',
        "value_tiers",
        "names must be unique",
        id="duplicate tier names",
    ),
    pytest.param(
        '[[value_tiers]]\nname = "Gold Club"\nmin_value = 0\n',
        "value_tiers[0].name",
        "must be lower-case letters, digits and _, starting with a letter",
        id="tier name not an identifier",
    ),
    pytest.param(
        "[[value_tiers]]\nmin_value = 0\n",
        "value_tiers[0]",
        "must contain ['name'] properties",
        id="tier without a name",
    ),
    pytest.param(
        "[lifecycle]\nat_risk_multiplier = 3.0\nlapsed_multiplier = 2.5\n",
        "lifecycle.lapsed_multiplier",
        "must not be below at_risk_multiplier",
        id="lapsed multiplier below at-risk multiplier",
    ),
    pytest.param(
        "[lifecycle]\nat_risk_multiplier = 5.0\n",
        "lifecycle.lapsed_multiplier",
        "must not be below at_risk_multiplier",
        id="at-risk multiplier raised above the default lapsed multiplier",
    ),
    pytest.param("[lifecycle\n", None, "not valid TOML", id="invalid toml"),
    pytest.param("a = 1\na = 2\n", None, "not valid TOML", id="duplicate toml key"),
]


@pytest.mark.parametrize(("text", "key", "problem"), INVALID_FILES)
def test_an_invalid_rules_file_is_refused_naming_the_file_the_key_and_the_problem(
    tmp_path: Path, text: str, key: str | None, problem: str
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    if key is not None:
        assert message.startswith(f"{path}: {key}: "), message
    assert problem in message, message


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("[lifecycle]\ndefault_gap_days = 30\nlapse_window_days = = 3\n", "utf-8")
    with pytest.raises(ConfigError, match=r"line 3"):
        load_config(path)


def test_a_missing_rules_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match=r"absent\.toml: cannot read: No such file or directory"):
        load_config(path)


def test_a_directory_is_refused_as_a_rules_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read"):
        load_config(tmp_path)


def test_a_rules_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('# Grüße\n[currency]\nbase = "EUR"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.toml: not UTF-8"):
        load_config(path)


def test_a_rules_file_saved_as_utf16_is_refused_saying_so(tmp_path: Path) -> None:
    # Notepad's "Unicode", or Windows PowerShell 5's redirect: not TOML as a reader of UTF-8 sees it.
    path = tmp_path / "rules.toml"
    path.write_bytes('[currency]\nbase = "EUR"\n'.encode("utf-16"))
    with pytest.raises(
        ConfigError, match=r'rules\.toml: UTF-16 text, not UTF-8 \(Notepad\'s "Unicode"\): save it as UTF-8'
    ):
        load_config(path)


def test_a_mapping_error_names_its_source() -> None:
    with pytest.raises(ConfigError, match=r"^env:TOUCHPOINT_CONFIG: lifecycle: unknown key\(s\): bogus$"):
        config_from_mapping({"lifecycle": {"bogus": 1}}, "env:TOUCHPOINT_CONFIG")


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        pytest.param(100.0, "EUR", 100.0, id="the base currency is unchanged"),
        pytest.param(100.0, "USD", 92.0, id="a rated currency is converted"),
        pytest.param(0.0, "GBP", 0.0, id="zero stays zero"),
        pytest.param(10.0, "GBP", 11.7, id="another rated currency"),
        pytest.param(10.0, "JPY", None, id="a currency without a rate has no value"),
    ],
)
def test_to_base_converts_with_the_configured_rates(
    amount: float, currency: str, expected: float | None
) -> None:
    config = config_from_mapping({"currency": {"base": "EUR", "rates": {"USD": 0.92, "GBP": 1.17}}})
    result = config.currency.to_base(amount, currency)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


def test_the_base_currency_wins_over_a_rate_listed_for_it() -> None:
    config = config_from_mapping({"currency": {"base": "USD", "rates": {"USD": 2.0, "EUR": 1.1}}})
    assert config.currency.to_base(10.0, "USD") == 10.0
    assert config.currency.to_base(10.0, "EUR") == pytest.approx(11.0)


# --- partial overrides merge key by key --------------------------------------------------------------------


def test_one_channels_sla_target_keeps_every_other_channel_and_its_own_after_hours_policy() -> None:
    defaults = default_config().sla.channels
    channels = config_from_mapping({"sla": {"channels": {"chat": {"target_minutes": 10}}}}).sla.channels
    assert channels["chat"] == dataclasses.replace(defaults["chat"], target_minutes=10)
    assert channels["chat"].after_hours == "on_call"
    assert {name: policy for name, policy in channels.items() if name != "chat"} == {
        name: policy for name, policy in defaults.items() if name != "chat"
    }


def test_a_channels_sla_is_switched_off_alone_and_an_empty_table_clears_them_all() -> None:
    without_phone = config_from_mapping({"sla": {"channels": {"phone": {"enabled": False}}}}).sla.channels
    assert sorted(without_phone) == sorted(set(default_config().sla.channels) - {"phone"})
    assert config_from_mapping({"sla": {"channels": {}}}).sla.channels == {}


def test_a_new_channel_policy_needs_its_target() -> None:
    with pytest.raises(
        ConfigError, match=r"sla\.channels\.store: must contain \['target_minutes'\] properties"
    ):
        config_from_mapping({"sla": {"channels": {"store": {"after_hours": "on_call"}}}})


def test_a_cooldown_for_one_type_keeps_the_default_for_the_others() -> None:
    alerts = config_from_mapping({"alerts": {"cooldown_minutes": {"long_wait": 5}}}).alerts
    assert alerts.cooldown_minutes == {
        "default": 60,
        "after_hours_unanswered": 0,
        "first_response_breach": 0,
        "long_wait": 5,
    }
    assert alerts.cooldown_seconds("long_wait") == 300
    assert alerts.cooldown_seconds("churn_risk") == 3600


def test_an_inhibition_for_one_type_keeps_the_default_inhibitions_and_a_list_replaces_whole() -> None:
    default = default_config().detectors["inhibitions"]
    added = config_from_mapping({"detectors": {"inhibitions": {"long_wait": ["complaint"]}}})
    assert added.detectors["inhibitions"] == {**default, "long_wait": ["complaint"]}
    replaced = config_from_mapping({"detectors": {"inhibitions": {"advocate_opportunity": ["complaint"]}}})
    assert replaced.detectors["inhibitions"] == {"advocate_opportunity": ["complaint"]}


def test_the_effective_configuration_shows_the_merged_tables() -> None:
    effective = effective_config({"sla": {"channels": {"chat": {"target_minutes": 10}}}})
    assert effective["sla"]["channels"]["chat"] == {
        "enabled": True,
        "target_minutes": 10,
        "after_hours": "on_call",
        "on_call_minutes": 30,
        "after_hours_target_minutes": 30,
    }
    assert effective["sla"]["channels"]["email"]["target_minutes"] == 240


# --- every problem at once ----------------------------------------------------------------------------------


def test_every_problem_of_a_rules_file_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        "[lifecycle]\ndefault_gap_days = 0\nbogus = 1\n"
        '[currency]\nbase = "euro"\n'
        "[state]\ndedupe_window = 2.5\n",
        "utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert list(caught.value.problems) == [
        f"{path}: currency.base: must be a three-letter currency code in capitals, e.g. EUR; got 'euro'",
        f"{path}: lifecycle: unknown key(s): bogus",
        f"{path}: lifecycle.default_gap_days: must be bigger than 0",
        f"{path}: state.dedupe_window: must be integer",
    ]
    assert str(caught.value) == "\n".join(caught.value.problems)


def test_cross_key_problems_and_calendar_problems_are_reported_together() -> None:
    rules = {
        "lifecycle": {"at_risk_multiplier": 3.0, "lapsed_multiplier": 2.5},
        "model": {"at_risk_below": 0.2, "lapsed_below": 0.5},
        "calendars": {
            "support": {"timezone": "Mars/Olympus", "hours": {}},
            "night": {"timezone": "UTC", "hours": {"mon": ["09:00-09:00"]}},
        },
        "calendar_selection": {"channels": {"chat": "nowhere"}},
    }
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(rules, "rules.toml")
    assert [problem.split(": ")[1] for problem in caught.value.problems] == [
        "lifecycle.lapsed_multiplier",
        "model.lapsed_below",
        "calendars.support.timezone",
        "calendars.night.hours.mon[0]",
        "calendar_selection.channels.chat",
    ]


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        pytest.param(
            {"alerts": {"cooldown_minutes": {"long_wiat": 5}}},
            "alerts.cooldown_minutes.long_wiat: unknown alert type (or `default`); alert types are "
            "after_hours_unanswered, first_response_breach",
            id="cooldown for an unknown type",
        ),
        pytest.param(
            {"detectors": {"inhibitions": {"advocate": ["complaint"]}}},
            "detectors.inhibitions.advocate: unknown alert type; alert types are",
            id="inhibition of an unknown type",
        ),
        pytest.param(
            {"detectors": {"inhibitions": {"advocate_opportunity": ["complaints"]}}},
            "detectors.inhibitions.advocate_opportunity[0]: unknown alert type 'complaints' (or `complaint`",
            id="inhibited by an unknown type",
        ),
    ],
)
def test_an_unknown_alert_type_is_refused_where_alert_types_are_named(
    rules: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(rules, "rules.toml")
    assert problem in str(caught.value)


def test_every_alert_type_is_accepted_for_cooldowns_and_inhibitions() -> None:
    from agents.catalogue import DETECTORS
    from agents.domain.alert import SLA_ALERT_TYPES

    types = [*SLA_ALERT_TYPES, *DETECTORS]
    config = config_from_mapping(
        {
            "alerts": {"cooldown_minutes": dict.fromkeys(types, 1)},
            "detectors": {"inhibitions": {kind: ["complaint", *types] for kind in types}},
        }
    )
    assert set(config.alerts.cooldown_minutes) == {"default", *types}


# --- schema problems in words: every kind of mistake --------------------------------------------------------

NUMBER = {"type": "number"}


@pytest.mark.parametrize(
    ("schema", "data", "problems"),
    [
        pytest.param(
            {"type": "object", "properties": {"a": NUMBER}}, {"a": "x"}, ["a: must be number"], id="type"
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"type": ["number", "null"]}}},
            {"a": "x"},
            ["a: must be number or null"],
            id="one of two types",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"minimum": 1}}},
            {"a": 0},
            ["a: must be bigger than or equal to 1"],
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"exclusiveMinimum": 0.5}}},
            {"a": 0},
            ["a: must be bigger than 0.5"],
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"maximum": 10}}},
            {"a": 11},
            ["a: must be smaller than or equal to 10"],
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"exclusiveMaximum": 1}}},
            {"a": 1},
            ["a: must be smaller than 1"],
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"minItems": 2}}},
            {"a": [1]},
            ["a: must contain at least 2 items"],
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"maxItems": 1}}},
            {"a": [1, 2]},
            ["a: must contain at most 1 items"],
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"enum": ["on_call", "next_opening"]}}},
            {"a": "never"},
            ["a: must be one of 'on_call', 'next_opening'"],
            id="enum",
        ),
        pytest.param(
            {"type": "object", "required": ["a", "b", "c"]},
            {"b": 1},
            ["(top level): must contain ['a', 'c'] properties"],
            id="required",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": NUMBER}, "additionalProperties": False},
            {"a": 1, "zz": 2, "bb": 3},
            ["(top level): unknown key(s): bb, zz"],
            id="unknown keys, sorted",
        ),
        pytest.param(
            {"type": "object", "propertyNames": {"enum": ["chat", "web"]}},
            {"fax": 1},
            ["(top level): unknown key 'fax'; keys are chat, web"],
            id="a key from a closed set",
        ),
        pytest.param(
            {"type": "object", "propertyNames": {"pattern": "^[A-Z]{3}$"}},
            {"usd": 1},
            ["(top level): key 'usd' must be a three-letter currency code in capitals, e.g. EUR"],
            id="a key with an explained pattern",
        ),
        pytest.param(
            {"type": "object", "propertyNames": {"pattern": "^x"}},
            {"y": 1},
            ["(top level): key 'y': 'y' does not match '^x'"],
            id="a key with any other pattern",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}}},
            {"a": "24.12.2026"},
            ["a: must be a date YYYY-MM-DD; got '24.12.2026'"],
            id="an explained pattern",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"pattern": "^x"}}},
            {"a": "y"},
            ["a: must match pattern ^x"],
            id="any other pattern",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"minLength": 2}}},
            {"a": "y"},
            ["a: 'y' is too short"],
            id="anything else, in jsonschema's words",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"type": "array", "items": NUMBER}}},
            {"a": [1, "x", True]},
            ["a[1]: must be number", "a[2]: must be number"],
            id="list items by index",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {"b": {"type": "object", "properties": {"c": NUMBER}}, "a": NUMBER},
            },
            {"b": {"c": "x"}, "a": "y"},
            ["a: must be number", "b.c: must be number"],
            id="nested keys, in document order",
        ),
        pytest.param({"type": "object"}, {"a": 1}, [], id="nothing wrong"),
    ],
)
def test_each_kind_of_schema_problem_is_said_in_words(
    schema: dict[str, Any], data: dict[str, Any], problems: list[str]
) -> None:
    assert schema_problems(schema, data) == problems


def test_a_problem_found_twice_is_said_once() -> None:
    schema = {"anyOf": [{"type": "object", "required": ["a"]}, {"type": "object", "required": ["a"]}]}
    assert schema_problems(
        {"type": "object", "properties": {"x": {"allOf": [NUMBER, NUMBER]}}}, {"x": "y"}
    ) == ["x: must be number"]
    assert len(schema_problems(schema, {})) == 1


# --- the model section ---------------------------------------------------------------------------------------


def fitted_params(tmp_path: Path, name: str = "fitted.json") -> Path:
    path = tmp_path / name
    path.write_bytes(orjson.dumps(params_document(DEFAULT_PARAMS)))
    return path


def test_without_a_fitted_file_the_model_uses_the_defaults_and_the_rule_based_stages_and_tiers() -> None:
    model = default_config().model
    assert model.params is DEFAULT_PARAMS
    assert not model.stages_from_model
    assert not model.tiers_from_clv
    assert (model.at_risk_below, model.lapsed_below) == (0.5, 0.2)
    assert (model.clv_periods, model.clv_period_days, model.discount_rate) == (12, 30.4375, 0.01)
    assert model.best_customer_quantile == 0.9


def test_the_models_settings_come_from_the_rules_file() -> None:
    model = config_from_mapping(
        {
            "model": {
                "at_risk_below": 0.4,
                "lapsed_below": 0.1,
                "clv_periods": 6,
                "clv_period_days": 7,
                "discount_rate": 0.02,
                "best_customer_quantile": 0.8,
            }
        }
    ).model
    assert (model.at_risk_below, model.lapsed_below) == (0.4, 0.1)
    assert (model.clv_periods, model.clv_period_days, model.discount_rate) == (6, 7, 0.02)
    assert model.best_customer_quantile == 0.8


@pytest.mark.parametrize(
    ("choices", "fitted", "stages_from_model", "tiers_from_clv"),
    [
        pytest.param({}, False, False, False, id="auto without a fit: the rules"),
        pytest.param({}, True, True, True, id="auto with a fit: the model"),
        pytest.param(
            {"stages": "model", "value_tiers_from": "clv"}, False, True, True, id="the model even unfitted"
        ),
        pytest.param(
            {"stages": "cadence", "value_tiers_from": "net_value"}, True, False, False, id="the rules, fitted"
        ),
        pytest.param({"stages": "model", "value_tiers_from": "net_value"}, True, True, False, id="mixed"),
    ],
)
def test_auto_follows_the_model_once_a_fitted_file_is_given(
    tmp_path: Path, choices: dict[str, str], fitted: bool, stages_from_model: bool, tiers_from_clv: bool
) -> None:
    params = fitted_params(tmp_path) if fitted else None
    model = config_from_mapping({"model": choices}, model_params=params).model
    assert (model.stages_from_model, model.tiers_from_clv) == (stages_from_model, tiers_from_clv)
    assert model.params.fitted is fitted


def test_model_params_in_the_rules_file_are_read_relative_to_it_or_as_given(tmp_path: Path) -> None:
    fitted = fitted_params(tmp_path)
    relative = config_from_mapping({"model": {"params": "fitted.json"}}, str(tmp_path / "rules.toml"))
    assert relative.model.params.source == str(fitted)
    absolute = config_from_mapping({"model": {"params": str(fitted)}}, "/elsewhere/rules.toml")
    assert absolute.model.params.source == str(fitted)
    with contextlib.chdir(tmp_path):
        from_defaults = config_from_mapping({"model": {"params": "fitted.json"}})
    assert from_defaults.model.params.source == "fitted.json", "no rules file: relative to where we run"


def test_a_missing_params_file_is_a_config_error_said_with_the_other_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(
            {"model": {"params": "absent.json"}, "calendar_selection": {"channels": {"chat": "nowhere"}}},
            str(tmp_path / "rules.toml"),
        )
    assert caught.value.problems == (
        f"{tmp_path / 'rules.toml'}: calendar_selection.channels.chat: no calendar named 'nowhere'; "
        "defined: default, stores",
        f"{tmp_path / 'absent.json'}: cannot read model parameters: No such file or directory",
    )


def test_load_config_without_a_file_still_takes_the_model_parameters(tmp_path: Path) -> None:
    fitted = fitted_params(tmp_path)
    assert load_config(None, fitted).model.params.source == str(fitted)
    rules = tmp_path / "rules.toml"
    rules.write_text("# defaults\n", "utf-8")
    assert load_config(rules, fitted).model.params.source == str(fitted)
    assert load_config(rules).model.params is DEFAULT_PARAMS


# --- the rest of the sections ---------------------------------------------------------------------------------


def test_the_sla_section_is_read_whole() -> None:
    sla = config_from_mapping(
        {"sla": {"bot_replies_count": True, "warn_before_minutes": 5, "intent_topics": ["Price", "REFUND"]}}
    ).sla
    assert sla.bot_replies_count is True
    assert sla.warn_before_minutes == 5
    assert sla.intent_topics == frozenset({"price", "refund"})
    default = default_config().sla
    assert (default.bot_replies_count, default.warn_before_minutes) == (False, 10)


def test_a_cooldown_falls_back_to_the_default_and_to_an_hour_without_one() -> None:
    def alerts(cooldown_minutes: dict[str, float]) -> AlertConfig:
        return dataclasses.replace(default_config().alerts, cooldown_minutes=cooldown_minutes)

    assert alerts({"default": 5, "long_wait": 1}).cooldown_seconds("churn_risk") == 300
    assert alerts({"long_wait": 1}).cooldown_seconds("churn_risk") == 3600
    assert alerts({"long_wait": 1.5}).cooldown_seconds("long_wait") == 90


@pytest.mark.parametrize(
    ("rules", "accepted"),
    [
        pytest.param(
            {"lifecycle": {"at_risk_multiplier": 3.0, "lapsed_multiplier": 3.0}}, True, id="equal multipliers"
        ),
        pytest.param(
            {"model": {"at_risk_below": 0.3, "lapsed_below": 0.3}}, True, id="equal P(alive) thresholds"
        ),
        pytest.param(
            {"model": {"at_risk_below": 0.3, "lapsed_below": 0.31}}, False, id="lapsed above at risk"
        ),
    ],
)
def test_equal_thresholds_are_allowed_and_only_an_inverted_pair_is_refused(
    rules: dict[str, Any], accepted: bool
) -> None:
    if accepted:
        config_from_mapping(rules)
    else:
        with pytest.raises(ConfigError, match=r"model\.lapsed_below: must not exceed at_risk_below"):
            config_from_mapping(rules)


def test_a_malformed_section_does_not_hide_the_problems_of_the_others() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(
            {"value_tiers": 5, "alerts": {"cooldown_minutes": {"long_wiat": 1}}}, "rules.toml"
        )
    assert caught.value.problems[0] == "rules.toml: value_tiers: must be array"
    assert caught.value.problems[1].startswith(
        "rules.toml: alerts.cooldown_minutes.long_wiat: unknown alert type"
    )


def test_a_problem_without_a_named_source_says_defaults() -> None:
    with pytest.raises(ConfigError, match=r"^<defaults>: lifecycle: unknown key\(s\): x$"):
        effective_config({"lifecycle": {"x": 1}})


def test_a_broken_plugin_stops_the_configuration_before_anything_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agents import catalogue

    monkeypatch.setattr(catalogue, "check_plugins", lambda: ["detector plug-in 'x' (m:C): cannot load m:C"])
    with pytest.raises(ConfigError) as caught:
        config_from_mapping({"lifecycle": {"bogus": 1}}, "rules.toml")
    assert caught.value.problems == ("rules.toml: detector plug-in 'x' (m:C): cannot load m:C",)


def test_the_time_bounds_and_the_calendars_come_from_the_rules_file() -> None:
    config = config_from_mapping(
        {
            "time": {"max_future_skew_seconds": 60, "max_event_age_days": 2, "watermark_quorum": 3},
            "calendar_selection": {"channels": {"chat": "stores"}},
        }
    )
    assert (config.time.max_future_skew, config.time.max_event_age, config.time.watermark_quorum) == (
        60,
        172_800,
        3,
    )
    assert sorted(config.calendars.by_name) == ["default", "stores"]
    assert config.calendars.for_touchpoint("chat", None) is config.calendars["stores"]
    assert config.calendars.for_touchpoint("email", None) is config.calendars.default


def test_a_detectors_options_are_checked_and_completed_with_its_defaults() -> None:
    assert detector_settings("long_wait", {"wait_seconds": 45}) == {
        "enabled": True,
        "wait_seconds": 45,
        "channels": ["phone", "chat"],
        "repeat_within_days": 7,
    }
    with pytest.raises(ConfigError) as caught:
        detector_settings("long_wait", {"wait_seconds": -1, "colour": "red"})
    assert caught.value.problems == (
        "<defaults>: detectors.long_wait: unknown key(s): colour",
        "<defaults>: detectors.long_wait.wait_seconds: must be bigger than or equal to 0",
    )


def test_a_closed_table_without_named_keys_refuses_every_key() -> None:
    assert schema_problems({"type": "object", "additionalProperties": False}, {"b": 1, "a": 2}) == [
        "(top level): unknown key(s): a, b"
    ]


def test_a_bound_written_as_a_float_is_said_without_a_trailing_zero_and_a_whole_one_in_full() -> None:
    schema = {"type": "object", "properties": {"a": {"maximum": 1.0}, "b": {"minimum": 1_000_000}}}
    assert schema_problems(schema, {"a": 2, "b": 0}) == [
        "a: must be smaller than or equal to 1",
        "b: must be bigger than or equal to 1000000",
    ]


def test_an_alert_expires_after_its_types_hours_else_the_default_else_a_week() -> None:
    def alerts(expire_after_hours: dict[str, float]) -> AlertConfig:
        return dataclasses.replace(default_config().alerts, expire_after_hours=expire_after_hours)

    assert default_config().alerts.expiry_seconds("long_wait") == 24 * 3600
    assert default_config().alerts.expiry_seconds("complaint_opened") == 168 * 3600
    assert alerts({"default": 2, "long_wait": 1}).expiry_seconds("churn_risk") == 7200
    assert alerts({"long_wait": 1}).expiry_seconds("churn_risk") == 168 * 3600
    assert alerts({"long_wait": 0.5}).expiry_seconds("long_wait") == 1800


# --- identity resolution, enriched events, first-response digests --------------------------------------------


def test_identity_resolution_is_on_by_default_with_the_documented_limits() -> None:
    identity = default_config().identity
    assert identity.enabled is True
    assert identity.blocked == {
        kind: () for kind in ("any", "loyalty_id", "email", "phone", "openid", "device_id")
    }
    assert identity.limits == {
        "loyalty_id": KindLimit(2, None),
        "email": KindLimit(2, None),
        "phone": KindLimit(3, None),
        "openid": KindLimit(2, None),
        "device_id": KindLimit(5, 7 * 86400),
    }


def test_identity_settings_come_from_the_rules_file_a_window_in_days_of_event_time() -> None:
    identity = config_from_mapping(
        {
            "identity": {
                "enabled": False,
                "blocked": {"email": ["^.*@example\\.com$"]},
                "limits": {
                    "phone": {"customers": 4, "window_days": 1.5},
                    "email": {"customers": 1, "window_days": 0},
                },
            }
        }
    ).identity
    assert identity.enabled is False
    assert identity.blocked["email"] == ("^.*@example\\.com$",)
    assert identity.limits["phone"] == KindLimit(4, 129600)
    assert identity.limits["email"] == KindLimit(1, None), "0 days: ever"


def test_a_blocked_pattern_that_is_not_a_regular_expression_is_a_problem_naming_where() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping({"identity": {"blocked": {"phone": ["^0+$", "(unclosed"], "any": ["[z-a]"]}}})
    assert set(caught.value.problems) == {
        "<defaults>: identity.blocked.any[0]: not a regular expression: bad character range z-a at position 1",
        "<defaults>: identity.blocked.phone[1]: not a regular expression: missing ), unterminated subpattern "
        "at position 0",
    }


def test_enriched_events_keep_the_attributes_the_rules_file_names() -> None:
    assert config_from_mapping({"enriched": {"attributes": ["amount", "plan"]}}).enriched.attributes == {
        "amount",
        "plan",
    }
    assert "note" not in default_config().enriched.attributes
    assert default_config().enriched.attributes >= {"amount", "currency", "sku"}


def test_first_response_warnings_are_digested_every_five_minutes_unless_told_otherwise() -> None:
    assert default_config().sla.warning_digest_minutes == 5
    assert config_from_mapping({"sla": {"warning_digest_minutes": 0}}).sla.warning_digest_minutes == 0


# --- the best-customer threshold -----------------------------------------------------------------------------


def test_the_best_customer_threshold_is_the_populations_without_a_fit_and_the_fits_with_one(
    tmp_path: Path,
) -> None:
    assert default_config().model.best_customers.fixed is None
    fitted = config_from_mapping({}, model_params=fitted_params(tmp_path)).model.best_customers
    assert fitted.fixed == DEFAULT_PARAMS.best_customer_clv
    population = {"model": {"best_customers": {"threshold": "population"}}}
    assert (
        config_from_mapping(population, model_params=fitted_params(tmp_path)).model.best_customers.fixed
        is None
    )


def test_a_fixed_best_customer_threshold_is_that_clv_fit_or_not(tmp_path: Path) -> None:
    rules = {"model": {"best_customers": {"threshold": 250}}}
    assert config_from_mapping(rules).model.best_customers.fixed == 250.0
    assert (
        config_from_mapping(rules, model_params=fitted_params(tmp_path)).model.best_customers.fixed == 250.0
    )


def test_how_the_population_threshold_is_kept_comes_from_the_rules_file() -> None:
    rules = {
        "model": {
            "best_customers": {
                "every_hours": 12,
                "effective_after_hours": 2,
                "min_buyers": 50,
                "window_days": 90,
                "relative_accuracy": 0.02,
            }
        }
    }
    assert config_from_mapping(rules).model.best_customers == BestCustomersConfig(
        fixed=None,
        every_hours=12,
        effective_after_hours=2,
        min_buyers=50,
        window_days=90,
        relative_accuracy=0.02,
    )
