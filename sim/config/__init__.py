"""Scenarios from TOML: loading and validating configs, claims and observation files.
Builds on core, priors and io.

Internal: what users need is re-exported by `sim` and `sim.plots` (the public API,
docs/architecture.md); the modules here may change.
"""
