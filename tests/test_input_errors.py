"""Every bad input is one line on stderr naming its real source (file or flag) and key,
exit status 2, no traceback: extends chains, horizons, credibility, claim labels,
--set and flags, sweeps and observation files."""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import sim
from sim.cli import error_text
from sim.errors import ConfigError, ParameterError, ResourceError, UserError

from .conftest import CONFIGS, REPO, minimal, one_line_refusal, run_cli, to_toml

BASELINE = CONFIGS / "baseline.toml"


def _finite(ds) -> list[str]:
    """Names of the float variables of `ds` holding a NaN or an infinity."""
    return [name for name, v in ds.data_vars.items()
            if v.dtype.kind == "f" and not np.isfinite(v.values).all()]


# ---------------------------------------------------------------- 1. extends


def test_extends_chain_of_1200_files_is_one_line(tmp_path, capsys):
    (tmp_path / "c0.toml").write_text(to_toml(minimal()))
    for i in range(1, 1200):
        (tmp_path / f"c{i}.toml").write_text(f'extends = "c{i - 1}.toml"\n')
    status, _, err = run_cli("validate", tmp_path / "c1199.toml", capsys=capsys)
    line = one_line_refusal(status, err, "extends", str(tmp_path))
    from sim.config.scenario import MAX_EXTENDS

    assert str(MAX_EXTENDS) in line


def test_extends_chain_at_the_cap_still_loads(tmp_path):
    from sim.config.scenario import MAX_EXTENDS

    (tmp_path / "c0.toml").write_text(to_toml(minimal()))
    for i in range(1, MAX_EXTENDS):
        (tmp_path / f"c{i}.toml").write_text(f'extends = "c{i - 1}.toml"\n')
    scenario = sim.load_scenario(tmp_path / f"c{MAX_EXTENDS - 1}.toml")
    assert len(scenario.files) == MAX_EXTENDS


@pytest.mark.parametrize(("kind", "words"), [("folder", "directory"),
                                             ("device", "regular file"),
                                             ("fifo", "FIFO")])
def test_extends_says_what_the_parent_is(kind, words, tmp_path, capsys):
    target = {"folder": tmp_path / "parent", "device": "/dev/zero",
              "fifo": tmp_path / "parent"}[kind]
    if kind == "folder":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    child = tmp_path / "child.toml"
    child.write_text(f'extends = "{target}"\n')
    status, _, err = run_cli("validate", child, capsys=capsys)
    one_line_refusal(status, err, str(child), "extends", words)
    assert "does not exist" not in err


def test_symlink_loops_give_one_line(tmp_path, capsys):
    loop = tmp_path / "loop.toml"
    loop.symlink_to(loop)
    status, _, err = run_cli("validate", loop, capsys=capsys)
    one_line_refusal(status, err, "loop.toml")
    child = tmp_path / "child.toml"
    child.write_text('extends = "loop.toml"\n')
    status, _, err = run_cli("validate", child, capsys=capsys)
    one_line_refusal(status, err, str(child), "extends")


# ---------------------------------------------------------------- 2. horizons


@pytest.mark.parametrize("time", [{"start": dt.date(9999, 12, 31)},
                                  {"start": dt.date(9999, 12, 31), "step": "day"},
                                  {"months": 1_000_000_000},
                                  {"months": 10_000}])
def test_impossible_horizons_are_one_line(time, write_config, capsys):
    path = write_config(minimal(time=time))
    status, _, err = run_cli("run", path, capsys=capsys)
    one_line_refusal(status, err, str(path), "time.")


def test_longest_horizon_is_named(write_config, capsys):
    from sim.config.scenario import MAX_MONTHS

    path = write_config(minimal(time={"months": MAX_MONTHS + 1}))
    status, _, err = run_cli("validate", path, capsys=capsys)
    one_line_refusal(status, err, "time.months", str(MAX_MONTHS))
    assert sim.load_scenario(write_config(minimal(time={"months": MAX_MONTHS}))).grid.n_steps \
        == MAX_MONTHS


