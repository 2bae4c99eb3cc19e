"""Refusals up front: runs that cannot fit in memory and bad input to sensitivity and calibrate.

A sensitivity analysis or a calibration too large for the machine is refused before
anything is allocated, with one line that names the flag and says how much would fit;
bad outcomes, dates, particle and move counts and observation sets give one line too.
The memory estimates are checked against the peak resident memory of real runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import re
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import sim
from sim.analysis.calibration import calibrate, calibration_memory_bytes
from sim.analysis.sensitivity import select_outcome, sensitivity, sensitivity_memory_bytes
from sim.config.observations import Observation, ObservationSet, load_observations
from sim.config.scenario import Claim
from sim.core.variables import VARIABLES, outputs_for
from sim.errors import ResourceError, UserError
from sim.priors.sampling import uncertain_keys

from .conftest import CONFIGS, REPO, run_cli

BASELINE = CONFIGS / "baseline.toml"
CALIBRATION = CONFIGS / "calibration_2024.toml"
OBSERVATIONS = CONFIGS / "observations" / "gs_monthly_2024_2025.toml"
OUTCOME = "bonus_spend_usd_per_day_mean"

QUICK_SECONDS = 5.0
"""A refusal comes before any allocation: well under a second, with slack for slow CI."""


@contextlib.contextmanager
def address_space_cap(headroom: int = 4 * 2**30):
    """Cap this process's address space `headroom` bytes above its current size.

    A refusal that regressed then fails the test with MemoryError instead of
    filling the machine's memory and waking the OOM killer.
    """
    try:
        size = next(int(line.split()[1]) * 1024 for line in
                    Path("/proc/self/status").read_text().splitlines()
                    if line.startswith("VmSize:"))
    except (OSError, StopIteration):  # not Linux: no cap
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + headroom
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _fit(message: str, what: str = "") -> int:
    match = re.search(rf"at most (\d+) {what}fit", message)
    assert match, message
    return int(match[1])


def _one_line_refusal(status: int, err: str, flag: str, seconds: float) -> str:
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert flag in lines[0] and "fit" in lines[0] and "Traceback" not in err, err
    assert seconds < QUICK_SECONDS, f"refused after {seconds:.1f} s: {err}"
    return lines[0]


@pytest.fixture(scope="module")
def baseline():
    return sim.load_scenario(BASELINE)


@pytest.fixture(scope="module")
def calibration():
    scenario = sim.load_scenario(CALIBRATION)
    return scenario, load_observations(OBSERVATIONS, scenario.grid)


# ---------------------------------------------------------------- the CLI refuses at once


def test_cli_sensitivity_refuses_samples_that_cannot_fit(capsys):
    started = time.perf_counter()
    with address_space_cap():
        status, out, err = run_cli("sensitivity", BASELINE, "--outcome", OUTCOME,
                                   "--samples", 2**30, capsys=capsys)
    line = _one_line_refusal(status, err, "--samples", time.perf_counter() - started)
    d = len(uncertain_keys(sim.load_scenario(BASELINE).priors))  # Saltelli: d + 2 runs
    assert f"({d} + 2) x 1073741824 model runs" in line and "GiB is available" in line
    fit = _fit(line)
    assert fit & (fit - 1) == 0 and fit < 2**30, line
    assert out == ""


def test_cli_calibrate_refuses_particles_that_cannot_fit(capsys):
    started = time.perf_counter()
    with address_space_cap():
        status, out, err = run_cli("calibrate", CALIBRATION, "--observations", OBSERVATIONS,
                                   "--particles", 10**11, capsys=capsys)
    line = _one_line_refusal(status, err, "--particles", time.perf_counter() - started)
    assert "GiB is available" in line and _fit(line, "particles ") < 10**11
    assert out == ""


# ---------------------------------------------------------------- the "at most N fit" figures


@pytest.mark.parametrize(("outcome", "when", "rank_only"), [
    (OUTCOME, None, False),
    ("bonus_spend_usd_per_day", "all", False),
    ("force_persons", "2025-06-15", False),
    (OUTCOME, None, True),
])
def test_sensitivity_fit_is_the_largest_power_of_two_within_the_budget(
        baseline, outcome, when, rank_only):
    selection = select_outcome(baseline, outcome, when)

    def need(n):
        return sensitivity_memory_bytes(baseline, n, selection, rank_only=rank_only)

    assert need(2**12) < need(2**13) < need(2**14)
    for budget in (need(2**12), need(2**13) - 1, (need(2**13) + need(2**14)) // 2):
        started = time.perf_counter()
        with pytest.raises(ResourceError) as refusal:
            sensitivity(baseline, outcome, when, samples=2**20, rank_only=rank_only,
                        available_bytes=budget)
        assert time.perf_counter() - started < QUICK_SECONDS
        message = str(refusal.value)
        assert message.startswith("samples: 1048576 ") and "\n" not in message, message
        fit = _fit(message)
        assert fit & (fit - 1) == 0, message
        assert need(fit) <= budget < need(2 * fit), message
    assert fit == 2**13


def test_sensitivity_runs_within_a_budget_that_fits_exactly(baseline):
    selection = select_outcome(baseline, OUTCOME)
    budget = sensitivity_memory_bytes(baseline, 64, selection)
    ds = sensitivity(baseline, OUTCOME, samples=64, available_bytes=budget)
    assert ds.attrs["samples"] == 64
    with pytest.raises(ResourceError, match=r"at most 64 fit \(a power of two\)$"):
        sensitivity(baseline, OUTCOME, samples=128, available_bytes=budget)


def test_sensitivity_says_when_not_even_the_smallest_design_fits(baseline):
    with pytest.raises(ResourceError) as refusal:
        sensitivity(baseline, OUTCOME, samples=1024, available_bytes=10_000)
    message = str(refusal.value)
    assert message.startswith("samples: 1024 base samples need ") and (
        "but 9.8 KiB is available; not even 2 fit (they need ") in message, message


@pytest.mark.parametrize("method", ["smc", "importance"])
def test_calibrate_fit_is_the_most_particles_within_the_budget(calibration, method):
    scenario, observations = calibration

    def need(n):
        return calibration_memory_bytes(scenario, observations, n, method=method)

    assert need(1000) < need(1001)
    for budget in (need(5000), need(5000) + 12_345, need(7777) - 1):
        started = time.perf_counter()
        with pytest.raises(ResourceError) as refusal:
            calibrate(scenario, observations, particles=10**7, method=method,
                      available_bytes=budget)
        assert time.perf_counter() - started < QUICK_SECONDS
        message = str(refusal.value)
        assert message.startswith("particles: 10000000 particles need") and (
            "\n" not in message), message
        fit = _fit(message, "particles ")
        assert need(fit) <= budget < need(fit + 1), message
    assert fit == 7776


def test_calibrate_runs_within_a_budget_that_fits_exactly(calibration):
    scenario, observations = calibration
    budget = calibration_memory_bytes(scenario, observations, 200)
    ds = calibrate(scenario, observations, particles=200, available_bytes=budget)
    assert ds.attrs["particles"] == 200
    with pytest.raises(ResourceError, match="at most 200 particles fit"):
        calibrate(scenario, observations, particles=201, available_bytes=budget)


# ---------------------------------------------------------------- bad input, one line


def test_unknown_outcome_lists_every_valid_one(capsys):
    status, _, err = run_cli("sensitivity", BASELINE, "--outcome", "nonsense", "--samples",
                             64, capsys=capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "--outcome: unknown output 'nonsense'; expected one of: " in err
    made = [n for n in outputs_for(sim.load_scenario(BASELINE).given) if not VARIABLES[n].extra]
    assert all(name in err for name in made), err


@pytest.mark.parametrize(("outcome", "when", "words"), [
    ("bonus_spend_usd_by_year", "2027-01-01", "outside the horizon"),  # the end is exclusive
    ("bonus_spend_usd_per_day", "2027-01-01", "outside the horizon"),
    ("bonus_spend_usd_per_day", "2025-02-30", "expected a date"),
    ("bonus_spend_usd_per_day", "", "expected a date"),
    ("bonus_spend_usd_per_day", "2024-12-31", "outside the horizon"),
])
def test_bad_time_is_one_line_naming_time(outcome, when, words, capsys):
    status, _, err = run_cli("sensitivity", BASELINE, "--outcome", outcome, "--time", when,
                             "--samples", 64, capsys=capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "--time: " in err and words in err and "Traceback" not in err, err


def test_time_may_be_a_datetime(baseline):
    at_noon = select_outcome(baseline, "bonus_spend_usd_per_day", dt.datetime(2025, 4, 15, 12))
    assert at_noon == select_outcome(baseline, "bonus_spend_usd_per_day", dt.date(2025, 4, 15))


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"particles": 1}, "particles: expected at least 2 particles, got 1"),
    ({"particles": 0}, "particles: expected at least 2 particles, got 0"),
    ({"moves": 0}, "moves: expected 1 to 1000 moves per stage, got 0"),
    ({"moves": 2**40}, "moves: expected 1 to 1000 moves per stage, got 1099511627776"),
])
def test_calibrate_refuses_particles_or_moves_out_of_range(calibration, kwargs, words):
    scenario, observations = calibration
    with pytest.raises(UserError) as refusal:
        calibrate(scenario, observations, **{"particles": 200, **kwargs})
    assert str(refusal.value) == words


def test_cli_calibrate_refuses_one_particle(capsys):
    status, _, err = run_cli("calibrate", CALIBRATION, "--observations", OBSERVATIONS,
                             "--particles", 1, capsys=capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "--particles: expected at least 2" in err


def test_calibrate_refuses_observations_outside_the_horizon(calibration, baseline):
    _, observations = calibration  # 2024-2025, loaded against the 2024-2026 grid
    with pytest.raises(UserError) as refusal:
        calibrate(baseline, observations, particles=200)  # baseline starts in 2025
    message = str(refusal.value)
    assert "\n" not in message and "casualties 2024-01" in message, message
    assert "outside the horizon 2025-01-01 to 2027-01-01" in message, message


def test_calibrate_refuses_a_reporter_without_a_bias_prior(calibration):
    scenario, observations = calibration
    first = dataclasses.replace(observations.observations[0], reporter="nobody")
    broken = ObservationSet("obs.toml", (first,), observations.bias)
    with pytest.raises(UserError) as refusal:
        calibrate(scenario, broken, particles=200)
    message = str(refusal.value)
    assert "\n" not in message and "no [bias] prior named 'nobody'" in message, message


def test_calibrate_refuses_a_stock_observation_after_the_horizon(calibration):
    scenario, observations = calibration
    claim = Claim("force", "at", 600_000.0, "persons", "test", "force 2030",
                  date=dt.date(2030, 1, 1))
    broken = ObservationSet("obs.toml", (Observation(claim, "log_sd", 0.1, None, ""),),
                            observations.bias)
    with pytest.raises(UserError, match=r"force 2030.*outside the horizon"):
        calibrate(scenario, broken, particles=200)


# ---------------------------------------------------------------- estimates against reality

PEAK_SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import sim
    from sim.analysis.calibration import calibrate, calibration_memory_bytes
    from sim.config.observations import load_observations
    from sim.analysis.sensitivity import select_outcome, sensitivity, sensitivity_memory_bytes

    def peak_rss():
        # VmHWM, the peak resident set of this process's memory since exec: what
        # ru_maxrss reports, without the parent's peak that Linux carries across exec.
        status = Path("/proc/self/status").read_text().splitlines()
        return next(int(line.split()[1]) * 1024 for line in status
                    if line.startswith("VmHWM:"))

    kind, n, config, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    scenario = sim.load_scenario(config)
    if kind == "sensitivity":
        def run(size):
            sensitivity(scenario, extra, samples=size)
        estimate = sensitivity_memory_bytes(scenario, n, select_outcome(scenario, extra))
    else:
        observations = load_observations(extra, scenario.grid)
        def run(size):
            calibrate(scenario, observations, particles=size, method="importance")
        estimate = calibration_memory_bytes(scenario, observations, n, "importance")
    run(4)  # imports, caches and allocator arenas, as in any run
    before = peak_rss()
    run(n)
    print(json.dumps({"before": before, "after": peak_rss(), "estimate": estimate}))
""")

