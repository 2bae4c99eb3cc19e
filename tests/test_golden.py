"""Golden-file regression: the baseline's numbers must not change by accident.

Regenerate with ``make golden`` only when a change is intended.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .make_golden import GOLDEN, golden_run

# float32 storage: allow a few units in the last place for libm differences across machines.
RTOL = 1e-6


WITHDRAWN = {"cumulative_manpower_share_of_nwf"}
"""Version-1 outputs that version 2 no longer makes (see CHANGELOG.md)."""


def test_baseline_matches_golden_file():
    """Every version-1 output of the version-1 baseline is unchanged; version 2 only adds
    outputs (the ledger, the ratios by payer) and withdraws `WITHDRAWN`."""
    expected = xr.load_dataset(GOLDEN, engine="h5netcdf")
    actual = golden_run()
    kept = set(expected.data_vars) - WITHDRAWN
    assert kept <= set(actual.data_vars)
    assert not WITHDRAWN & set(actual.data_vars)
    for name in kept:
        np.testing.assert_allclose(actual[name].values, expected[name].values, rtol=RTOL,
                                   atol=0, err_msg=name)
    for key in ("seed", "samples", "seed_block_samples", "config_resolved", "claims"):
        assert actual.attrs[key] == expected.attrs[key], key
