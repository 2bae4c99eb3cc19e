"""Break-even: closed-form roots for both levers, samples without a root reported (not
clipped), every status checked against the model at the bracket's ends, the same numbers
whatever the chunking, the same samples as `sim.simulate`, and the CLI (output, refusals)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.analysis.breakeven import (
    ABOVE,
    BELOW,
    FOUND,
    JUMP,
    STATUS_MEANINGS,
    breakeven,
    probability_above_today,
)
from sim.analysis.levers import LeverRuns, force_change
from sim.priors.sampling import root_seed
from sim.run.inputs import iter_inputs

from .conftest import CONFIGS, minimal, one_line_refusal, run_cli, to_toml

# Hand-chosen test inputs (not reference data): no noise, absolute losses below the force,
# no returns, no exits, no training, no inflation, so that over the horizon
# F_K - F_0 = (s_R R b^eps - C) sum_k D_k / M with b = (B_fed + s_B B_reg) / (B_fed + B_reg).
FEDERAL, REGIONAL = 400_000.0, 1_100_000.0


def closed_form_config(samples: int = 256) -> dict:
    return minimal(
        run={"samples": samples, "seed": 7},
        time={"months": 12},
        recruitment={"per_month": {"dist": "uniform", "low": 30_000, "high": 45_000},
                     "bonus_elasticity": {"dist": "uniform", "low": 0.3, "high": 1.0}},
        losses={"per_month": {"dist": "uniform", "low": 30_000, "high": 45_000},
                "return_to_duty_share": 0.0},
        bonus={"federal_rub": FEDERAL, "regional_rub": REGIONAL},
        prices={"inflation": 0.0},
    )


@pytest.fixture
def closed_form(write_config):
    return sim.load_scenario(write_config(closed_form_config()))


def sampled(ds, key):
    return ds[f"param_{key.replace('.', '_')}"].values


@pytest.fixture
def closed_form_params(closed_form):
    """The sampled R, C and eps of the closed-form scenario (as sim.simulate draws them)."""
    ds = sim.simulate(closed_form)
    return (sampled(ds, "recruitment.per_month"), sampled(ds, "losses.per_month"),
            sampled(ds, "recruitment.bonus_elasticity"))


def test_recruitment_lever_closed_form(closed_form, closed_form_params):
    """s_R* = C / R for every sample, to the root's tolerance."""
    recruits, losses, _ = closed_form_params
    ds = breakeven(closed_form, lever="recruitment", tolerance_persons=1e-6)
    assert (ds.breakeven_status.values == FOUND).all()
    np.testing.assert_allclose(ds.breakeven_scale.values, losses / recruits, rtol=1e-9)
    np.testing.assert_allclose(ds.breakeven_value.values, losses, rtol=1e-9)
    np.testing.assert_array_equal(ds.today_value.values, recruits)
    # above today's level exactly where losses exceed recruitment
    assert probability_above_today(ds) == pytest.approx(np.mean(losses > recruits))


def test_bonus_lever_closed_form(closed_form, closed_form_params):
    """s_B* = ((C / R)^(1 / eps) (B_fed + B_reg) - B_fed) / B_reg for every sample."""
    recruits, losses, eps = closed_form_params
    expected = ((losses / recruits) ** (1 / eps) * (FEDERAL + REGIONAL) - FEDERAL) / REGIONAL
    assert ((expected > 0) & (expected < 10)).all()  # every root inside the default bracket
    ds = breakeven(closed_form, lever="bonus", tolerance_persons=1e-6)
    assert (ds.breakeven_status.values == FOUND).all()
    np.testing.assert_allclose(ds.breakeven_scale.values, expected, rtol=1e-8)
    np.testing.assert_allclose(ds.breakeven_value.values, expected * REGIONAL, rtol=1e-8)
    # at most a few model runs' worth: the root search converges in few vectorized passes
    assert ds.attrs["model_runs"] <= 20


