"""Scenarios from TOML: loading and validating configs, claims and observation files.
Builds on core, priors and io."""
