"""Cost per event of the churn and value models on the simulator's default traffic.

    .venv/bin/python bench/model_cost.py --events 100000 --runs 3

Decodes the traffic once, then tracks it in event-time order with the journey core, in the
same process, three ways per run: everything on with a fitted parameters file (stages and
tiers from the model), everything on with the built-in defaults, and the models off (no
P(alive), no CLV, no churn_risk / best_customer_at_risk). The model cost is the difference
in microseconds per event (median of the runs). Also: the scalar CLV alone per purchase.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from common import record
from detector_cost import arguments, run, simulated_events

from agents.config import config_from_mapping, default_config
from agents.domain.state import CustomerState
from agents.journey.track import JourneyTracker
from agents.models.params import DEFAULT_PARAMS, params_document
from streams.settings import Settings

MODEL_DETECTORS = {"churn_risk", "best_customer_at_risk"}


class NoModel:
    """Stands in for the models: answers nothing, costs nothing."""

    best_customer_clv = float("inf")

    def p_alive_on(self, state: CustomerState, day: int) -> None:
        return None

    def clv(self, state: CustomerState) -> float:
        return 0.0

    def is_best_customer(self, clv: float) -> bool:
        return False


def without_models(salt: bytes) -> JourneyTracker:
    tracker = JourneyTracker(default_config(), salt)
    tracker.model = NoModel()  # type: ignore[assignment]
    tracker.detection.detectors = [d for d in tracker.detection.detectors if d.type not in MODEL_DETECTORS]
    return tracker


def clv_cost(tracker: JourneyTracker, states: list[CustomerState]) -> float:
    started = time.perf_counter()
    for state in states:
        tracker.model.clv(state)
    return (time.perf_counter() - started) / len(states) * 1e6


def main() -> None:
    args = arguments(__doc__)
    salt = Settings.from_env().identity_key
    events = simulated_events(args.events, salt)
    with tempfile.TemporaryDirectory() as tmp:
        params = Path(tmp) / "params.json"
        params.write_bytes(orjson.dumps(params_document(DEFAULT_PARAMS)))
        fitted = config_from_mapping({}, model_params=params)
        costs: dict[str, list[float]] = {"fitted": [], "defaults": [], "off": []}
        raised: dict[str, Any] = {}
        for _ in range(args.runs):
            for name, tracker in (
                ("fitted", JourneyTracker(fitted, salt)),
                ("defaults", JourneyTracker(default_config(), salt)),
                ("off", without_models(salt)),
            ):
                cost, alerts = run(events, tracker)
                costs[name].append(cost)
                raised[name] = alerts
    tracker = JourneyTracker(default_config(), salt)
    buyers: dict[str, CustomerState] = {}
    for item in events:
        step = tracker.track(buyers.get(item.customer_id), item.customer_id, item.event, 0)
        buyers[item.customer_id] = step.state
    purchasers = [state for state in buyers.values() if state.purchase_count]
    per_clv = statistics.median(clv_cost(tracker, purchasers) for _ in range(args.runs))
    off = statistics.median(costs["off"])
    fitted_extra = statistics.median(a - b for a, b in zip(costs["fitted"], costs["off"], strict=True))
    default_extra = statistics.median(a - b for a, b in zip(costs["defaults"], costs["off"], strict=True))
    churn = {kind: raised["fitted"].get(kind, 0) for kind in sorted(MODEL_DETECTORS)}
    print(
        f"{len(events):,} accepted events; without models {off:.1f} µs/event; models add "
        f"{fitted_extra:.1f} µs/event (fitted: stages and tiers from the model), "
        f"{default_extra:.1f} µs/event (defaults); CLV {per_clv:.1f} µs per purchase; alerts {churn}"
    )
    if not args.no_record:
        record(
            "model cost",
            f"{len(events):,} accepted simulator events (default spec)",
            f"models add {fitted_extra:.1f} µs/event with a fitted file, {default_extra:.1f} µs/event with the "
            f"defaults (journey without models {off:.1f} µs/event); CLV {per_clv:.1f} µs per purchase; "
            f"alerts (fitted): {', '.join(f'{k} {v:,}' for k, v in churn.items())}",
            f"python bench/model_cost.py --events {args.events} --runs {args.runs}",
        )


if __name__ == "__main__":
    main()
