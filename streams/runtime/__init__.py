"""How the worker runs on Faust: every hook into the stream engine beyond its public API.

The transport (fetch wait, end offsets on the embedded broker, draining held-back state writes
before commits), bulk changelog recovery, direct sends to the producer, held-back state writes,
and pausing the garbage collector around bulk work. Faust's private names used here are listed,
with why, in ``faust_private.py``, and a test checks they still exist on the installed Faust.
"""
