"""summarize(): outcome quantiles, key probabilities and claim verdicts."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

import sim
from sim import io
from sim.analysis.summary import claim_samples, claims_from_attrs
from sim.core.units import DAYS_PER_MONTH
from sim.numbers import human

from .conftest import CONFIGS, minimal

# Figures below are MINIMAL's test inputs (tests/conftest.py), not reference data:
# 40,000 recruits a month, bonus 400,000 + 1,100,000 = 1.5M RUB, 85 RUB/USD.
RATE_PER_DAY = 40_000 / DAYS_PER_MONTH  # recruits per day in the MINIMAL config


def _claims(value_recruits):
    return [
        {"label": "recruits mid-Jan to mid-Feb", "quantity": "recruits",
         "start": dt.date(2025, 1, 15), "end": dt.date(2025, 2, 15), "value": value_recruits,
         "unit": "persons", "source": "test"},
        {"label": "force", "quantity": "force", "date": dt.date(2025, 1, 16), "value": 1.0,
         "unit": "persons"},
        {"label": "usd per day", "quantity": "bonus_spend_usd", "statistic": "per_day",
         "start": dt.date(2025, 2, 1), "end": dt.date(2025, 4, 1), "value": 1e9,
         "unit": "USD/day"},
    ]


@pytest.fixture
def deterministic(write_config):
    config = minimal(claims=_claims(RATE_PER_DAY * 31))
    return sim.simulate(sim.load_scenario(write_config(config)), samples=5, seed=0)


def test_stored_claim_values_match_the_per_step_variables(deterministic):
    for i, claim in enumerate(claims_from_attrs(deterministic)):
        np.testing.assert_allclose(claim_samples(deterministic, claim),
                                   deterministic.claim_value[i], rtol=1e-6)


def test_flow_claims_spread_steps_evenly_over_days(deterministic):
    recruits, force, usd = claims_from_attrs(deterministic)
    np.testing.assert_allclose(claim_samples(deterministic, recruits), RATE_PER_DAY * 31,
                               rtol=1e-6)
    f = deterministic.force_persons.values[0]
    np.testing.assert_allclose(claim_samples(deterministic, force),
                               f[0] + (f[1] - f[0]) * 15 / 31, rtol=1e-7)
    np.testing.assert_allclose(claim_samples(deterministic, usd),
                               RATE_PER_DAY * 1.5e6 / 85, rtol=1e-6)


def test_claim_verdicts_and_percentiles(deterministic):
    tie = float(deterministic.claim_value[0, 0])  # every sample has this value
    np.testing.assert_allclose(deterministic.claim_value[0], tie, rtol=0)
    claims = json.loads(deterministic.attrs["claims"])
    claims[0]["value"] = tie
    ds = deterministic.assign_attrs(claims=json.dumps(claims))
    table = sim.summarize(ds).claims
    assert table.iloc[0].verdict == "inside" and table.iloc[0].percentile == 50.0
    assert table.iloc[1].verdict == "below" and table.iloc[1].percentile == 0
    assert table.iloc[2].verdict == "above" and table.iloc[2].percentile == 100


def test_percentile_of_a_claim_in_a_spread_distribution(write_config):
    config = minimal(recruitment={"per_month": {"dist": "uniform", "low": 30_000,
                                                "high": 50_000}},
                     claims=_claims(RATE_PER_DAY * 31))
    ds = sim.simulate(sim.load_scenario(write_config(config)), samples=20_000, seed=3)
    row = sim.summarize(ds).claims.iloc[0]
    # The claim is the window total at 40k a month: the median of uniform(30k, 50k).
    # Binomial SE of the share below it at n = 20,000, five sigma: 1.8 points.
    assert row.percentile == pytest.approx(50, abs=5 * 100 * np.sqrt(0.25 / 20_000))
    assert row.verdict == "inside"


def test_probabilities_and_their_standard_errors(write_config):
    config = minimal(recruitment={"per_month": {"dist": "uniform", "low": 30_000,
                                                "high": 40_000}})
    ds = sim.simulate(sim.load_scenario(write_config(config)), samples=10_000, seed=1)
    table = sim.summarize(ds).probabilities.set_index("event")
    shrink = table.loc["force shrinks over the horizon"]
    expected = float(np.mean(ds.force_change_persons.values < 0))
    assert shrink.probability == expected
    assert shrink.mc_se == pytest.approx(np.sqrt(expected * (1 - expected) / 10_000))
    # Force shrinks when recruits < irrecoverable losses: MINIMAL's 35k casualties x
    # (0.25 killed + 0.10 missing + 0.65 x 0.5 not returned) = 35k x 0.675 = 23.6k;
    # the least recruits here are 30k: never.
    assert expected == 0.0


def test_outcome_table_has_quantiles_in_order_and_one_row_per_year(write_config):
    ds = sim.simulate(sim.load_scenario(CONFIGS / "baseline.toml"), samples=2000, seed=1)
    table = sim.summarize(ds).outcomes
    assert {"bonus_spend_usd_by_year[2025]", "bonus_spend_usd_by_year[2026]"} <= set(
        table.quantity)
    q = table[["p5", "p25", "p50", "p75", "p95"]].to_numpy()
    assert np.all(np.diff(q, axis=1) >= 0)


def test_summary_of_a_file_read_back(tmp_path):
    ds = sim.simulate(sim.load_scenario(CONFIGS / "baseline.toml"), samples=500, seed=2)
    back = io.read_results(io.write_netcdf(ds, tmp_path / "r.nc"))
    assert str(sim.summarize(back)) == str(sim.summarize(ds))
    assert "Kelin" in str(sim.summarize(back))


@pytest.mark.parametrize(("x", "text"), [(2.5e12, "2.5trn"), (1.23e9, "1.23bn"),
                                         (24e6, "24M"), (600_000, "600k"), (0.052, "0.052"),
                                         (0, "0"), (-3e6, "-3M")])
def test_human_numbers(x, text):
    assert human(x) == text


def test_ledger_table_splits_each_year_by_payer_and_item(write_config):
    """Six months of MINIMAL (no shocks): every row against the closed form. Recruits
    40,000 a month at 400,000 federal and 1,100,000 regional RUB; casualties 35,000 a
    month, 25% killed and 65% wounded, with regional top-ups of 2M per killed and 0.5M per
    wounded; regional spending 27.41 trn a year (half a year simulated)."""
    config = minimal(compensation={"regional_per_killed_rub": 2e6,
                                   "regional_per_wounded_rub": 0.5e6},
                     budget={"regional_spending_rub": 27.41e12})
    ds = sim.simulate(sim.load_scenario(write_config(config)), samples=5, seed=0)
    table = sim.summarize(ds).ledger.set_index(["payer", "quantity"])
    assert (table["year"] == 2025).all()
    months = ds.step_days.values.sum() / DAYS_PER_MONTH
    recruits, casualties = 40_000 * months, 35_000 * months
    regional_bonus = recruits * 1.1e6
    regional_comp = casualties * (0.25 * 2e6 + 0.65 * 0.5e6)
    np.testing.assert_allclose(table.loc[("federal", "bonus"), "p50"], recruits * 4e5,
                               rtol=1e-6)
    np.testing.assert_allclose(table.loc[("regional", "bonus"), "p50"], regional_bonus,
                               rtol=1e-6)
    np.testing.assert_allclose(table.loc[("regional", "compensation"), "p50"], regional_comp,
                               rtol=1e-6)
    np.testing.assert_allclose(table.loc[("regional", "total"), "p50"],
                               regional_bonus + regional_comp, rtol=1e-6)
    share = (regional_bonus + regional_comp) / (27.41e12 * ds.year_days.values[0] / 365.25)
    np.testing.assert_allclose(table.loc[("regional", "share of regional spending"), "p50"],
                               share, rtol=1e-6)
    assert ("regional", "pay") not in table.index  # regions pay no soldier pay
    federal_total = table.loc[("federal", ["bonus", "pay", "compensation"]), "p50"].sum()
    np.testing.assert_allclose(table.loc[("federal", "total"), "p50"], federal_total,
                               rtol=1e-6)
    text = str(sim.summarize(ds))
    assert "Who pays, per calendar year" in text and "share of regional spending" in text
    assert f"{100 * share:.1f}%" in text


def test_ledger_shares_without_regional_budget_are_left_out(deterministic):
    table = sim.summarize(deterministic).ledger
    assert "share of federal spending" in set(table["quantity"])
    assert not any("regional spending" in q for q in table["quantity"])


def test_kluge_check_in_rub_per_day(write_config):
    """A bonus_spend_rub per-day claim is judged on the RUB figure: MINIMAL pays 1.5M RUB
    a recruit, 40,000 recruits a mean month, so 1.5M x 40,000 / 30.4375 RUB a day."""
    per_day = 1.5e6 * 40_000 / DAYS_PER_MONTH
    claims = [{"label": "rub per day", "quantity": "bonus_spend_rub", "statistic": "per_day",
               "start": dt.date(2025, 3, 15), "end": dt.date(2025, 5, 1), "value": 2e9,
               "unit": "RUB/day"}]
    ds = sim.simulate(sim.load_scenario(write_config(minimal(claims=claims))), samples=5,
                      seed=0)
    row = sim.summarize(ds).claims.iloc[0]
    np.testing.assert_allclose(row.p50, per_day, rtol=1e-6)
    assert row.unit == "RUB/day" and row.verdict == ("above" if per_day < 2e9 else "below")


def test_ledger_claims_weigh_one_payer_and_item(write_config):
    """Kluge's split (0.5 bn federal + 1.5 bn regional RUB a day) as spend_rub claims:
    MINIMAL pays 400,000 federal and 1,100,000 regional RUB per recruit, 40,000 recruits a
    mean month, so the per-day values are those times 40,000 / 30.4375."""
    window = {"quantity": "spend_rub", "statistic": "per_day", "unit": "RUB/day",
              "start": dt.date(2025, 3, 15), "end": dt.date(2025, 5, 1)}
    claims = [{**window, "label": "federal", "payer": "federal", "item": "bonus",
               "value": 0.5e9},
              {**window, "label": "regional", "payer": "regional", "item": "bonus",
               "value": 1.5e9},
              {**window, "payer": "regional", "item": "pay", "value": 0.0}]
    ds = sim.simulate(sim.load_scenario(write_config(minimal(claims=claims))), samples=5,
                      seed=0)
    table = sim.summarize(ds).claims.set_index("claim")
    per_day = 40_000 / DAYS_PER_MONTH
    np.testing.assert_allclose(table.loc["federal", "p50"], 4e5 * per_day, rtol=1e-6)
    np.testing.assert_allclose(table.loc["regional", "p50"], 1.1e6 * per_day, rtol=1e-6)
    assert table.loc["spend_rub regional pay (per_day)", "p95"] == 0  # regions pay no pay
    for claim in claims_from_attrs(ds):  # the stored values agree with the ledger
        np.testing.assert_allclose(claim_samples(ds, claim),
                                   ds.claim_value.sel(claim=claim.label), rtol=1e-6)


@pytest.mark.parametrize(("entry", "key", "words"), [
    ({"payer": "federal", "item": "wages"}, "item",
     "item = one of bonus, pay, compensation .or no item: all of them.; got 'wages'"),
    ({"payer": "state", "item": "bonus"}, "payer", "one of federal, regional .or no payer"),
    ({"used_for": "calibration"}, "used_for", "expected evidence or prior"),
    ({"payer": "federal", "item": "bonus", "quantity": "recruits", "unit": "persons"},
     "payer", "only spend_rub claims name a payer"),
])
def test_bad_ledger_claims_name_the_key(write_config, entry, key, words):
    claim = {"quantity": "spend_rub", "start": dt.date(2025, 1, 1),
             "end": dt.date(2025, 2, 1), "value": 1.0, "unit": "RUB", **entry}
    path = write_config(minimal(claims=[claim]))
    with pytest.raises(sim.ConfigError, match=words) as error:
        sim.load_scenario(path)
    assert error.value.key == f"claims[0].{key}"


def test_claims_sum_the_ledger_and_read_levels(write_config):
    """A spend_rub claim without payer sums both payers' entries; without item, every
    item; a bonus_rub claim reads the bonus per recruit in the step holding its date. A
    claim used to set a prior is shown as such and not counted as evidence."""
    window = {"quantity": "spend_rub", "unit": "RUB", "start": dt.date(2025, 1, 1),
              "end": dt.date(2025, 2, 1)}
    claims = [{**window, "label": "all bonuses", "item": "bonus", "value": 1.0},
              {**window, "label": "everything", "value": 1.0},
              {"label": "bonus", "quantity": "bonus_rub", "date": dt.date(2025, 3, 10),
               "value": 1.5e6, "unit": "RUB/person", "used_for": "prior"}]
    ds = sim.simulate(sim.load_scenario(write_config(minimal(claims=claims))), samples=5,
                      seed=0)
    january = ds.isel(time=0)
    values = ds.claim_value
    np.testing.assert_allclose(values.sel(claim="all bonuses"),
                               january.spend_rub.sel(item="bonus").sum("payer"), rtol=1e-6)
    np.testing.assert_allclose(values.sel(claim="everything"), january.manpower_cost_rub,
                               rtol=1e-6)
    np.testing.assert_allclose(values.sel(claim="bonus"), 1.5e6, rtol=1e-12)
    table = sim.summarize(ds).claims.set_index("claim")
    assert table.loc["bonus", "used_for"] == "prior"
    text = str(sim.summarize(ds))
    assert "inside (set a prior)" in text
    assert "claims used as evidence lie inside the band; 1 set a prior here" in text


def test_claim_on_the_regional_bonus_needs_the_response(write_config):
    claim = {"quantity": "regional_bonus_rub", "date": dt.date(2025, 3, 1), "value": 1e6,
             "unit": "RUB/person"}
    with pytest.raises(sim.ConfigError, match=r"only with a \[regional_response\]"):
        sim.load_scenario(write_config(minimal(claims=[claim])))
