"""Property-based tests (hypothesis): conservation, monotonicity, units, reproducibility,
and the config loader under random bad input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import sim
from sim.core.metrics import derive
from sim.core.model import Noise, run_model
from sim.core.schema import OPTIONAL, REQUIRED, SCHEMA
from sim.core.timegrid import build_time_grid
from sim.errors import ConfigError
from sim.priors.sampling import SEED_BLOCK_SAMPLES

from .conftest import MINIMAL, assert_same_run, minimal, to_toml

N = 4  # samples per example

DEFAULTS = {f"{s}.{k}": np.full(N, float(key.default)) for s, keys in SCHEMA.items()
            for k, key in keys.items() if key.is_prior and key.default not in (REQUIRED, OPTIONAL)}
"""Every prior with a default (so keys the ranges below leave out are at their defaults)."""

# Valid ranges for each parameter (inside its domain, wide enough to reach edge cases).
RANGES = {
    "force.initial_persons": (1.0, 2e6),
    "force.other_exit_rate": (0.0, 0.2),
    "recruitment.per_month": (0.0, 1e5),
    "recruitment.shock_sd": (0.0, 0.6),
    "recruitment.shock_persistence": (0.0, 1.0),
    "recruitment.bonus_elasticity": (-1.0, 1.0),
    "prices.inflation": (-0.05, 0.3),
    "losses.per_month": (0.0, 2e5),
    "losses.monthly_rate": (0.0, 0.3),
    "losses.shock_sd": (0.0, 0.6),
    "losses.shock_persistence": (0.0, 1.0),
    "losses.killed_share": (0.0, 0.5),
    "losses.missing_share": (0.0, 0.5),
    "losses.return_to_duty_share": (0.0, 1.0),
    "losses.recovery_months": (0.1, 24.0),
    "bonus.federal_rub": (1.0, 1e6),
    "bonus.federal_growth": (-0.5, 1.0),
    "bonus.regional_rub": (0.0, 4e6),
    "bonus.regional_growth": (-0.5, 1.0),
    "fx.rub_per_usd": (50.0, 150.0),
    "fx.drift": (-0.5, 0.5),
    "fx.volatility": (0.0, 0.5),
    "pay.monthly_rub": (0.0, 5e5),
    "pay.growth": (-0.2, 0.5),
    "compensation.per_killed_rub": (0.0, 2e7),
    "compensation.per_wounded_rub": (0.0, 5e6),
    "compensation.regional_per_killed_rub": (0.0, 3e6),
    "compensation.regional_per_wounded_rub": (0.0, 1e6),
    "budget.defense_rub": (1e12, 3e13),
    "budget.federal_spending_rub": (1e13, 6e13),
    "budget.gdp_rub": (1e14, 3e14),
    "budget.nwf_liquid_rub": (1e12, 1e13),
    "budget.regional_revenue_rub": (1e13, 4e13),
    "budget.growth": (-0.2, 0.3),
    # version 2: training, the reserve, payment delays, take-up, declarations
    "recruitment.training_months": (0.0, 3.0),
    "recruitment.deployed_share": (0.5, 1.0),
    "compensation.delay_months": (0.0, 6.0),
    "compensation.take_up_share": (0.5, 1.0),
    "losses.missing_declared_dead_share": (0.0, 1.0),
    "losses.missing_declaration_months": (0.0, 12.0),
}


@st.composite
def model_inputs(draw, step=None):
    """Random valid parameters (N samples), noise, a grid and a loss mode."""
    step = step or draw(st.sampled_from(["month", "day"]))
    months = draw(st.integers(1, 30 if step == "month" else 3))
    grid = build_time_grid(dt.date(2025, draw(st.integers(1, 12)), 1), months, step)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    p = {**DEFAULTS, **{key: rng.uniform(lo, hi, N) for key, (lo, hi) in RANGES.items()}}
    noise = Noise(*(rng.standard_normal((grid.n_steps, N)) for _ in range(3)))
    mode = draw(st.sampled_from(["absolute", "proportional"]))
    return p, noise, grid, mode


def _run(p, noise, grid, mode):
    out = run_model(p, noise, grid.days, grid.years_elapsed, mode)
    return out, derive(out, p, grid.days, grid.years_elapsed, grid.year_weights())


@given(model_inputs())
def test_conservation_identity(inputs):
    """F_K + W_K + T_K + Q_K = F_0 + sum r - sum L - sum o (training and reserve too)."""
    out, _ = _run(*inputs)
    f, w = out["force"], out["wounded_in_recovery"]
    t, q = out["training"], out["reserve"]
    lhs = f[-1] + w[-1] + t[-1] + q[-1]
    rhs = f[0] + out["recruits"].sum(0) - out["irrecoverable_losses"].sum(0) - out[
        "other_exits"].sum(0)
    scale = f[0] + out["recruits"].sum(0) + out["casualties"].sum(0)
    assert np.all(np.abs(lhs - rhs) <= 1e-12 * scale * len(f))
    # Step by step: change of the paid stocks = flows in the step.
    np.testing.assert_allclose(
        np.diff(f + t + q, axis=0),
        out["recruits"] - out["casualties"] + out["returns"] - out["other_exits"],
        atol=1e-9 * scale.max())
    assert np.all(f >= 0) and np.all(w >= 0) and np.all(out["other_exits"] >= 0)
    assert np.all(t >= 0) and np.all(q >= 0)


@given(model_inputs())
def test_daily_rates_times_days_are_step_totals(inputs):
    grid = inputs[2]
    _, d = _run(*inputs)
    days = grid.days[:, None]
    np.testing.assert_allclose(d["bonus_spend_rub_per_day"] * days, d["bonus_spend_rub"],
                               rtol=1e-12)
    np.testing.assert_allclose(d["manpower_cost_usd_per_day"] * days * d["rub_per_usd"],
                               d["manpower_cost_rub"], rtol=1e-12)
    np.testing.assert_allclose(d["bonus_spend_rub_by_year"].sum(0),
                               d["bonus_spend_rub"].sum(0), rtol=1e-12)


def _bumped(p, key, factor):
    q = dict(p)
    q[key] = p[key] * factor
    return q


@given(model_inputs(), st.floats(1.01, 3.0))
def test_more_recruitment_means_more_recruits_and_force(inputs, factor):
    p, noise, grid, mode = inputs
    p = {**p, "force.other_exit_rate": np.zeros(N)}
    base, _ = _run(p, noise, grid, mode)
    more, _ = _run(_bumped(p, "recruitment.per_month", factor), noise, grid, mode)
    assert np.all(more["recruits"] >= base["recruits"])
    assert np.all(more["force"] >= base["force"] * (1 - 1e-12))


@given(model_inputs(), st.floats(1.01, 3.0))
def test_more_losses_mean_less_force(inputs, factor):
    """Away from the cap c_k <= F_k: once a whole force is lost in a step, a run with more
    wounded in the pipeline gets more back, so monotonicity holds only below the cap."""
    p, noise, grid, _ = inputs
    # A force of at least 1M keeps the cap from binding in nearly every example.
    p = {**p, "force.other_exit_rate": np.zeros(N),
         "force.initial_persons": p["force.initial_persons"] + 1e6}
    base, _ = _run(p, noise, grid, "absolute")
    more, _ = _run(_bumped(p, "losses.per_month", factor), noise, grid, "absolute")
    assume(np.all(more["casualties"] < more["force"][:-1]))
    assert np.all(more["force"] <= base["force"] * (1 + 1e-12))
    assert np.all(more["casualties"].sum(0) >= base["casualties"].sum(0) * (1 - 1e-12))


@given(model_inputs(), st.floats(1.01, 3.0))
def test_bigger_bonus_costs_more_and_stronger_dollar_costs_less_in_usd(inputs, factor):
    p, noise, grid, mode = inputs
    p = {**p, "recruitment.bonus_elasticity": np.zeros(N)}
    _, base = _run(p, noise, grid, mode)
    _, rich = _run(_bumped(p, "bonus.regional_rub", factor), noise, grid, mode)
    assert np.all(rich["bonus_spend_rub"] >= base["bonus_spend_rub"])
    _, weak_rub = _run(_bumped(p, "fx.rub_per_usd", factor), noise, grid, mode)
    assert np.all(weak_rub["bonus_spend_usd_per_day"] <= base["bonus_spend_usd_per_day"])


@given(model_inputs(), st.sampled_from([1e-3, 10.0, 1e4]))
def test_redenominating_the_ruble_scales_only_ruble_outputs(inputs, k):
    """Units: multiply every RUB input by k -> RUB outputs x k, USD, persons, shares unchanged."""
    p, noise, grid, mode = inputs
    rub_keys = [f"{s}.{n}" for s, keys in SCHEMA.items() for n, key in keys.items()
                if "RUB" in key.unit]
    q = {**p, **{key: p[key] * k for key in rub_keys if key in p}}
    _, base = _run(p, noise, grid, mode)
    _, scaled = _run(q, noise, grid, mode)
    for name, values in base.items():
        unit = sim.core.variables.VARIABLES[name].units
        factor = k if unit.startswith("RUB") else 1.0
        np.testing.assert_allclose(scaled[name], values * factor, rtol=1e-9,
                                   atol=1e-300, err_msg=name)


@given(n=st.integers(1, 2 * SEED_BLOCK_SAMPLES + 5), chunk=st.integers(1, 3 * SEED_BLOCK_SAMPLES),
       seed=st.integers(0, 2**63 - 1))
@example(n=SEED_BLOCK_SAMPLES + 1, chunk=SEED_BLOCK_SAMPLES, seed=0)
def test_reproducible_whatever_the_chunking(n, chunk, seed, noisy_scenario):
    a = sim.simulate(noisy_scenario, samples=n, seed=seed, chunk_samples=chunk)
    b = sim.simulate(noisy_scenario, samples=n, seed=seed)
    assert_same_run(a, b)


@pytest.fixture(scope="module")
def noisy_scenario(tmp_path_factory):
    config = minimal(
        time={"months": 3},
        recruitment={"per_month": "30_000 to 50_000", "shock_sd": 0.2},
        losses={"shock_sd": 0.1, "killed_share": {"dist": "uniform", "low": 0.2, "high": 0.3}},
        fx={"volatility": 0.1},
    )
    path = tmp_path_factory.mktemp("cfg") / "noisy.toml"
    path.write_text(to_toml(config))
    return sim.load_scenario(path)


# ---------------------------------------------------------------- the loader, random bad input

scalars = st.one_of(
    st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.text(max_size=12), st.dates(), st.just("5 to 1"), st.just("1 to 5"),
)
values = st.one_of(
    scalars,
    st.dictionaries(st.sampled_from(["dist", "low", "high", "mode", "mean", "sd", "median",
                                     "sigma", "a", "b", "value", "source", "credibility", "x"]),
                    scalars, max_size=5),
    st.fixed_dictionaries({"dist": st.sampled_from(
        ["uniform", "normal", "lognormal", "triangular", "pert", "truncnormal", "beta",
         "range", "fixed", "cauchy"])}, optional={
        "low": scalars, "high": scalars, "mode": scalars, "value": scalars}),
    st.lists(scalars, max_size=3),
)
section_names = st.one_of(st.sampled_from([*SCHEMA, "claims", "extends"]),
                          st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10))


@st.composite
def mutated_configs(draw):
    config = minimal()
    for _ in range(draw(st.integers(1, 3))):
        section = draw(section_names)
        known = list(SCHEMA.get(section, {}))
        key = draw(st.one_of(st.sampled_from(known), st.text(
            "abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10)) if known else st.text(
            "abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10))
        value = draw(values)
        if section in ("claims", "extends"):
            config[section] = value
        else:
            config.setdefault(section, {})
            if isinstance(config[section], dict):
                config[section][key] = value
    return config


@given(mutated_configs())
@example(minimal(force={"initial_persons": "5 to 1"}))
@example(minimal(losses={"recovery_months": {"dist": "normal", "mean": 1.0, "sd": 5.0}}))
def test_loader_accepts_or_raises_config_error_only(tmp_path_factory, config):
    path = tmp_path_factory.mktemp("bad") / "bad.toml"
    try:
        text = to_toml(config)
    except TypeError:
        return  # not representable in TOML
    path.write_text(text)
    try:
        scenario = sim.load_scenario(path)
    except ConfigError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        return
    # Accepted: every prior must respect its domain, so a short run must be finite.
    ds = sim.simulate(scenario, samples=4, seed=0)
    assert np.all(np.isfinite(ds.force_persons.values))


@given(st.text(max_size=200))
@example("[force]\ninitial_persons = ")
@example("extends = 3")
def test_loader_on_random_text(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("txt") / "random.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        sim.load_scenario(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value).strip()


def test_minimal_config_is_valid(tmp_path):
    """MINIMAL loads as written (every value a fixed prior) and runs deterministically."""
    path = tmp_path / "minimal.toml"
    path.write_text(to_toml(MINIMAL))
    scenario = sim.load_scenario(path)
    for section, table in MINIMAL.items():
        if section in ("run", "time"):
            continue
        for key, value in table.items():
            prior = scenario.priors[f"{section}.{key}"]
            assert prior.params == {"value": value}, (section, key, prior)
    assert scenario.grid.start == MINIMAL["time"]["start"]
    assert scenario.grid.n_steps == MINIMAL["time"]["months"]
    ds = sim.simulate(scenario, samples=3, seed=0)
    force = ds.force_persons.values
    assert np.all(np.isfinite(force)) and np.all(force > 0)
    # Fixed priors and no shocks: every sample is the same path.
    np.testing.assert_array_equal(force, np.broadcast_to(force[:1], force.shape))
