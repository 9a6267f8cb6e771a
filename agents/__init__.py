"""Stream agents and the pure decisions they call.

The pure core (everything here but the ``agent.py`` modules) imports neither Faust nor
``streams``; its bottom layer, ``domain/``, imports nothing else of the project. The agent
modules wire the core to topics and tables through the seams in ``ports.py``.
"""