RSS_SLACK = 16 * 2**20
"""Bytes of peak resident memory the estimates may miss: page rounding, allocator arenas
and fragmentation and interpreter objects, which they (live NumPy bytes) do not count.
The estimates' own margin is far larger at these sizes (a third or more of the growth:
they take `sim.run.chunks.WORKING_ARRAYS` for the model's working set, which holds about 30)."""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's VmHWM")
@pytest.mark.parametrize(("kind", "sizes", "config", "extra"), [
    ("sensitivity", (2**10, 2**13), BASELINE, OUTCOME),
    ("calibrate", (1000, 8000), CALIBRATION, OBSERVATIONS),
])
def test_estimates_bound_the_real_peak_within_a_factor_of_two(kind, sizes, config, extra):
    """Peak RSS of two runs in fresh processes: each one's growth over a tiny run, and the
    growth from the smaller to the larger, lie below the estimates and above half of them."""
    runs = [subprocess.Popen([sys.executable, "-c", PEAK_SCRIPT, kind, str(n), str(config),
                              str(extra)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=REPO) for n in sizes]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        results.append(json.loads(out))
    small, large = results
    for result in results:
        assert result["after"] - result["before"] <= result["estimate"] + RSS_SLACK, result
    grown = large["after"] - small["after"]
    estimated = large["estimate"] - small["estimate"]
    assert grown <= estimated + RSS_SLACK, (grown, estimated)
    assert estimated <= 2 * grown, (grown, estimated, small, large)
