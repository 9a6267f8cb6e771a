"""Prometheus metrics of a worker, served at /metrics on its web port.

Names follow the Prometheus guide: ``touchpoint_`` prefix, ``_total`` counters,
base units; labels are bounded enumerations from the contracts, never ids.
"""

from __future__ import annotations

from typing import Final

from agents.domain.refusal import REASONS
from schemas import load_schema
from streams.labelled import Counter, Gauge, Histogram

_touchpoint = load_schema("touchpoint")["properties"]
CHANNELS: Final[tuple[str, ...]] = tuple(_touchpoint["channel"]["enum"])
TYPES: Final[tuple[str, ...]] = tuple(_touchpoint["type"]["enum"])

EVENTS_ACCEPTED: Final = Counter(
    "touchpoint_events",
    "Touchpoints accepted by ingest and forwarded to touchpoints.by-customer.",
    ["channel", "type"],
)
DEAD_LETTERS: Final = Counter(
    "touchpoint_dead_letters",
    "Records refused by ingest and written to touchpoints.dead-letter, by reason.",
    ["reason"],
)

# Create every series at zero so rate() and absent() work before the first event of a kind.
for _channel in CHANNELS:
    for _type in TYPES:
        EVENTS_ACCEPTED.labels(_channel, _type)
for _reason in REASONS:
    DEAD_LETTERS.labels(_reason)

STAGES: Final[tuple[str, ...]] = (
    "prospect",
    "first_time",
    "repeat",
    "loyal",
    "advocate",
    "at_risk",
    "lapsed",
)

LIFECYCLE_TRANSITIONS: Final = Counter(
    "touchpoint_lifecycle_transitions",
    "Lifecycle stage changes published to lifecycle.transitions (from_stage 'none' for a new customer).",
    ["from_stage", "to_stage"],
)
CUSTOMERS: Final = Gauge(
    "touchpoint_customers",
    "Customers per lifecycle stage in the partitions this worker owns (sum over workers for the total).",
    ["stage"],
)
DUPLICATES: Final = Counter(
    "touchpoint_duplicate_events",
    "Touchpoints dropped because their event_id was already applied for that customer.",
)
UNPRICED_AMOUNTS: Final = Counter(
    "touchpoint_unpriced_amounts",
    "Purchases and refunds in a currency without a configured rate (counted, no value added).",
)
DEADLINES_FIRED: Final = Counter(
    "touchpoint_deadlines_fired",
    "Per-customer deadlines that came due, by what fired them.",
    ["trigger"],
)
JOURNEY_TOUCHPOINTS: Final = Counter(
    "touchpoint_journey_events",
    "Touchpoints applied to customer state by the journey agent.",
)

for _stage in STAGES:
    CUSTOMERS.labels(_stage)
    for _from in ("none", *STAGES):
        if _from != _stage:
            LIFECYCLE_TRANSITIONS.labels(_from, _stage)
for _trigger in ("watermark", "wall_clock"):
    DEADLINES_FIRED.labels(_trigger)

from agents.alerts.closing import AUTO_REASONS  # noqa: E402 - beside the metrics that use it
from streams.topics import alert_types  # noqa: E402 - beside the metrics that use it

ALERTS_RAISED: Final = Counter(
    "touchpoint_alerts_raised",
    "Alerts raised (first publication), by type and severity.",
    ["type", "severity"],
)
ALERTS_SUPPRESSED: Final = Counter(
    "touchpoint_alerts_suppressed",
    "Alerts not raised: within the type's per-customer cooldown, snoozed by an operator, or inhibited by another open alert or complaint.",
    ["type", "reason"],
)
ALERTS_ACKNOWLEDGED: Final = Counter(
    "touchpoint_alerts_acknowledged", "Alerts acknowledged by an operator.", ["type"]
)
ALERTS_RESOLVED: Final = Counter(
    "touchpoint_alerts_resolved",
    "Alerts resolved, by an operator or automatically when the condition cleared.",
    ["type", "by"],
)
ALERTS_CLOSED_AUTOMATICALLY: Final = Counter(
    "touchpoint_alerts_closed_automatically",
    "Alerts the worker resolved itself, by type and reason: the cause cleared (first_reply, resolution, "
    "recovered, purchase, referral, complaint, service_closed; settled for a warning digest), a newer alert "
    "replaced it (superseded), or its time ran out (expired; displaced: too many open for the customer).",
    ["type", "reason"],
)
ALERT_ACTIONS: Final = Counter(
    "touchpoint_alert_actions", "Operator actions received, by action and outcome.", ["action", "outcome"]
)
BEST_CUSTOMER_THRESHOLD: Final = Gauge(
    "touchpoint_best_customer_clv_threshold",
    "The best-customer CLV threshold of the latest population boundary this worker knows (the top decile "
    "of current buyers; NaN before any, or with too few buyers), or the fixed one.",
)
BEST_CUSTOMER_POPULATION: Final = Gauge(
    "touchpoint_best_customer_population",
    "Current buyers in the population of the latest boundary this worker knows.",
)
BEST_CUSTOMER_BOUNDARY: Final = Gauge(
    "touchpoint_best_customer_boundary_timestamp_seconds",
    "The latest population boundary whose threshold this worker knows (epoch seconds of event time).",
)
BEST_CUSTOMER_THRESHOLD_LATE: Final = Counter(
    "touchpoint_best_customer_threshold_late",
    "Decisions that used an earlier boundary's best-customer threshold because the one in effect had not "
    "reached this worker yet (a partition's clock further behind than model.best_customers."
    "effective_after_hours): the only way the live worker can judge differently from replay.",
)
ERASURES: Final = Counter(
    "touchpoint_erasures",
    "Customers forgotten on request (privacy.erasure-requests); found: whether the worker held their state.",
    ["found"],
)
ERASED_TOUCHPOINTS: Final = Counter(
    "touchpoint_erased_touchpoints",
    "Touchpoints dropped because they are dated at or before their customer's erasure.",
)
for _found in ("true", "false"):
    ERASURES.labels(_found)
