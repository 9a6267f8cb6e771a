"""The rules file: TOML, validated against schemas/config.v1.json, defaults from that schema.

The schema is the one place a default is written; the dataclasses here only give
the validated values names and types for the pure core.
"""

from __future__ import annotations

import functools
import itertools
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import schemas
from agents import catalogue
from agents.calendar import Calendars, calendars_from_config
from agents.domain.alert import SLA_ALERT_TYPES
from agents.domain.errors import ConfigError
from agents.identity.resolution import KindLimit
from agents.lines import HEAD_BYTES, not_utf8

if TYPE_CHECKING:
    from agents.models.params import ModelParams

__all__ = [
    "Config",
    "ConfigError",
    "config_from_mapping",
    "default_config",
    "detector_settings",
    "effective_config",
    "load_config",
]


@dataclass(frozen=True)
class CurrencyConfig:
    base: str
    rates: Mapping[str, float]

    def to_base(self, amount: float, currency: str) -> float | None:
        """*amount* in the base currency, or None for a currency without a configured rate."""
        if currency == self.base:
            return amount
        rate = self.rates.get(currency)
        return None if rate is None else amount * rate


@dataclass(frozen=True)
class LifecycleConfig:
    default_gap_days: int | float  # as the rules file says: it appears so in alerts (typical_gap_days)
    min_purchase_days_for_cadence: int
    at_risk_multiplier: float
    lapsed_multiplier: float
    at_risk_min_days: float
    lapse_window_days: float
    loyal_min_purchase_days: int
    loyal_min_tenure_days: float
    loyal_min_satisfaction: float
    advocate_min_nps: int


@dataclass(frozen=True)
class ValueTier:
    name: str
    min_value: float


@dataclass(frozen=True)
class StateConfig:
    dedupe_window: int
    satisfaction_half_life_days: float
    max_purchase_days: int
    answered_memory: int


@dataclass(frozen=True)
class EnrichedConfig:
    #: Attribute names an enriched touchpoint keeps; every other attribute is left out.
    attributes: frozenset[str]


@dataclass(frozen=True)
class TimeConfig:
    max_future_skew_seconds: float
    max_event_age_days: float
    watermark_quorum: int

    @property
    def max_future_skew(self) -> int:
        return round(self.max_future_skew_seconds)

    @property
    def max_event_age(self) -> int:
        return round(self.max_event_age_days * 86400)


@dataclass(frozen=True)
class DeadlineConfig:
    allowed_lateness_seconds: float
    wall_clock_sweep: bool
    quiet_seconds: float


@dataclass(frozen=True)
class ChannelPolicy:
    """First-response policy of one channel (see schemas/config.v1.json, sla.channels)."""

    target_minutes: float
    after_hours: str = "next_opening"
    on_call_minutes: float = 30
    after_hours_target_minutes: float = 30


@dataclass(frozen=True)
class SlaConfig:
    channels: Mapping[str, ChannelPolicy]
    bot_replies_count: bool
    warn_before_minutes: float
    intent_topics: frozenset[str]
    #: 0: one first_response_due_soon alert per inquiry; else the digest interval.
    warning_digest_minutes: float = 0

    @property
    def warning_digest_seconds(self) -> int:
        """The digests' interval in whole seconds (0: no digests); a fraction of a second is one second."""
        minutes = self.warning_digest_minutes
        return max(1, round(minutes * 60)) if minutes > 0 else 0


@dataclass(frozen=True)
class AlertConfig:
    cooldown_minutes: Mapping[str, float]
    expire_after_hours: Mapping[str, float]
    max_open_per_customer: int
    retain_days: float
    max_snooze_minutes: float

    def cooldown_seconds(self, alert_type: str) -> int:
        minutes = self.cooldown_minutes.get(alert_type, self.cooldown_minutes.get("default", 60))
        return round(minutes * 60)

    def expiry_seconds(self, alert_type: str) -> int:
        """How long an alert of *alert_type* may stay open before the worker resolves it as expired."""
        hours = self.expire_after_hours.get(alert_type, self.expire_after_hours.get("default", 168))
        return round(hours * 3600)


