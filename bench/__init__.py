"""Benchmarks and chaos runs against the local stack (not part of the deployed code)."""