_RESPONSE_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200)
TIME_TO_ACKNOWLEDGE: Final = Histogram(
    "touchpoint_alert_time_to_acknowledge_seconds",
    "From an alert's detection to its acknowledgement.",
    ["type"],
    buckets=_RESPONSE_BUCKETS,
)
TIME_TO_RESOLVE: Final = Histogram(
    "touchpoint_alert_time_to_resolve_seconds",
    "From an alert's detection to its resolution.",
    ["type"],
    buckets=_RESPONSE_BUCKETS,
)
DEADLINE_LAG: Final = Histogram(
    "touchpoint_deadline_lag_seconds",
    "Wall-clock delay between a deadline and the worker acting on it (live traffic only: event time near now).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60),
)

for _type in alert_types():
    for _severity in ("info", "warning", "critical"):
        ALERTS_RAISED.labels(_type, _severity)
    for _reason in ("cooldown", "snoozed", "inhibited"):
        ALERTS_SUPPRESSED.labels(_type, _reason)
    ALERTS_ACKNOWLEDGED.labels(_type)
    for _by in ("operator", "auto"):
        ALERTS_RESOLVED.labels(_type, _by)
    for _reason in AUTO_REASONS:
        ALERTS_CLOSED_AUTOMATICALLY.labels(_type, _reason)
    TIME_TO_ACKNOWLEDGE.labels(_type)
    TIME_TO_RESOLVE.labels(_type)
for _action in load_schema("alert_action")["properties"]["action"]["enum"]:
    for _outcome in ("applied", "unknown_alert"):
        ALERT_ACTIONS.labels(_action, _outcome)

# --- Latency, backlog and ownership ------------------------------------------------------------------

from agents.calendar import WEEKDAYS  # noqa: E402 - beside the metric that uses it

#: Seconds: live traffic is milliseconds to seconds behind; anything an hour or more behind lands in +Inf.
_LIVE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

