"""The Faust application and what surrounds it.

The app itself (``app.py``: the composition root; settings, topic names, tables, metrics, web
views), how it runs on Faust (``runtime/``), the command line (``cli/``), the product on one
machine (``local/``), the traffic simulator (``sim/``), offline replay (``replay.py``), and the
two operations processes (``notify/``, ``webconsole/``).
"""