@pytest.mark.parametrize("start", [dt.date(2300, 1, 1), dt.date(1500, 1, 1)])
def test_dates_the_time_coordinates_cannot_hold_areone_line_refusal(start, write_config, capsys):
    """datetime64[ns] time coordinates span 1677-09-21 to 2262-04-11: outside, they would
    silently wrap to wrong dates."""
    status, _, err = run_cli("validate", write_config(minimal(time={"start": start})),
                             capsys=capsys)
    one_line_refusal(status, err, "time.start", "2262-04-11")


def test_latest_start_for_a_horizon_is_accepted_and_named(write_config, capsys):
    from sim.core.timegrid import LAST_DATE, add_months

    latest = add_months(LAST_DATE, -24)
    scenario = sim.load_scenario(write_config(minimal(time={"start": latest, "months": 24})))
    ds = sim.simulate(scenario, samples=2)
    assert ds.time.values[0] == np.datetime64(latest, "ns")
    assert ds.time_bound.values[-1] == np.datetime64(LAST_DATE, "ns")
    later = latest + dt.timedelta(days=1)
    status, _, err = run_cli("validate", write_config(minimal(time={"start": later,
                                                                    "months": 24})),
                             capsys=capsys)
    one_line_refusal(status, err, "time.start", str(latest))


def _largest(line: str) -> int:
    return int(re.search(r"largest supported horizon[^0-9]*(\d+) months", line).group(1))


def test_growth_that_would_overflow_names_the_largest_horizon(write_config, capsys):
    config = minimal(time={"months": 600}, bonus={"regional_growth": 10.0})
    status, _, err = run_cli("validate", write_config(config), capsys=capsys)
    largest = _largest(one_line_refusal(status, err, "time.months", "bonus and pay growth"))
    assert 1 <= largest < 600
    ok = sim.load_scenario(write_config(minimal(time={"months": largest},
                                                bonus={"regional_growth": 10.0})))
    assert not _finite(sim.simulate(ok, samples=8))
    with pytest.raises(ConfigError):
        sim.load_scenario(write_config(minimal(time={"months": largest + 1},
                                               bonus={"regional_growth": 10.0})))


@pytest.mark.parametrize(("sections", "key"), [
    ({"fx": {"volatility": 5.0}}, "fx.volatility"),
    ({"fx": {"drift": -10.0}}, "fx.drift"),
    ({"budget": {"growth": -0.99}}, "budget.growth"),
    ({"recruitment": {"bonus_elasticity": -10.0},
      "bonus": {"federal_growth": -0.9, "regional_growth": -0.9}},
     "recruitment.bonus_elasticity"),
])
def test_every_compounding_factor_is_bounded(sections, key, write_config, capsys):
    """Over 20 years each of these overflows float32 (the exchange-rate walk's spread,
    a falling rouble or budget, recruits answering a collapsing real bonus)."""
    path = write_config(minimal(time={"months": 240}, **sections))
    status, _, err = run_cli("validate", path, capsys=capsys)
    largest = _largest(one_line_refusal(status, err, "time.months", key))
    ok = sim.load_scenario(write_config(minimal(time={"months": max(largest, 1)},
                                                **sections)))
    assert not _finite(sim.simulate(ok, samples=4096, chunk_samples=4096))


def test_shipped_configs_support_their_horizons():
    for path in sorted(CONFIGS.glob("*.toml")):
        scenario = sim.load_scenario(path)
        assert scenario.grid.n_steps >= 24


growth = st.one_of(st.floats(-0.2, 0.5), st.just(0.0), st.floats(-0.999, 10.0),
                   st.tuples(st.floats(-0.9, 2.0), st.floats(0.01, 8.0)).map(
                       lambda t: {"dist": "uniform", "low": t[0], "high": t[0] + t[1]}))


def _mostly(plausible, anything):
    """Values from `plausible` half the time, else from `anything` (edge cases)."""
    return st.one_of(plausible, anything)


@given(months=_mostly(st.integers(1, 240), st.one_of(st.integers(1, 1300),
                                                      st.integers(1, 10**12))),
       start=_mostly(st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31)),
                     st.dates(dt.date(1600, 1, 1), dt.date(2400, 12, 31))),
       regional=growth, pay=growth, budget=growth, inflation=growth,
       drift=_mostly(st.floats(-0.5, 0.5), st.floats(-10.0, 10.0)),
       volatility=_mostly(st.floats(0.0, 0.5), st.floats(0.0, 5.0)),
       eps=_mostly(st.floats(-1.0, 1.0), st.floats(-10.0, 10.0)))
