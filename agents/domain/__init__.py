"""The bottom layer: the domain's shared types and time helpers.

Everything else in ``agents/`` may import these modules; they import nothing of ``agents/``
but each other. A customer's state, an alert, a refusal with its reason code, the rules
file's error, and instants (epoch seconds) with the words people read them in.
"""
