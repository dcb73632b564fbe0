"""Distributed batches: the same pipelines on Ray (``restore ... --engine ray``)."""