@dataclass(frozen=True)
class ModelConfig:
    """The churn and value models: parameters (fitted or the defaults) and how the worker uses them."""

    params: ModelParams
    at_risk_below: float
    lapsed_below: float
    #: Resolved from ``auto``: True when at_risk/lapsed follow P(alive), False for the cadence rules.
    stages_from_model: bool
    #: Resolved from ``auto``: True when value tiers compare CLV, False for net value.
    tiers_from_clv: bool
    clv_periods: int
    clv_period_days: float
    discount_rate: float
    best_customer_quantile: float
    best_customers: BestCustomersConfig


@dataclass(frozen=True)
class BestCustomersConfig:
    """Where the best-customer threshold comes from (schemas/config.v1.json, model.best_customers)."""

    #: A fixed CLV threshold, or None: the population's quantile, kept as the data streams.
    fixed: float | None
    every_hours: float
    effective_after_hours: float
    min_buyers: int
    window_days: float
    relative_accuracy: float


@dataclass(frozen=True)
class IdentityConfig:
    """Identity resolution (schemas/config.v1.json, ``identity``; docs/identity.md)."""

    enabled: bool
    #: kind (or ``any``) → placeholder patterns added to the built-in ones.
    blocked: Mapping[str, tuple[str, ...]]
    limits: Mapping[str, KindLimit]


def identity_config(section: Mapping[str, Any]) -> IdentityConfig:
    return IdentityConfig(
        enabled=section["enabled"],
        blocked={kind: tuple(patterns) for kind, patterns in section["blocked"].items()},
        limits={
            kind: KindLimit(limit["customers"], round(limit["window_days"] * 86400) or None)
            for kind, limit in section["limits"].items()
        },
    )


def _resolve(choice: str, model_choice: str, fitted: bool) -> bool:
    return fitted if choice == "auto" else choice == model_choice


def model_config(section: Mapping[str, Any], source: str, params_path: Path | None = None) -> ModelConfig:
    """The model section, parameters read from *params_path* (or the section's ``params``, or the defaults)."""
    from agents.models.params import DEFAULT_PARAMS, ParamsError, load_params

    path = params_path
    if path is None and section.get("params"):
        path = Path(section["params"])
        if not path.is_absolute() and source != "<defaults>":
            path = Path(source).parent / path
    try:
        params = DEFAULT_PARAMS if path is None else load_params(path)
    except ParamsError as exc:
        raise ConfigError(str(exc)) from None
    best = section["best_customers"]
    choice = best["threshold"]
    fixed: float | None
    if isinstance(choice, int | float):
        fixed = float(choice)
    elif choice == "auto" and params.fitted:
        fixed = params.best_customer_clv
    else:
        fixed = None
    return ModelConfig(
        params=params,
        at_risk_below=section["at_risk_below"],
        lapsed_below=section["lapsed_below"],
        stages_from_model=_resolve(section["stages"], "model", params.fitted),
        tiers_from_clv=_resolve(section["value_tiers_from"], "clv", params.fitted),
        clv_periods=section["clv_periods"],
        clv_period_days=section["clv_period_days"],
        discount_rate=section["discount_rate"],
        best_customer_quantile=section["best_customer_quantile"],
        best_customers=BestCustomersConfig(
            fixed=fixed,
            every_hours=best["every_hours"],
            effective_after_hours=best["effective_after_hours"],
            min_buyers=best["min_buyers"],
            window_days=best["window_days"],
            relative_accuracy=best["relative_accuracy"],
        ),
    )


@dataclass(frozen=True)
class Config:
    currency: CurrencyConfig
    lifecycle: LifecycleConfig
    value_tiers: tuple[ValueTier, ...]
    state: StateConfig
    enriched: EnrichedConfig
    time: TimeConfig
    deadlines: DeadlineConfig
    calendars: Calendars
    sla: SlaConfig
    alerts: AlertConfig
    #: The detectors section as validated, defaults filled: each detector reads its own part.
    detectors: Mapping[str, Any]
    model: ModelConfig
    identity: IdentityConfig
    #: Where it came from, for messages.
    source: str = "<defaults>"

    @property
    def top_tier(self) -> str:
        return self.value_tiers[-1].name


