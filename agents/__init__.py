"""Stream agents and the pure decisions they call.

Pure modules (decoding, identity, lifecycle, detectors) import neither faust nor
``streams``; the agent modules wire them to topics and tables.
"""
