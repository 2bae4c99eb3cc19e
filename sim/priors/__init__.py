"""From uniform points to parameter draws: prior distributions, sample designs (random,
LHS, Sobol), the Gaussian copula and the per-block seeds. Builds on core."""