@functools.cache
def config_schema() -> dict[str, Any]:
    """schemas/config.v1.json with the sections of the installed detector plug-ins added under ``detectors``."""
    base = schemas.load_schema("config")
    installed = catalogue.plugins()
    if not installed:
        return base
    schema: dict[str, Any] = _copy(base)
    sections = schema["properties"]["detectors"]["properties"]
    for plugin in installed:
        sections[plugin.type] = catalogue.config_schema(plugin)
    return schema


def effective_config(data: Mapping[str, Any], source: str = "<defaults>") -> dict[str, Any]:
    """Validate *data* and return it with every default filled in; ConfigError lists every problem."""
    filled, problems, _readable = _checked(data, source)
    if problems:
        raise ConfigError(*problems)
    return filled


def detector_settings(alert_type: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """One detector's section of the rules file, validated, every default filled in.

    A detector's constructor reads its options through this, so one built from a partial
    section (a test, a plug-in's caller) behaves as the worker's, and a bad one is a ConfigError.
    """
    settings: dict[str, Any] = effective_config({"detectors": {alert_type: dict(options)}})["detectors"][
        alert_type
    ]
    return settings


def _checked(data: Mapping[str, Any], source: str) -> tuple[dict[str, Any], list[str], bool]:
    """*data* merged over the defaults, its problems, and whether its shape is valid (the rest can read it).

    The problems are those the schema finds, then the cross-key ones of every part that is well formed.
    """
    broken = catalogue.check_plugins()
    if broken:
        return dict(data), [f"{source}: {problem}" for problem in broken], False
    schema = config_schema()
    filled: dict[str, Any] = _with_defaults(schema, dict(data))
    try:
        _compiled_schema()(filled)  # the common case, a valid file, at compiled speed
        shape = []
    except schemas.ValidationError:
        shape = schema_problems(schema, filled)
    problems = [f"{source}: {problem}" for problem in [*shape, *_cross_key_problems(filled)]]
    return filled, problems, not shape


def _cross_key_problems(filled: Mapping[str, Any]) -> list[str]:
    """What a JSON Schema cannot say: orderings, uniqueness, and names that must be alert types."""
    problems = []
    for check in (_tier_problems, _threshold_problems, _alert_type_problems, _pattern_problems):
        try:
            problems.extend(check(filled))
        except (KeyError, TypeError, AttributeError):
            continue  # that part is malformed, and the schema's problems already say where
    return problems


def _tier_problems(filled: Mapping[str, Any]) -> list[str]:
    problems = []
    tiers = filled["value_tiers"]
    minimums = [tier["min_value"] for tier in tiers]
    if any(later <= earlier for earlier, later in itertools.pairwise(minimums)):
        problems.append("value_tiers: min_value must increase strictly, lowest tier first")
    if len({tier["name"] for tier in tiers}) != len(tiers):
        problems.append("value_tiers: tier names must be unique")
    return problems


def _threshold_problems(filled: Mapping[str, Any]) -> list[str]:
    problems = []
    lifecycle = filled["lifecycle"]
    if lifecycle["lapsed_multiplier"] < lifecycle["at_risk_multiplier"]:
        problems.append("lifecycle.lapsed_multiplier: must not be below at_risk_multiplier")
    model = filled["model"]
    if model["lapsed_below"] > model["at_risk_below"]:
        problems.append("model.lapsed_below: must not exceed at_risk_below")
    return problems


def _alert_type_problems(filled: Mapping[str, Any]) -> list[str]:
    problems = []
    alert_types = (*SLA_ALERT_TYPES, *catalogue.all_detectors())
    known = f"alert types are {', '.join(alert_types)}"
    for section in ("cooldown_minutes", "expire_after_hours"):
        for name in filled["alerts"][section]:
            if name != "default" and name not in alert_types:
                problems.append(f"alerts.{section}.{name}: unknown alert type (or `default`); {known}")
    for name, inhibitors in filled["detectors"]["inhibitions"].items():
        if name not in alert_types:
            problems.append(f"detectors.inhibitions.{name}: unknown alert type; {known}")
        for index, inhibitor in enumerate(inhibitors):
            if inhibitor != "complaint" and inhibitor not in alert_types:
                problems.append(
                    f"detectors.inhibitions.{name}[{index}]: unknown alert type {inhibitor!r} "
                    f"(or `complaint`: any open complaint); {known}"
                )
    return problems


def _pattern_problems(filled: Mapping[str, Any]) -> list[str]:
    problems = []
    for kind, patterns in filled["identity"]["blocked"].items():
        for index, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(f"identity.blocked.{kind}[{index}]: not a regular expression: {exc}")
    return problems


@functools.cache
def _compiled_schema() -> Callable[[Any], Any]:
    import fastjsonschema

    return (
        schemas.validator("config")
        if config_schema() is schemas.load_schema("config")
        else fastjsonschema.compile(config_schema())
    )


#: What each pattern of the config schema asks for, in words: a raw regex helps nobody.
PATTERN_MEANINGS: dict[str, str] = {
    "^[A-Z]{3}$": "a three-letter currency code in capitals, e.g. EUR",
    "^[a-z][a-z0-9_]*$": "lower-case letters, digits and _, starting with a letter",
    "^([01][0-9]|2[0-3]):[0-5][0-9]-(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$": (
        "an opening interval HH:MM-HH:MM on the 24-hour clock, e.g. 09:00-17:30: hours 00-23, "
        "minutes 00-59, 24:00 only as an end; an end before the start runs past midnight (22:00-02:00)"
    ),
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}$": "a date YYYY-MM-DD",
}


