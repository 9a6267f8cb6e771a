"""Ingest: raw bytes from any producer → validated, normalised, customer-keyed events."""
