"""Writes of the datasets app, one module per sub-domain (datasets, entries, labels, copy, distribute, uploads)."""