def schema_problems(schema: Mapping[str, Any], data: Any) -> list[str]:
    """Every place *data* breaks *schema*, as ``<key>: <what is wrong>``, in document order."""
    import jsonschema

    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(
        validator.iter_errors(data), key=lambda error: [str(part) for part in error.absolute_path]
    )
    problems = []
    for error in errors:
        problem = f"{_key(error.absolute_path)}: {_describe(error)}"
        if problem not in problems:
            problems.append(problem)
    return problems


def _key(path: Any) -> str:
    key = ""
    for part in path:
        key += f"[{part}]" if isinstance(part, int) else f".{part}" if key else str(part)
    return key or "(top level)"


def _describe(error: Any) -> str:
    """One error in the words fastjsonschema uses for the live contracts, patterns explained."""
    kind, expected, value = error.validator, error.validator_value, error.instance
    if "propertyNames" in error.schema_path:
        allowed = error.schema.get("enum")
        if allowed is not None:
            return f"unknown key {value!r}; keys are {', '.join(map(str, allowed))}"
        meaning = PATTERN_MEANINGS.get(error.schema.get("pattern", ""))
        return f"key {value!r} must be {meaning}" if meaning else f"key {value!r}: {error.message}"
    if kind == "additionalProperties" and isinstance(value, dict):
        allowed = error.schema.get("properties", {})
        return "unknown key(s): " + ", ".join(sorted(key for key in value if key not in allowed))
    if kind == "required" and isinstance(value, dict):
        return f"must contain {[key for key in expected if key not in value]} properties"
    if kind == "type":
        names = expected if isinstance(expected, list) else [expected]
        return "must be " + " or ".join(str(name) for name in names)
    if kind == "pattern":
        meaning = PATTERN_MEANINGS.get(expected)
        return f"must be {meaning}; got {value!r}" if meaning else f"must match pattern {expected}"
    words = {
        "minimum": "must be bigger than or equal to",
        "exclusiveMinimum": "must be bigger than",
        "maximum": "must be smaller than or equal to",
        "exclusiveMaximum": "must be smaller than",
        "minItems": "must contain at least",
        "maxItems": "must contain at most",
    }
    if kind in words:
        unit = " items" if kind in ("minItems", "maxItems") else ""
        return (
            f"{words[kind]} {expected:g}{unit}"
            if isinstance(expected, float)
            else f"{words[kind]} {expected}{unit}"
        )
    if kind == "enum":
        return "must be one of " + ", ".join(repr(item) for item in expected)
    return str(error.message)


