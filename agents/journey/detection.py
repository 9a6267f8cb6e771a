"""Running the detectors on a customer's state: each touchpoint, and each escalation as it comes due.

A detector keeps its own small memory in the state and says what it found (a ``Finding``); here
a finding becomes an alert of the detector's type, with the deterministic id and the customer's
context, raised a level for a top-tier customer when the rules file says so, and goes through the
alert gate like every other alert. An escalation closes the alert it escalates, and a touchpoint
that clears the cause of an open alert closes that one (agents/alerts/closing.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final, cast

from agents.alerts import sla
from agents.alerts.closing import AUTO, close
from agents.alerts.gating import AlertGate
from agents.calendar import Calendars
from agents.detectors.base import Clears, Context, Detector, EventOnly, Finding, Settles
from agents.domain.alert import Alert, make_alert_id, raise_severity
from agents.domain.instants import sooner
from agents.domain.outputs import Outputs
from agents.domain.state import CustomerState

__all__ = ["Detection", "finding_alert"]

#: A detector's ``observe``: (memory, context) → (new memory, findings).
Observe = Callable[[Any, Context], tuple[Any, list[Finding]]]
#: A timed detector's ``due(memory)``: when it next needs the customer's clock.
Due = Callable[[Any], int | None]

#: The reason a top-tier customer's alert carries when its severity was raised for it.
TOP_VALUE_TIER = "top_value_tier"

#: Makes a ``Context`` from its fields in C, as its class would: a named tuple's own ``__new__`` is
#: interpreted code, 2.2k instructions for every touchpoint (bench/PROFILE.md). Still a ``Context``.
_new_tuple: Final[Callable[..., Any]] = tuple.__new__


class Detection:
    """The enabled detectors of one configuration, run on customers' states."""

    def __init__(
        self,
        detectors: Sequence[Detector],
        calendars: Calendars,
        boosted_tier: str | None,
        gate: AlertGate,
    ) -> None:
        self._calendars = calendars
        self._boosted_tier = boosted_tier
        self._gate = gate
        self.detectors = list(detectors)

    @property
    def detectors(self) -> list[Detector]:
        """In the order they run (the catalogue's order)."""
        return self._detectors

    @detectors.setter
    def detectors(self, detectors: list[Detector]) -> None:
        self._detectors = detectors
        #: Each detector's type and bound ``observe``, looked up once: every touchpoint calls them all.
        self._observers: list[tuple[str, Observe]] = [(d.type, d.observe) for d in detectors]
        self._clearing: dict[str, Clears] = {
            d.type: cast(Clears, d) for d in detectors if hasattr(d, "clears") and hasattr(d, "cleared_by")
        }
        self._cleared_by = frozenset(kind for d in self._clearing.values() for kind in d.cleared_by)
        self._settling: dict[str, Settles] = {
            d.type: cast(Settles, d) for d in detectors if hasattr(d, "settled")
        }
        #: The detectors that may escalate with time: ``EventOnly.due`` is never anything but None.
        self._timed = [d for d in detectors if getattr(type(d), "due", None) is not EventOnly.due]
        #: Their types and bound ``due``, looked up once: every change asks when the customer next wakes.
        self._waking: list[tuple[str, Due]] = [(d.type, d.due) for d in self._timed]

    def context(
        self,
        state: CustomerState,
        customer_id: str,
        event: dict[str, Any],
        occurred: datetime,
        instant: int,
        day: int,
    ) -> Context:
        """What the detectors see of *event* (applied to *state* already)."""
        zone = self._calendars.for_touchpoint(event["channel"], event.get("location")).zone
        fields = (customer_id, event, instant, day, occurred.hour, state, self._calendars, zone)
        context: Context = _new_tuple(Context, fields)
        return context

    def clear(self, context: Context, out: Outputs) -> None:
        """Close every open alert of the customer whose cause this touchpoint clears."""
        state = context.state
        kind = context.event["type"]
        if not state.alerts_open or kind not in self._cleared_by:
            return
        for alert_id, data in list(state.alerts_open.items()):
            detector = self._clearing.get(alert_id.partition("/")[0])
            if detector is None or kind not in detector.cleared_by:
                continue
            alert = sla.revive(alert_id, context.customer_id, data, self._calendars)
            reason = detector.clears(alert, context)
            if reason is not None:
                close(state, alert, context.instant, AUTO + reason, out)

    def observe(self, context: Context, out: Outputs) -> None:
        """Show every detector the touchpoint of *context* and raise what they find."""
        state = context.state
        memories = state.detector_memory
        for detector_type, observe in self._observers:
            kept = memories.get(detector_type)
            memory, findings = observe(kept, context)
            # A detector never changes the memory it is shown: the same one back means nothing to keep.
            if memory is not kept:
                _remember(state, detector_type, memory)
            for finding in findings:
                self._raise(detector_type, context.customer_id, finding, state, out)

    def fire_due(self, state: CustomerState, customer_id: str, due: int, out: Outputs) -> None:
        """Let every detector with an escalation due at or before *due* fire it."""
        for detector in self._timed:
            memory = state.detector_memory.get(detector.type)
            when = detector.due(memory) if memory is not None else None
            if when is not None and when <= due:
                memory, findings = detector.fire(memory, customer_id, due, state)
                _remember(state, detector.type, memory)
                for finding in findings:
                    self._raise(detector.type, customer_id, finding, state, out)

    def _raise(
        self, alert_type: str, customer_id: str, finding: Finding, state: CustomerState, out: Outputs
    ) -> None:
        alert = self.alert(alert_type, customer_id, finding, state)
        earlier = [make_alert_id(alert_type, customer_id, evidence) for evidence in finding.supersedes]
        self._gate.raise_alert(state, alert, out, earlier)

    def merge(self, state: CustomerState, merged: CustomerState) -> None:
        """Fold the detector memories of *merged* (an anonymous profile) into *state*'s (already merged)."""
        for detector in self._detectors:
            theirs = merged.detector_memory.get(detector.type)
            if theirs is None:
                continue
            mine = state.detector_memory.get(detector.type)
            combine = getattr(detector, "merge", None)
            if combine is not None:
                _remember(state, detector.type, combine(mine, theirs, state))
            elif mine is None:
                _remember(state, detector.type, theirs)

    def settle(self, state: CustomerState, customer_id: str, at: int, out: Outputs) -> None:
        """After a merge, close every open alert whose cause the merged history shows gone already.

        One side's touchpoint may have cleared the other side's alert before the two were known to be
        one customer (a good CSAT on the customer's profile, the complaint on an anonymous one): merged
        in the other order, the alert would have cleared when that touchpoint came. A detector says so
        with ``settled(alert, state) -> reason | None``.
        """
        for alert_id, data in list(state.alerts_open.items()):
            detector = self._settling.get(alert_id.partition("/")[0])
            if detector is None:
                continue
            alert = sla.revive(alert_id, customer_id, data, self._calendars)
            reason = detector.settled(alert, state)
            if reason is not None:
                close(state, alert, at, AUTO + reason, out)

    def due(self, state: CustomerState) -> int | None:
        """When the first detector next needs the customer's clock (None: never)."""
        memory = state.detector_memory
        first: int | None = None
        for detector_type, due in self._waking:
            if detector_type in memory:
                first = sooner(first, due(memory[detector_type]))
        return first

    def alert(self, alert_type: str, customer_id: str, finding: Finding, state: CustomerState) -> Alert:
        """The alert a detector's *finding* about the customer (in *state*) becomes."""
        return finding_alert(alert_type, customer_id, finding, state, self._boosted_tier)


