"""The model itself, arrays in and arrays out: units, the time grid, the parameter
vocabulary, the stock-flow equations and the derived metrics. Imports nothing else of sim.

Internal: what users need is re-exported by `sim` and `sim.plots` (the public API,
docs/architecture.md); the modules here may change.
"""
