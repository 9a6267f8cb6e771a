"""Service-experience detectors from the customer stories, one module each (see base.py for the contract)."""