@example(months=10_000, start=dt.date(2025, 1, 1), regional=0.4, pay=0.0, budget=0.0,
         inflation=0.0, drift=0.0, volatility=0.0, eps=0.0)
@example(months=1200, start=dt.date(2025, 1, 1), regional=0.0, pay=0.0, budget=-0.999,
         inflation=0.0, drift=0.0, volatility=0.0, eps=0.0)
def test_loader_accepts_finite_horizons_or_refuses_in_one_line(
        tmp_path_factory, months, start, regional, pay, budget, inflation, drift,
        volatility, eps):
    config = minimal(time={"start": start, "months": months},
                     bonus={"regional_growth": regional}, pay={"growth": pay},
                     budget={"growth": budget}, prices={"inflation": inflation},
                     fx={"drift": drift, "volatility": volatility},
                     recruitment={"bonus_elasticity": eps})
    path = tmp_path_factory.mktemp("horizon") / "h.toml"
    path.write_text(to_toml(config))
    try:
        scenario = sim.load_scenario(path)
    except ConfigError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        return
    ds = sim.simulate(scenario, samples=8)
    assert not _finite(ds)
    assert ds.time.values[0] == np.datetime64(start, "ns")


# ---------------------------------------------------------------- 3. credibility


@pytest.mark.parametrize("credibility", [1e-300, 5e-324, 100 - 1e-14])
def test_credibility_without_a_finite_interval_is_one_line(credibility, write_config,
                                                           capsys):
    config = minimal(recruitment={"per_month": {"dist": "range", "low": 30_000,
                                                "high": 50_000, "credibility": credibility}})
    path = write_config(config)
    status, _, err = run_cli("validate", path, capsys=capsys)
    one_line_refusal(status, err, str(path), "recruitment.per_month", "credibility")


# ---------------------------------------------------------------- 4. claim labels


def _force_claim(**extra) -> dict:
    return {"quantity": "force", "date": dt.date(2025, 3, 1), "value": 600_000.0,
            "unit": "persons", **extra}


def test_duplicate_claim_labels_areone_line_refusal(write_config, capsys):
    claims = [_force_claim(label="Kelin"), _force_claim(label="other"),
              _force_claim(label="Kelin", date=dt.date(2025, 4, 1))]
    path = write_config(minimal(claims=claims))
    status, _, err = run_cli("run", path, capsys=capsys)
    one_line_refusal(status, err, str(path), "claims[2].label", "claims[0]")


def test_colliding_default_labels_ask_for_a_label(write_config, capsys):
    claims = [_force_claim(), _force_claim(date=dt.date(2025, 4, 1))]
    status, _, err = run_cli("validate", write_config(minimal(claims=claims)), capsys=capsys)
    one_line_refusal(status, err, "claims[1].label", "claims[0]", "label")


# ---------------------------------------------------------------- 5. --set and flags


@pytest.mark.parametrize(("setting", "key"), [("run.samples=-1", "run.samples"),
                                              ('recruitment.per_month="abc"',
                                               "recruitment.per_month"),
                                              ("time.months=100000", "time.months"),
                                              ("losses.killed_share=0.95",
                                               "losses.killed_share")])
def test_set_errors_are_blamed_on_set(setting, key, capsys):
    status, _, err = run_cli("run", BASELINE, "--set", setting, capsys=capsys)
    one_line_refusal(status, err, f"error: --set: {key}:")
    assert "baseline.toml" not in err


def test_set_growth_that_overflows_is_blamed_on_set(write_config, capsys):
    path = write_config(minimal(time={"months": 600}))
    status, _, err = run_cli("validate", path, "--set", "bonus.regional_growth=10",
                             capsys=capsys)
    one_line_refusal(status, err, "--set: bonus.regional_growth:", "time.months")


@pytest.mark.parametrize("value", ["40000\n[run]\nsamples=5", "40000\r", "40000\x1b[2J",
                                   "40000\x00"])