PROCESSING_LAG: Final = Histogram(
    "touchpoint_processing_lag_seconds",
    "Wall clock minus the touchpoint's occurred_at when the journey agent applies it (duplicates excluded; "
    "clamped at 0 for events stamped in the future). Buckets fit live traffic: replayed or backfilled "
    "history older than an hour lands in +Inf.",
    buckets=_LIVE_BUCKETS,
)
EVENT_TO_ALERT: Final = Histogram(
    "touchpoint_event_to_alert_seconds",
    "From the Kafka timestamp of a touchpoint's raw record on touchpoints (carried by ingest to its "
    "touchpoints.by-customer record) to the worker sending an alert that touchpoint raised (first "
    "publication, the touchpoint in its evidence). Alerts fired by deadlines are measured by "
    "touchpoint_deadline_lag_seconds instead.",
    ["type"],
    buckets=_LIVE_BUCKETS,
)
CONSUMER_LAG: Final = Gauge(
    "touchpoint_consumer_lag_records",
    "Per input partition this worker owns: end offset (high watermark of the latest fetch) minus the "
    "group's committed offset, refreshed every 5 s. A series exists only while the worker owns the "
    "partition and both offsets are known.",
    ["topic", "partition"],
)
TABLE_KEYS: Final = Gauge(
    "touchpoint_table_keys",
    "Keys of each table in the partitions this worker actively owns (standby copies excluded).",
    ["table"],
)
STATE_RESTORED_RECORDS: Final = Counter(
    "touchpoint_state_restored_records",
    "Changelog records read by bulk state restores after a rebalance, by table.",
    ["table"],
)
RECORDS_TOO_LARGE: Final = Counter(
    "touchpoint_records_too_large",
    "Records the worker did not send because they exceed the producer's maximum request size "
    "(logged with their size), by topic: a defect to report, counted instead of stopping the worker.",
    ["topic"],
)
STATE_RESTORED_KEYS: Final = Counter(
    "touchpoint_state_restored_keys",
    "Keys written to a table's store by bulk state restores (the last record of each key), by table.",
    ["table"],
)
STATE_RESTORE_SECONDS: Final = Histogram(
    "touchpoint_state_restore_seconds",
    "Duration of each bulk state restore, from the first read to the last key applied.",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
STATE_WRITES_HELD: Final = Gauge(
    "touchpoint_state_writes_held",
    "Customer state changes not yet written to the changelog because an output of theirs is not yet "
    "acknowledged by the broker. A few hundred under load; growing without end means outputs are stuck.",
)
WORKER_INFO: Final = Gauge(
    "touchpoint_worker_info",
    "Always 1; labels name the worker's software version, app id (its consumer group), whether its "
    "per-record core is compiled or pure Python, and whether the compiled core is profile-guided.",
    ["version", "app_id", "core", "profile_guided"],
)
PARTITIONS_OWNED: Final = Gauge(
    "touchpoint_partitions_owned",
    "Partitions actively assigned to this worker, by topic (inputs and table changelogs); updated on "
    "each rebalance. Sum over workers: every partition of a topic is owned exactly once.",
    ["topic"],
)
OPEN_INQUIRIES: Final = Gauge(
    "touchpoint_open_inquiries",
    "Unanswered customer inquiries (conversations awaiting an agent's reply) of the customers in the "
    "partitions this worker owns.",
)
OPEN_SLA_CASES: Final = Gauge(
    "touchpoint_open_sla_cases",
    "First-response SLA cases without a reply yet (before or past their deadline, kept up to "
    "alerts.retain_days) of the customers in the partitions this worker owns.",
)
AFTER_HOURS_INQUIRIES: Final = Counter(
    "touchpoint_after_hours_inquiries",
    "Customer inquiries made while their channel's (or location's) business calendar was closed, by "
    "weekday and hour on that calendar's local clock.",
    ["weekday", "hour"],
)

HOURS: Final[tuple[str, ...]] = tuple(f"{hour:02d}" for hour in range(24))
for _type in alert_types():
    EVENT_TO_ALERT.labels(_type)
for _weekday in WEEKDAYS:
    for _hour in HOURS:
        AFTER_HOURS_INQUIRIES.labels(_weekday, _hour)

IDENTITY_CLAIMS: Final = Counter(
    "touchpoint_identity_claims",
    "Identifiers claimed by an event naming a customer, by what the claim did: linked (the first claim; its "
    "anonymous profile, if any, merged), already (claimed by that customer before), shared or over_limit (a "
    "further customer, or more than the kind's limit: a conflict, no merge), barred (split by an operator).",
    ["outcome"],
)
IDENTITY_MERGES: Final = Counter(
    "touchpoint_identity_merges",
    "Anonymous profiles merged into a customer (merge) and merges undone by an operator (split).",
    ["action"],
)
IDENTITY_ROUTED: Final = Counter(
    "touchpoint_identity_routed",
    "Touchpoints keyed by an identifier sent on to where identity resolution puts them: its customer, or "
    "their own conversation (an identifier over its limit); and actions following an alert that moved.",
    ["to"],
)
IDENTITY_CLAIM_OUTCOMES: Final[tuple[str, ...]] = ("linked", "already", "shared", "over_limit", "barred")
IDENTITY_ROUTES: Final[tuple[str, ...]] = ("customer", "conversation", "action")
for _outcome in IDENTITY_CLAIM_OUTCOMES:
    IDENTITY_CLAIMS.labels(_outcome)
for _action in ("merge", "split"):
    IDENTITY_MERGES.labels(_action)
for _route in IDENTITY_ROUTES:
    IDENTITY_ROUTED.labels(_route)

SETTLED_COPIES_SKIPPED: Final = Counter(
    "touchpoint_settled_copies_skipped",
    "Records of touchpoints.by-customer this worker sent already applied (ingest applies most touchpoints "
    "at once) and left out unread when its journey fetched them back. The rest of the topic's records are "
    "read and applied or skipped by their mark.",
)
FETCH_HOLES: Final = Counter(
    "touchpoint_fetch_holes",
    "Fetches of an uncompacted topic that showed a hole in its offsets (a batch the broker had numbered but not "
    "stored yet; the embedded broker does this), by outcome: filled (there when fetched again, nothing skipped) "
    "or stepped_over (still missing after the patience; read on past it, logged).",
    ["outcome"],
)
for _outcome in ("filled", "stepped_over"):
    FETCH_HOLES.labels(_outcome)