def finding_alert(
    alert_type: str, customer_id: str, finding: Finding, state: CustomerState, boosted_tier: str | None
) -> Alert:
    """The alert of *alert_type* a *finding* becomes; a customer in *boosted_tier* gets it a level higher."""
    severity, reasons, summary = finding.severity, finding.reasons, finding.summary
    if boosted_tier is not None and state.value_tier == boosted_tier and TOP_VALUE_TIER not in reasons:
        severity = raise_severity(severity)
        reasons = (*reasons, TOP_VALUE_TIER)
        summary = f"{summary} Top-tier customer: severity raised."
    return Alert(
        alert_id=make_alert_id(alert_type, customer_id, finding.evidence),
        type=alert_type,
        severity=severity,
        customer_id=customer_id,
        occurred_at=finding.occurred_at,
        detected_at=finding.detected_at,
        summary=summary,
        reasons=reasons,
        evidence=finding.evidence,
        stage=state.stage,
        value_tier=state.value_tier,
        suggested_action=finding.suggested_action,
        channel=finding.channel,
        location=finding.location,
        details=finding.details,
    )


def _remember(state: CustomerState, detector_type: str, memory: Any) -> None:
    # Most memories are non-empty: they are kept after one truth test, without building an empty
    # dict and list to compare with (nine detectors, every touchpoint).
    if memory is None or (not memory and (memory == {} or memory == [])):
        state.detector_memory.pop(detector_type, None)
    else:
        state.detector_memory[detector_type] = memory
