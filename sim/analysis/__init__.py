"""Questions asked of a model: summaries and claim verdicts, sensitivity indices,
calibration to observations, comparisons of scenarios. Builds on run and below.

Internal: what users need is re-exported by `sim` and `sim.plots` (the public API,
docs/architecture.md); the modules here may change.
"""
