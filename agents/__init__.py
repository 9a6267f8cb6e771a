"""Stream agents and the pure decisions they call.

The pure core (everything here but the ``agent.py`` modules) imports neither Faust nor
``streams``; its bottom layer, ``domain/``, imports nothing else of the project. The agent
modules wire the core to topics and tables through the seams in ``ports.py``.
"""

#: The file beside this one where setup.py notes how it compiled the core: "profile-guided", "plain" or
#: "instrumented" (``streams.worker_metrics.core_profile_guided`` reads it).
CORE_BUILD_NOTE = "core_build.txt"
