"""Questions asked of a model: summaries and claim verdicts, sensitivity indices,
calibration to observations, comparisons of scenarios. Builds on run and below."""