def test_set_with_a_control_character_isone_line_refusal(value, capsys):
    status, _, err = run_cli("validate", BASELINE, "--set", f"recruitment.per_month={value}",
                             capsys=capsys)
    one_line_refusal(status, err, "--set")
    assert "baseline.toml" not in err


def test_values_are_blamed_on_their_source():
    with pytest.raises(ConfigError) as refused:
        sim.load_scenario(BASELINE, values={"run.samples": 0}, values_source="sweep.toml")
    assert refused.value.path == "sweep.toml" and refused.value.key == "run.samples"


@pytest.mark.parametrize(("kwargs", "parameter", "words"), [
    ({"samples": 1000, "design": "sobol"}, "samples", "(try 512 or 1024)"),
    ({"design": "sobol"}, "design", "power of two"),
    ({"samples": 0}, "samples", ">= 1"),
    ({"seed": -1}, "seed", "2^63 - 1"),
    ({"design": "grid"}, "design", "random"),
])
def test_with_run_names_the_parameter_and_the_cli_its_flag(kwargs, parameter, words):
    """A library call names the parameter, not the config file that did not cause it;
    the CLI names the flag that gave the value."""
    scenario = sim.load_scenario(BASELINE)
    with pytest.raises(ParameterError) as refused:
        scenario.with_run(**kwargs)
    message = str(refused.value)
    assert refused.value.parameter == parameter and words in message, message
    assert message.startswith(f"{parameter}: ") and "baseline.toml" not in message
    assert error_text(refused.value).startswith(f"--{parameter}: ")


def test_cli_flags_are_named_not_the_config(capsys):
    status, _, err = run_cli("run", BASELINE, "--design", "sobol", "--samples", "1000",
                             capsys=capsys)
    one_line_refusal(status, err, "--samples: ", "512 or 1024")
    assert "baseline.toml" not in err


# ---------------------------------------------------------------- 6. sweeps


def _sweep(tmp_path, text: str):
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return path


FACTOR = '[factors]\n"bonus.regional_growth" = [0.0, 0.1]\n'


@pytest.mark.parametrize(("text", "words"), [
    ("base = 5\n" + FACTOR, ("base",)),
    ('base = ["a.toml"]\n' + FACTOR, ("base",)),
    ('configs = ["nope.toml"]\n', ("configs", "nope.toml")),
    ('configs = ["."]\n', ("configs", "directory")),
    (f'base = "{BASELINE}"\n[run]\nsamples = -1\n' + FACTOR, ("run.samples", ">= 1")),
    (f'configs = ["{BASELINE}"]\n[run]\nseed = -1\n', ("run.seed",)),
])
def test_bad_sweeps_name_the_sweep_file(text, words, tmp_path, capsys):
    path = _sweep(tmp_path, text)
    status, _, err = run_cli("sweep", path, "--out", tmp_path / "o.nc", capsys=capsys)
    one_line_refusal(status, err, f"error: {path}: ", *words)
    assert "baseline.toml" not in err
    assert not (tmp_path / "o.nc").exists()


def test_a_scenario_config_is_not_a_sweep_file(capsys):
    status, _, err = run_cli("sweep", BASELINE, capsys=capsys)
    one_line_refusal(status, err, str(BASELINE), "not a sweep file", "scenario config")


@pytest.mark.parametrize(("factors", "count"), [
    ('"bonus.regional_growth" = [VALUES]\n"bonus.federal_growth" = [VALUES]\n', "1,000,000"),
    ('"fx.drift" = { sample = "-0.1 to 0.1" }\n"pay.growth" = [0.0, 0.1]\n',
     "2,000,000,000,000"),
])
def test_combinations_are_counted_before_they_are_expanded(factors, count, tmp_path, capsys):
    from sim.analysis.experiments import MAX_SCENARIOS

    values = ", ".join(str(i / 1000) for i in range(1000))
    text = (f'base = "{BASELINE}"\nn_scenarios = 1_000_000_000_000\n[factors]\n'
            + factors.replace("VALUES", values))
    status, _, err = run_cli("sweep", _sweep(tmp_path, text), capsys=capsys)
    one_line_refusal(status, err, "sweep.toml", "factors", count, f"{MAX_SCENARIOS:,}")


