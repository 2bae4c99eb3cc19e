"""Executing a scenario: chunks of seed blocks, schedulers, streaming statistics, and the
sinks that keep results in memory or write them to disk. Builds on config and below.

Internal: what users need is re-exported by `sim` and `sim.plots` (the public API,
docs/architecture.md); the modules here may change.
"""
