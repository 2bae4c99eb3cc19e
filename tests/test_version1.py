"""Version-1 configs give version-1 numbers, bit for bit, in float64.

tests/data/version1_float64.npz holds the version-1 engine's own outputs (commit 4d348ff,
see tests/make_version1.py) for the frozen version-1 baseline and a variant using every
version-1 mechanism (daily steps, proportional losses, elasticity, inflation, growth,
exits). The golden file compares stored float32 values; this compares the engine's float64
results exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from .make_version1 import CASES, REFERENCE, outputs

WITHDRAWN = {"cumulative_manpower_share_of_nwf"}


@pytest.mark.parametrize("prefix", CASES)
def test_version_1_outputs_are_bit_identical(prefix):
    reference = np.load(REFERENCE)
    stored = {name for name in reference.files if name.startswith(prefix)
              and (prefix or ":" not in name)}
    current = outputs(prefix)
    assert {name.removeprefix(prefix) for name in stored - set(current)} == WITHDRAWN
    for name in sorted(stored & set(current)):
        np.testing.assert_array_equal(current[name], reference[name], err_msg=name)