def test_sweep_that_would_not_fit_in_memory_is_refused_up_front(tmp_path):
    text = f'base = "{BASELINE}"\n[run]\nsamples = 1000\n' + FACTOR
    path = _sweep(tmp_path, text)
    experiments = sim.analysis.experiments.load_sweep(path)
    with pytest.raises(ResourceError) as refused:
        sim.analysis.experiments.run_experiments(experiments, available_bytes=2**20,
                                                 source=str(path))
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"{path}: 2 scenarios x 1000 samples")
    assert "84.6 MiB but 1.0 MiB is available" in message
    assert "(or use --keep summary)" in message
    fit = int(re.search(r"at most (\d+) samples per scenario fit", message).group(1))
    assert 0 <= fit < 1000
    if fit:
        small = [replace(e, scenario=e.scenario.with_run(samples=fit)) for e in experiments]
        ds = sim.analysis.experiments.run_experiments(small, available_bytes=2**20)
        assert ds.sizes["sample"] == fit


def test_cli_sweep_too_big_for_memory_is_one_line(tmp_path, capsys):
    path = _sweep(tmp_path, f'base = "{BASELINE}"\n[run]\nsamples = 100_000_000_000\n'
                  + FACTOR)
    status, _, err = run_cli("sweep", path, "--out", tmp_path / "o.nc", capsys=capsys)
    one_line_refusal(status, err, str(path), "2 scenarios x 100000000000 samples", "GiB")


# ---------------------------------------------------------------- 7. observations


def _grid():
    return sim.core.timegrid.build_time_grid(dt.date(2024, 1, 1), 24, "month")


def _observation(label: str | None = None, reporter: str = "", start: str = "2024-03-01",
                 end: str = "2024-04-01") -> str:
    text = ("[[observations]]\n" + (f'label = "{label}"\n' if label else "")
            + f'quantity = "casualties"\nstart = {start}\nend = {end}\nvalue = 30000\n'
            "log_sd = 0.1\n")
    return text + (f'reporter = "{reporter}"\n' if reporter else "")


BIAS = '[bias]\ngeneral_staff = 1.0\nmod = 1.0\n'


@pytest.mark.parametrize(("text", "key"), [
    (_observation() + _observation(), "observations[1]"),
    (BIAS + _observation("a", "mod") + _observation("b", "mod"), "observations[1]"),
    (BIAS + _observation("a", "mod") + _observation("b", "general_staff")
     + _observation("c", "mod"), "observations[2]"),
])
def test_the_same_window_from_the_same_reporter_isone_line_refusal(text, key, tmp_path, capsys):
    path = tmp_path / "obs.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        sim.config.observations.load_observations(path, _grid())
    assert refused.value.key == key and refused.value.path == str(path)
    assert "observations[0]" in refused.value.message
    status, _, err = run_cli("calibrate", CONFIGS / "calibration_2024.toml", "--observations",
                             path, "--particles", "50", capsys=capsys)
    one_line_refusal(status, err, str(path), key)


@pytest.mark.parametrize(("text", "key"), [
    ("bias = 5\n", "bias"),
    (BIAS + _observation(reporter="mod").replace('"mod"', '["mod"]'),
     "observations[0].reporter"),
    (BIAS + _observation(reporter="mod").replace('"mod"', "{ x = 1 }"),
     "observations[0].reporter"),
])
def test_malformed_observation_files_are_one_line(text, key, tmp_path, capsys):
    path = tmp_path / "obs.toml"
    path.write_text(text)
    status, _, err = run_cli("calibrate", CONFIGS / "calibration_2024.toml", "--observations",
                             path, "--particles", "50", capsys=capsys)
    one_line_refusal(status, err, f"{path}: {key}:")


def test_two_reporters_on_one_window_are_independent_observations(tmp_path):
    path = tmp_path / "obs.toml"
    path.write_text(BIAS + _observation(reporter="mod") + _observation(reporter="general_staff")
                    + _observation())
    loaded = sim.config.observations.load_observations(path, _grid())
    assert [o.reporter for o in loaded.observations] == ["mod", "general_staff", ""]
    assert len({o.claim.label for o in loaded.observations}) == 3


