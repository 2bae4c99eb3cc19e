"""Calibration on several series at once, against a synthetic truth: the posterior covers
the truth of each series' parameters in most seeds and narrows the recruitment prior; a
reporter's bias and the level it multiplies are flagged as not separable when only that
reporter sees the quantity, and separable when a second reporter sees it too; several
observation files load as one set, and conflicts between them are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tomli_w

import sim
from sim.analysis.calibration import identifiability
from sim.config.observations import load_observation_files
from sim.priors.distributions import prior_from_value

from .conftest import minimal

# Hand-chosen test inputs (not reference data): 12 months, uncertain recruitment and
# loss levels with shocks, everything else fixed.
CONFIG = minimal(
    run={"samples": 64, "seed": 1},
    time={"months": 12},
    recruitment={"per_month": {"dist": "uniform", "low": 25_000, "high": 55_000},
                 "shock_sd": 0.1, "shock_persistence": 0.5},
    losses={"per_month": {"dist": "uniform", "low": 25_000, "high": 45_000},
            "shock_sd": 0.1, "shock_persistence": 0.5},
)
LOG_SD = 0.05
MONTHS = [f"2025-{m:02d}-01" for m in range(1, 13)] + ["2026-01-01"]


def observation_file(entries: list[dict], bias: dict | None = None) -> str:
    return tomli_w.dumps({**({"bias": bias} if bias else {}), "observations": entries})


def synthetic_observations(truth, rng, reporter: str = "", every: str = "all") -> list[dict]:
    """Monthly recruits, the force every quarter and the monthly federal bonus bill of the
    truth (sample 0 of a run), each with lognormal error of SD `LOG_SD`."""
    def noisy(x):
        return float(x * np.exp(LOG_SD * rng.standard_normal()))

    out = []
    for k in range(12):
        window = {"start": MONTHS[k], "end": MONTHS[k + 1]}
        if every in ("all", "recruits"):
            out.append({"label": f"recruits {k}", "quantity": "recruits", **window,
                        "value": noisy(truth.recruits_persons.values[k]),
                        "unit": "persons", "log_sd": LOG_SD})
        if every in ("all",):
            out.append({"label": f"bonus bill {k}", "quantity": "spend_rub", "payer": "federal",
                        "item": "bonus", **window,
                        "value": noisy(truth.spend_rub.sel(payer="federal", item="bonus")
                                       .values[k]), "unit": "RUB", "log_sd": LOG_SD})
        if every in ("all", "casualties"):
            out.append({"label": f"casualties {k}", "quantity": "casualties", **window,
                        "value": noisy(truth.casualties_persons.values[k]),
                        "unit": "persons", "log_sd": LOG_SD,
                        **({"reporter": reporter} if reporter else {})})
    if every == "all":
        for k in (3, 6, 9, 12):
            out.append({"label": f"force {k}", "quantity": "force", "date": MONTHS[k],
                        "value": noisy(truth.force_persons.values[k]), "unit": "persons",
                        "log_sd": LOG_SD})
    return out


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    from .conftest import to_toml

    path = tmp_path_factory.mktemp("synthetic") / "scenario.toml"
    path.write_text(to_toml(CONFIG))
    return sim.load_scenario(path)


def test_posterior_covers_the_truth_and_narrows_recruitment(scenario, tmp_path):
    """Ten synthetic truths (prior draws with their own shocks): the posterior 90% interval
    holds the true recruitment and loss levels in at least 6 of 10 seeds each, and the
    recruitment prior is narrowed, which calibration on the General Staff's casualties
    alone cannot do. With 20 pCN moves per stage both are covered in 8 of 10 seeds (about
    9 expected); with the default 5 moves, in 6 and 7: in these 26 latent dimensions (24
    shocks) the chain mixes slowly, and the posterior comes out a little narrow."""
    truths = sim.simulate(scenario, samples=10, seed=123)
    covered = {"recruitment.per_month": 0, "losses.per_month": 0}
    narrowing = []
    for seed in range(10):
        truth = truths.isel(sample=seed)
        path = tmp_path / f"obs{seed}.toml"
        path.write_text(observation_file(synthetic_observations(
            truth, np.random.default_rng(seed))))
        ds = sim.calibrate(scenario, str(path), particles=600, seed=seed, moves=20)
        for key in covered:
            true = float(truth[f"param_{key.replace('.', '_')}"])
            low, high = (float(ds[f"posterior_p{q}"].sel(parameter=key)) for q in (5, 95))
            covered[key] += low <= true <= high
        narrowing.append(float(ds.narrowing.sel(parameter="recruitment.per_month")))
    assert covered["recruitment.per_month"] >= 6 and covered["losses.per_month"] >= 6, covered
    assert np.median(narrowing) < 0.3  # the data pin recruitment to a few percent


BIAS = {"dist": "uniform", "low": 0.7, "high": 1.4}


def test_a_bias_and_the_level_it_multiplies_are_flagged_together(scenario, tmp_path):
    """One reporter of casualties, with a bias prior: the data pin bias x level, so the
    two are strongly (negatively) correlated in the posterior and flagged; a second
    reporter (without bias) of the same casualties pins the level, and the flag goes."""
    truth = sim.simulate(scenario, samples=1, seed=5).isel(sample=0)
    rng = np.random.default_rng(0)
    biased = synthetic_observations(truth, rng, reporter="general_staff", every="casualties")
    alone = tmp_path / "alone.toml"
    alone.write_text(observation_file(biased, {"general_staff": BIAS}))
    ds = sim.calibrate(scenario, str(alone), particles=800, seed=1)
    pairs = {frozenset((p["a"], p["b"])): p["rank_correlation"]
             for p in json.loads(ds.attrs["unseparable_pairs"])}
    key = frozenset(("losses.per_month", "bias.general_staff"))
    assert key in pairs and pairs[key] < -0.7
    # a second reporter, unbiased, sees the same casualties
    second = tmp_path / "second.toml"
    second.write_text(observation_file([
        {**o, "label": o["label"] + " (second)", "reporter": "second"}
        for o in synthetic_observations(truth, np.random.default_rng(1), every="casualties")],
        {"second": 1.0}))
    both = sim.calibrate(scenario, [str(alone), str(second)], particles=800, seed=1)
    pairs = {frozenset((p["a"], p["b"])) for p in json.loads(both.attrs["unseparable_pairs"])}
    assert key not in pairs
    rho = float(both.posterior_rank_correlation.sel(parameter="losses.per_month",
                                                    parameter_b="bias.general_staff"))
    assert abs(rho) < 0.7
    assert float(both.narrowing.sel(parameter="bias.general_staff")) < 0.5


def test_identifiability_by_hand():
    """A posterior where b = 1 / a exactly (a product pinned): flagged, strongest first;
    a pair correlated as the config asked is not flagged; narrowing is the width ratio."""
    rng = np.random.default_rng(0)
    a = rng.uniform(1, 2, 5000)
    draws = {"a": a, "b": 1 / a, "c": rng.uniform(0, 1, 5000), "d": a + 0.01 * rng.random(5000)}
    priors = {name: prior_from_value({"dist": "uniform", "low": 0, "high": 4})
              for name in draws}
    narrowing, rho, pairs = identifiability(priors, draws, {frozenset(("a", "d")): 0.99})
    assert [(p["a"], p["b"]) for p in pairs][:1] == [("a", "b")]
    assert pairs[0]["rank_correlation"] == pytest.approx(-1.0)
    assert ("a", "d") not in [(p["a"], p["b"]) for p in pairs]  # as the config asked
    assert not any("c" in (p["a"], p["b"]) for p in pairs)
    np.testing.assert_allclose(narrowing[2], 0.9 / 3.6, rtol=0.05)
    assert rho.shape == (4, 4) and rho[0, 1] == pytest.approx(-1.0)


def test_several_files_load_as_one_set_and_conflicts_are_refused(scenario, tmp_path):
    grid = scenario.grid
    one = {"label": "x", "quantity": "recruits", "start": "2025-01-01", "end": "2025-02-01",
           "value": 40_000.0, "unit": "persons", "log_sd": 0.1, "reporter": "r"}
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(observation_file([one], {"r": BIAS}))
    b.write_text(observation_file([{**one, "label": "y", "start": "2025-02-01",
                                    "end": "2025-03-01"}], {"r": BIAS}))
    merged = load_observation_files([str(a), str(b)], grid)
    assert [o.claim.label for o in merged.observations] == ["x", "y"]
    assert set(merged.bias) == {"r"}
    b.write_text(observation_file([{**one, "label": "y", "start": "2025-02-01",
                                    "end": "2025-03-01"}], {"r": {"dist": "uniform",
                                                                  "low": 0.5, "high": 2}}))
    with pytest.raises(sim.UserError, match=r"bias.r: differs from the prior"):
        load_observation_files([str(a), str(b)], grid)
    b.write_text(observation_file([one], {"r": BIAS}))
    with pytest.raises(sim.UserError, match="it would count twice"):
        load_observation_files([str(a), str(b)], grid)


def test_an_observation_the_scenario_cannot_make_is_refused(tmp_path, capsys):
    """The regional bonus paid needs [regional_response]: one line, exit 2."""
    from .conftest import REPO, one_line_refusal, run_cli

    path = tmp_path / "rb.toml"
    path.write_text(observation_file([{"label": "rb", "quantity": "regional_bonus_rub",
                                       "date": "2025-03-01", "value": 1e6,
                                       "unit": "RUB/person", "log_sd": 0.1}]))
    status, _, err = run_cli("calibrate", REPO / "tests" / "data" / "baseline_v1.toml",
                             "--observations", path, "--particles", "20", capsys=capsys)
    one_line_refusal(status, err, "rb: regional_bonus_rub is made only with a "
                                  "[regional_response]")


def test_spend_by_payer_or_item_over_one_window_is_not_a_duplicate(scenario, tmp_path):
    """Two ledger entries (federal and regional bonuses) over the same window and reporter
    are two observations, not one counted twice."""
    entry = {"quantity": "spend_rub", "item": "bonus", "start": "2025-01-01",
             "end": "2025-02-01", "unit": "RUB", "log_sd": 0.1}
    path = tmp_path / "ledger.toml"
    path.write_text(observation_file([{**entry, "label": "f", "payer": "federal",
                                       "value": 1e10},
                                      {**entry, "label": "r", "payer": "regional",
                                       "value": 2e10}]))
    assert len(load_observation_files(str(path), scenario.grid).observations) == 2
