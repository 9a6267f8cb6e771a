"""The customer journey: one customer's decisions (track.py), a partition's step shared by the worker and replay (step.py)."""