def test_samples_without_a_root_are_reported_not_clipped(closed_form, closed_form_params):
    """With a bracket of 0.5 to 1.2, roots below 0.5 are 'below', above 1.2 'above', NaN."""
    recruits, losses, eps = closed_form_params
    expected = ((losses / recruits) ** (1 / eps) * (FEDERAL + REGIONAL) - FEDERAL) / REGIONAL
    ds = breakeven(closed_form, lever="bonus", bracket=(0.5, 1.2), tolerance_persons=1e-6)
    status, scale = ds.breakeven_status.values, ds.breakeven_scale.values
    below, above = expected < 0.5, expected > 1.2
    assert below.any() and above.any() and (~below & ~above).any()
    np.testing.assert_array_equal(status[below], BELOW)
    np.testing.assert_array_equal(status[above], ABOVE)
    assert np.isnan(scale[below | above]).all()
    assert np.isnan(ds.breakeven_spend_rub_by_year.values[below | above]).all()
    inside = ~below & ~above
    np.testing.assert_allclose(scale[inside], expected[inside], rtol=1e-8)
    # no root above 1.2 still counts as above today's level
    assert probability_above_today(ds) == pytest.approx(np.mean(expected > 1))


def test_cost_at_breakeven_is_the_ledger_at_the_root(closed_form, closed_form_params):
    """With the recruitment lever at C / R, r_k = C m_k: the bonus bill moves by
    (C - R) m_k B in each step, and the federal pay bill P m_k F_k by P m_k (C - R)
    sum_{j<k} m_j (the force it no longer gains); compensation does not move."""
    recruits, losses, _ = closed_form_params
    ds = breakeven(closed_form, lever="recruitment", tolerance_persons=1e-6)
    moved = (ds.breakeven_spend_rub_by_year - ds.today_spend_rub_by_year).sel(year=2025)
    months = closed_form.grid.days / (365.25 / 12)
    before = np.concatenate([[0.0], np.cumsum(months)[:-1]])  # sum_{j<k} m_j
    pay = 230_000.0  # MINIMAL's pay.monthly_rub
    extra = losses - recruits
    np.testing.assert_allclose(moved.sel(payer="regional").values,
                               extra * months.sum() * REGIONAL, rtol=1e-7)
    np.testing.assert_allclose(moved.sel(payer="federal").values,
                               extra * (months.sum() * FEDERAL + pay * (months @ before)),
                               rtol=1e-7)


NOISY = minimal(
    run={"samples": 300, "seed": 3},
    time={"months": 9},
    recruitment={"per_month": {"dist": "uniform", "low": 30_000, "high": 45_000},
                 "shock_sd": 0.2, "shock_persistence": 0.7,
                 "bonus_elasticity": {"dist": "uniform", "low": 0.0, "high": 1.0}},
    losses={"per_month": {"dist": "uniform", "low": 30_000, "high": 45_000},
            "shock_sd": 0.2, "shock_persistence": 0.8},
    force={"other_exit_rate": 0.003},
)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    path = tmp_path_factory.mktemp("noisy") / "noisy.toml"
    path.write_text(to_toml(NOISY))
    return sim.load_scenario(path)


@settings(max_examples=8)
@given(lever=st.sampled_from(["bonus", "recruitment"]),
       low=st.floats(0.0, 0.9), high=st.floats(1.1, 6.0))
def test_every_status_holds_on_the_model(noisy, lever, low, high):
    """Whatever the bracket: a root has |F_K - F_0| <= tolerance when the model is run
    again at it with the sample's own noise; 'below' means the force grows even at the
    low end, 'above' that it shrinks even at the high end."""
    tolerance = 1.0
    ds = breakeven(noisy, lever=lever, bracket=(low, high), tolerance_persons=tolerance)
    status, scale = ds.breakeven_status.values, ds.breakeven_scale.values
    assert set(np.unique(status)) <= {FOUND, BELOW, ABOVE, JUMP}
    (_, p, noise), = iter_inputs(noisy, root_seed(noisy.seed))
    runs = LeverRuns(noisy, p, noise, lever)
    found = np.flatnonzero(status == FOUND)
    if len(found):
        gap = force_change(runs.run(scale[found], found))
        assert np.abs(gap).max() <= tolerance
        assert ((scale[found] >= low) & (scale[found] <= high)).all()
    for code, end, sign in ((BELOW, low, 1), (ABOVE, high, -1)):
        rows = np.flatnonzero(status == code)
        if len(rows):
            gap = force_change(runs.run(np.full(len(rows), end), rows))
            assert (sign * gap > tolerance).all()
    np.testing.assert_array_equal(np.isnan(scale), (status == BELOW) | (status == ABOVE))


def test_same_samples_as_simulate_and_any_chunking(noisy):
    """Sample i is sample i of sim.simulate (same seed); chunking changes no number."""
    whole = breakeven(noisy, lever="recruitment")
    chunked = breakeven(noisy, lever="recruitment", chunk_samples=64)  # 1 seed block each
    for name in whole.data_vars:
        np.testing.assert_array_equal(whole[name].values, chunked[name].values)
    ds = sim.simulate(noisy)
    np.testing.assert_allclose(whole.force_change_persons.values,
                               ds.force_change_persons.values, rtol=1e-6, atol=1.0)


