"""Executing a scenario: chunks of seed blocks, schedulers, streaming statistics, and the
sinks that keep results in memory or write them to disk. Builds on config and below."""
