"""The customer journey: per-customer state, lifecycle stages, enriched events, timers."""
