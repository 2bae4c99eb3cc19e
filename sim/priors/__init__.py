"""From uniform points to parameter draws: prior distributions, sample designs (random,
LHS, Sobol), the Gaussian copula and the per-block seeds. Builds on core.

Internal: what users need is re-exported by `sim` and `sim.plots` (the public API,
docs/architecture.md); the modules here may change.
"""