def test_a_larger_recruitment_level_needs_a_smaller_scale(write_config):
    """r_k is linear in s_R R: scaling R by 1.3 divides s_R* by 1.3 and leaves s_R* R."""
    base = NOISY | {"recruitment": NOISY["recruitment"] | {"per_month": 36_000}}
    more = NOISY | {"recruitment": NOISY["recruitment"] | {"per_month": 36_000 * 1.3}}
    a = breakeven(sim.load_scenario(write_config(base, "a.toml")), lever="recruitment",
                  tolerance_persons=1e-6)
    b = breakeven(sim.load_scenario(write_config(more, "b.toml")), lever="recruitment",
                  tolerance_persons=1e-6)
    np.testing.assert_allclose(b.breakeven_scale.values * 1.3, a.breakeven_scale.values,
                               rtol=1e-8)
    np.testing.assert_allclose(b.breakeven_value.values, a.breakeven_value.values, rtol=1e-8)


def test_result_attrs_and_units(noisy):
    ds = breakeven(noisy, lever="bonus")
    for name, variable in ds.data_vars.items():
        assert variable.attrs.get("long_name"), name
        assert "units" in variable.attrs or name == "breakeven_status", name
    assert ds.breakeven_status.attrs["flag_meanings"].split() == list(STATUS_MEANINGS)
    assert ds.breakeven_value.attrs["units"] == "RUB per recruit"
    for key in ("config_resolved", "seed", "fiscal_strain_sim_version", "design", "lever",
                "target", "bracket", "model_runs"):
        assert key in ds.attrs, key


# ---- the CLI ---------------------------------------------------------------------------


def test_cli_prints_and_writes(write_config, tmp_path, capsys):
    path = write_config(closed_form_config(samples=64))
    out_file = tmp_path / "be.nc"
    status, out, err = run_cli("breakeven", path, "--lever", "recruitment", "--out", out_file,
                               capsys=capsys)
    assert status == 0, err
    assert "P(break-even above today's level)" in out
    assert "federal" in out and "regional" in out
    back = sim.io.read_results(out_file)
    assert back.attrs["lever"] == "recruitment"
    assert back.sizes["sample"] == 64


@pytest.mark.parametrize(("args", "words"), [
    (["--lever", "bonus"], ("--lever", "bonus_elasticity is 0 in every sample")),
    (["--lever", "recruitment", "--bracket", "2,3"], ("--bracket", "LOW <= 1 <= HIGH")),
    (["--lever", "recruitment", "--bracket", "0,nan"], ("--bracket",)),
    (["--lever", "recruitment", "--bracket", "0"], ("--bracket", "LOW,HIGH")),
    (["--lever", "wages"], ("--lever", "invalid choice")),
    (["--target", "growth"], ("--target",)),
])
def test_cli_refusals(args, words, tmp_path, capsys):
    """Bad levers and brackets: one line, exit 2, nothing written."""
    out_file = tmp_path / "be.nc"
    status, _, err = run_cli("breakeven", CONFIGS / "baseline.toml", "--samples", "50",
                             *args, "--out", out_file, capsys=capsys)
    one_line_refusal(status, err, *words)
    assert not out_file.exists()


def test_every_sample_solved_at_today_level(closed_form):
    """With a tolerance wider than any gap, every sample is solved at s = 1 at once."""
    ds = breakeven(closed_form, lever="recruitment", tolerance_persons=1e9)
    assert (ds.breakeven_status.values == FOUND).all()
    assert (ds.breakeven_scale.values == 1.0).all()


def test_a_gap_the_model_cannot_compute_is_not_converged():
    """A NaN gap at a bracket's end or during the search: not converged, never a root."""
    from sim.analysis.breakeven import UNSOLVED, solve_scale

    def gap(scale, rows):
        return np.where((scale > 9) & (rows == 0), np.nan,
                        scale - np.where(rows == 0, 20.0, 5.0))

    scale, status = solve_scale(gap, gap(np.ones(2), np.arange(2)), (0.0, 10.0), 1e-9)
    assert status[0] == UNSOLVED and np.isnan(scale[0])
    assert status[1] == FOUND and scale[1] == pytest.approx(5.0)