def config_from_mapping(
    data: Mapping[str, Any], source: str = "<defaults>", model_params: Path | None = None
) -> Config:
    """The validated configuration; *model_params* (``--model``) overrides the rules file's ``model.params``."""
    filled, problems, readable = _checked(data, source)
    if not readable:
        raise ConfigError(*problems)
    # Past the schema, collect the problems of every part before giving up: one run shows them all.
    calendars = model = None
    try:
        calendars = calendars_from_config(filled, source)
    except ConfigError as exc:
        problems.extend(exc.problems)
    try:
        model = model_config(filled["model"], source, model_params)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems or calendars is None or model is None:
        raise ConfigError(*problems)
    sla = filled["sla"]
    return Config(
        calendars=calendars,
        sla=SlaConfig(
            channels={
                name: ChannelPolicy(**{key: value for key, value in policy.items() if key != "enabled"})
                for name, policy in sla["channels"].items()
                if policy.get("enabled", True)
            },
            bot_replies_count=sla["bot_replies_count"],
            warn_before_minutes=sla["warn_before_minutes"],
            intent_topics=frozenset(topic.lower() for topic in sla["intent_topics"]),
            warning_digest_minutes=sla["warning_digest_minutes"],
        ),
        alerts=AlertConfig(**filled["alerts"]),
        detectors=filled["detectors"],
        model=model,
        currency=CurrencyConfig(**filled["currency"]),
        lifecycle=LifecycleConfig(**filled["lifecycle"]),
        value_tiers=tuple(ValueTier(**tier) for tier in filled["value_tiers"]),
        state=StateConfig(**filled["state"]),
        enriched=EnrichedConfig(attributes=frozenset(filled["enriched"]["attributes"])),
        time=TimeConfig(**filled["time"]),
        deadlines=DeadlineConfig(**filled["deadlines"]),
        identity=identity_config(filled["identity"]),
        source=source,
    )


def default_config() -> Config:
    return config_from_mapping({})


def _not_utf8_text(path: Path) -> str:
    """What a message says of a file that is not UTF-8: its encoding, where a byte-order mark tells it."""
    with path.open("rb") as handle:
        encoding = not_utf8(handle.read(HEAD_BYTES))
    if encoding is None:
        return "not UTF-8 text"
    return f'{encoding} text, not UTF-8 (Notepad\'s "Unicode"): save it as UTF-8'


def load_config(path: Path | None, model_params: Path | None = None) -> Config:
    """Read and validate the rules file at *path* (None: all defaults), with *model_params* if given."""
    if path is None:
        return config_from_mapping({}, model_params=model_params)
    try:
        # utf-8-sig: a byte-order mark before the first line (Notepad writes one) is not part of the TOML.
        data = tomllib.loads(path.read_text("utf-8-sig"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: {_not_utf8_text(path)}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return config_from_mapping(data, str(path), model_params)


#: Sections a given value replaces whole instead of merging into the defaults (calendars have their own
#: rule, in agents.calendar: a table defining ``default`` replaces the built-ins, any other is laid over them).
REPLACED_WHOLE = frozenset({("calendars",)})


def _with_defaults(schema: Mapping[str, Any], value: Any, path: tuple[str, ...] = ()) -> Any:
    """*value* with the schema's defaults filled in, its whole numbers as ints; a partial table is merged key
    by key into its default.

    An empty table given explicitly (``channels = {}``) clears its default instead: the one way to say "none".
    """
    if isinstance(value, float) and schema.get("type") == "integer" and value.is_integer():
        return int(value)  # TOML's 4.0 is JSON Schema's integer 4, and the core counts in ints
    if not isinstance(value, dict) or schema.get("type") != "object":
        return value
    default = schema.get("default")
    if path and path not in REPLACED_WHOLE and isinstance(default, dict) and default and value:
        value = _merged(default, value)
    result = dict(value)
    for name, spec in schema.get("properties", {}).items():
        if name not in result and "default" in spec:
            result[name] = _copy(spec["default"])
        if name in result:
            result[name] = _with_defaults(spec, result[name], (*path, name))
    return result


def _merged(default: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """*given* laid over *default*: tables merge key by key, anything else (lists too) replaces."""
    result: dict[str, Any] = _copy(dict(default))
    for key, value in given.items():
        below = result.get(key)
        # An empty table clears what it replaces; a non-empty one merges into it.
        if isinstance(below, dict) and isinstance(value, dict) and value:
            result[key] = _merged(below, value)
        else:
            result[key] = value
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value