def test_duplicate_observation_labels_areone_line_refusal(tmp_path):
    path = tmp_path / "obs.toml"
    path.write_text(_observation("March") + _observation("March", start="2024-05-01",
                                                         end="2024-06-01"))
    with pytest.raises(ConfigError) as refused:
        sim.config.observations.load_observations(path, _grid())
    assert refused.value.key == "observations[1].label"
    assert "observations[0]" in refused.value.message


TOTALS = [(dt.date(2024, 3, 1), dt.date(2024, 4, 1), 31_234.0),
          (dt.date(2024, 4, 1), dt.date(2024, 5, 1), 29_876.5)]


@given(reporter=st.text(min_size=1, max_size=24), source=st.text(max_size=60))
@example(reporter='a"b\nc', source='x"""\n[run]\nsamples = 5\n\\')
@example(reporter="general_staff", source="\x00\x1f\x7f\u2028\ud7ff")
def test_written_observations_read_back_for_any_reporter_or_source(
        tmp_path_factory, reporter, source):
    text = sim.config.observations.observations_toml(TOTALS, "casualties", 0.1, reporter, source)
    document = tomllib.loads(text)
    assert [row["reporter"] for row in document["observations"]] == [reporter] * 2
    assert all(row["source"] == source for row in document["observations"])
    path = tmp_path_factory.mktemp("obs") / "obs.toml"
    path.write_text(text, encoding="utf-8")
    loaded = sim.config.observations.load_observations(path, _grid())
    assert [o.claim.value for o in loaded.observations] == [31_234.0, 29_876.5]
    assert {o.reporter for o in loaded.observations} == {reporter}
    assert loaded.observations[0].claim.source == source
    assert loaded.observations[0].claim.start == dt.date(2024, 3, 1)
    header = text.split("\n\n", 1)[0].splitlines()
    assert len(header) == 2 and all(line.startswith("# ") for line in header)


def test_written_observations_stay_readable():
    text = sim.config.observations.observations_toml(TOTALS, "casualties", 0.1, "general_staff",
                                              "gs.json, monthly totals")
    assert text.startswith("# Monthly casualties built by `fiscal-sim observations` from "
                           "gs.json, monthly totals.\n")
    assert "[[observations]]\n" in text and "start = 2024-03-01\n" in text
    assert 'reporter = "general_staff"\n' in text


def _series():
    days = np.arange(np.datetime64("2024-11-01"), np.datetime64("2025-04-01"))
    return sim.config.observations.Series(days, np.arange(len(days), dtype=float), [])


@pytest.mark.parametrize(("first", "last", "words"), [
    (dt.date(2025, 6, 1), dt.date(2025, 1, 1), "first: 2025-06-01 is after last, 2025-01-01"),
    (dt.date(1, 1, 1), dt.date(1, 2, 1), "0001-01"),
    (dt.date(9999, 12, 1), dt.date(9999, 12, 31), "9999-12"),
])
def test_monthly_totals_refuse_impossible_months(first, last, words):
    with pytest.raises(UserError, match=re.escape(words)):
        sim.config.observations.monthly_totals(_series(), first, last)


def test_observations_command_at_the_calendar_edge_is_one_line(tmp_path, capsys):
    series = tmp_path / "s.csv"
    series.write_text("date,cumulative\n0001-01-01,1\n0001-01-02,2\n")
    status, _, err = run_cli("observations", series, "--from", "0001-01-01", "--to",
                             "0001-01-01", "--out", tmp_path / "o.toml", capsys=capsys)
    one_line_refusal(status, err, str(series))
    assert not (tmp_path / "o.toml").exists()


# ---------------------------------------------------------------- docs


def test_config_docs_state_the_limits():
    from sim.analysis.experiments import MAX_SCENARIOS
    from sim.config.scenario import MAX_EXTENDS, MAX_MONTHS
    from sim.core.timegrid import FIRST_DATE, LAST_DATE

    text = (REPO / "docs" / "config.md").read_text()
    for limit in (f"{MAX_MONTHS:,}", f"{MAX_EXTENDS} files", f"{MAX_SCENARIOS:,}", str(FIRST_DATE),
                  str(LAST_DATE), "--set", "label"):
        assert limit in text, limit
