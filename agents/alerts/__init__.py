"""Alerts: the record, its lifecycle (cooldown, actions, auto-resolve) and the rules that raise them."""
