"""The rules file: TOML, validated against schemas/config.v1.json, defaults from that schema.

The schema is the one place a default is written; the dataclasses here only give
the validated values names and types for the pure core.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import schemas

if TYPE_CHECKING:
    from agents.calendar import Calendars
    from agents.models.params import ModelParams

__all__ = [
    "Config",
    "ConfigError",
    "config_from_mapping",
    "default_config",
    "effective_config",
    "load_config",
]


class ConfigError(ValueError):
    """The rules file cannot be used: names the file, the key and what is wrong."""


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
    default_gap_days: float
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


@dataclass(frozen=True)
class AlertConfig:
    cooldown_minutes: Mapping[str, float]
    max_open_per_customer: int
    retain_days: float
    max_snooze_minutes: float

    def cooldown_seconds(self, alert_type: str) -> int:
        minutes = self.cooldown_minutes.get(alert_type, self.cooldown_minutes.get("default", 60))
        return round(minutes * 60)


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
    )


@dataclass(frozen=True)
class Config:
    currency: CurrencyConfig
    lifecycle: LifecycleConfig
    value_tiers: tuple[ValueTier, ...]
    state: StateConfig
    time: TimeConfig
    deadlines: DeadlineConfig
    calendars: Calendars
    sla: SlaConfig
    alerts: AlertConfig
    #: The detectors section as validated, defaults filled: each detector reads its own part.
    detectors: Mapping[str, Any]
    model: ModelConfig
    #: Where it came from, for messages.
    source: str = "<defaults>"

    @property
    def top_tier(self) -> str:
        return self.value_tiers[-1].name


def effective_config(data: Mapping[str, Any], source: str = "<defaults>") -> dict[str, Any]:
    """Validate *data* and return it with every default filled in."""
    filled: dict[str, Any] = _with_defaults(schemas.load_schema("config"), dict(data))
    try:
        schemas.validator("config")(filled)
    except schemas.ValidationError as exc:
        key = str(exc.name).removeprefix("data").lstrip(".") or "(top level)"
        message = str(exc.message).removeprefix(str(exc.name)).strip()
        if exc.rule == "additionalProperties" and isinstance(exc.value, dict):
            allowed = exc.definition.get("properties", {})
            message = "unknown key(s): " + ", ".join(sorted(k for k in exc.value if k not in allowed))
        raise ConfigError(f"{source}: {key}: {message}") from None
    tiers = filled["value_tiers"]
    minimums = [tier["min_value"] for tier in tiers]
    if any(later <= earlier for earlier, later in itertools.pairwise(minimums)):
        raise ConfigError(f"{source}: value_tiers: min_value must increase strictly, lowest tier first")
    if len({tier["name"] for tier in tiers}) != len(tiers):
        raise ConfigError(f"{source}: value_tiers: tier names must be unique")
    lifecycle = filled["lifecycle"]
    if lifecycle["lapsed_multiplier"] < lifecycle["at_risk_multiplier"]:
        raise ConfigError(f"{source}: lifecycle.lapsed_multiplier: must not be below at_risk_multiplier")
    model = filled["model"]
    if model["lapsed_below"] > model["at_risk_below"]:
        raise ConfigError(f"{source}: model.lapsed_below: must not exceed at_risk_below")
    return filled


def config_from_mapping(
    data: Mapping[str, Any], source: str = "<defaults>", model_params: Path | None = None
) -> Config:
    """The validated configuration; *model_params* (``--model``) overrides the rules file's ``model.params``."""
    from agents.calendar import calendars_from_config  # it raises our ConfigError: imported late, no cycle

    filled = effective_config(data, source)
    sla = filled["sla"]
    return Config(
        calendars=calendars_from_config(filled, source),
        sla=SlaConfig(
            channels={name: ChannelPolicy(**policy) for name, policy in sla["channels"].items()},
            bot_replies_count=sla["bot_replies_count"],
            warn_before_minutes=sla["warn_before_minutes"],
            intent_topics=frozenset(topic.lower() for topic in sla["intent_topics"]),
        ),
        alerts=AlertConfig(**filled["alerts"]),
        detectors=filled["detectors"],
        model=model_config(filled["model"], source, model_params),
        currency=CurrencyConfig(**filled["currency"]),
        lifecycle=LifecycleConfig(**filled["lifecycle"]),
        value_tiers=tuple(ValueTier(**tier) for tier in filled["value_tiers"]),
        state=StateConfig(**filled["state"]),
        time=TimeConfig(**filled["time"]),
        deadlines=DeadlineConfig(**filled["deadlines"]),
        source=source,
    )


def default_config() -> Config:
    return config_from_mapping({})


def load_config(path: Path | None, model_params: Path | None = None) -> Config:
    """Read and validate the rules file at *path* (None: all defaults), with *model_params* if given."""
    if path is None:
        return config_from_mapping({}, model_params=model_params)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return config_from_mapping(data, str(path), model_params)


def _with_defaults(schema: Mapping[str, Any], value: Any) -> Any:
    if not isinstance(value, dict) or schema.get("type") != "object":
        return value
    result = dict(value)
    for name, spec in schema.get("properties", {}).items():
        if name not in result and "default" in spec:
            result[name] = _copy(spec["default"])
        if name in result:
            result[name] = _with_defaults(spec, result[name])
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value
