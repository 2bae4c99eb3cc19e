"""Bad input is one line naming its real source, exit 2: configs, --set, sweeps, observations."""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sim
from sim.analysis.experiments import MAX_SCENARIOS, load_sweep, run_experiments
from sim.config.observations import load_observations, observations_toml
from sim.config.scenario import MAX_EXTENDS, MAX_MONTHS, ConfigError, load_scenario
from sim.core.timegrid import build_time_grid
from sim.errors import ResourceError

from .conftest import CONFIGS, minimal, run_cli, to_toml


def _one_line(status: int, err: str, *words: str) -> None:
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])


# ---------------------------------------------------------------- extends


def test_long_extends_chain_is_refused_without_recursion(tmp_path, capsys):
    (tmp_path / "c0.toml").write_text(to_toml(minimal()))
    for i in range(1, 1200):
        (tmp_path / f"c{i}.toml").write_text(f'extends = "c{i - 1}.toml"\n')
    status, _, err = run_cli("validate", tmp_path / "c1199.toml", capsys=capsys)
    _one_line(status, err, "extends", f"longer than {MAX_EXTENDS}")


def test_chain_within_the_cap_merges(tmp_path):
    (tmp_path / "c0.toml").write_text(to_toml(minimal()))
    for i in range(1, 10):
        (tmp_path / f"c{i}.toml").write_text(
            f'extends = "c{i - 1}.toml"\n[recruitment]\nper_month = {40_000 + i}\n')
    scenario = load_scenario(tmp_path / "c9.toml")
    assert scenario.priors["recruitment.per_month"].params["value"] == 40_009
    assert len(scenario.files) == 10


@pytest.mark.parametrize(("target", "word"), [("folder", "directory"), ("/dev/zero", "regular"),
                                              ("fifo", "FIFO")])
def test_extends_names_what_the_parent_is(tmp_path, capsys, target, word):
    if target == "folder":
        (tmp_path / "folder").mkdir()
    elif target == "fifo":
        import os

        os.mkfifo(tmp_path / "fifo")
    (tmp_path / "child.toml").write_text(f'extends = "{target}"\n')
    status, _, err = run_cli("validate", tmp_path / "child.toml", capsys=capsys)
    _one_line(status, err, "extends", word)


def test_symlink_loop_as_parent(tmp_path, capsys):
    (tmp_path / "loop.toml").symlink_to(tmp_path / "loop.toml")
    (tmp_path / "child.toml").write_text('extends = "loop.toml"\n')
    status, _, err = run_cli("validate", tmp_path / "child.toml", capsys=capsys)
    _one_line(status, err, "child.toml")


# ---------------------------------------------------------------- horizons


@pytest.mark.parametrize(("time", "words"), [
    ({"start": dt.date(9999, 12, 31)}, ("time.months", "9998")),
    ({"months": 1_000_000_000}, ("time.months", str(MAX_MONTHS))),
    ({"months": 10_000}, ("time.months", str(MAX_MONTHS))),
])
def test_horizons_out_of_range_are_refused(write_config, capsys, time, words):
    status, _, err = run_cli("validate", write_config(minimal(time=time)), capsys=capsys)
    _one_line(status, err, *words)


def test_growth_that_would_overflow_names_the_largest_horizon(write_config, capsys):
    config = minimal(time={"months": 600}, bonus={"regional_growth": 5.0})
    status, _, err = run_cli("validate", write_config(config), capsys=capsys)
    largest = int(12 * math.log(1e12) / math.log1p(5.0))
    _one_line(status, err, "bonus and pay growth", f"{largest} months")
    config = minimal(time={"months": largest}, bonus={"regional_growth": 5.0})
    status, _, err = run_cli("validate", write_config(config), capsys=capsys)
    assert status == 0, err


@given(months=st.integers(1, 1300), growth=st.floats(0.0, 10.0),
       drift=st.floats(-10.0, 10.0), eps=st.floats(-3.0, 3.0))
def test_accepted_horizons_give_finite_outputs(tmp_path_factory, months, growth, drift, eps):
    """Either the loader refuses the horizon in one line, or every output is finite."""
    config = minimal(time={"months": months}, bonus={"regional_growth": growth},
                     fx={"drift": drift}, recruitment={"bonus_elasticity": eps})
    path = tmp_path_factory.mktemp("h") / "c.toml"
    path.write_text(to_toml(config))
    try:
        scenario = load_scenario(path)
    except ConfigError as error:
        assert error.key == "time.months" and "\n" not in str(error)
        return
    ds = sim.simulate(scenario, samples=2)
    for name, variable in ds.data_vars.items():
        if variable.dtype.kind == "f":
            assert np.isfinite(variable.values).all(), name


def test_credibility_without_a_finite_interval(write_config, capsys):
    config = minimal(fx={"rub_per_usd": {"dist": "range", "low": 80, "high": 90,
                                         "credibility": 1e-300}})
    status, _, err = run_cli("validate", write_config(config), capsys=capsys)
    _one_line(status, err, "fx.rub_per_usd", "credibility")


# ---------------------------------------------------------------- claims and --set


def test_duplicate_claim_labels(write_config, capsys):
    claim = {"quantity": "force", "date": dt.date(2025, 3, 1), "value": 600_000,
             "unit": "persons", "label": "same"}
    status, _, err = run_cli("validate", write_config(minimal(claims=[claim, dict(claim)])),
                             capsys=capsys)
    _one_line(status, err, "claims[1].label", "claims[0]")
    unlabelled = {k: v for k, v in claim.items() if k != "label"}
    status, _, err = run_cli("validate", write_config(minimal(claims=[unlabelled,
                                                                      dict(unlabelled)])),
                             capsys=capsys)
    _one_line(status, err, "claims[1].label")


@pytest.mark.parametrize(("setting", "key"), [("run.samples=-1", "run.samples"),
                                              ('recruitment.per_month="abc"',
                                               "recruitment.per_month")])
def test_set_errors_are_blamed_on_set(capsys, setting, key):
    status, _, err = run_cli("run", CONFIGS / "baseline.toml", "--set", setting,
                             capsys=capsys)
    _one_line(status, err, f"--set: {key}")
    assert "baseline.toml" not in err


def test_set_value_with_a_newline_is_refused(capsys):
    status, _, err = run_cli("validate", CONFIGS / "baseline.toml", "--set",
                             "run.samples=5\nrun.seed=7", capsys=capsys)
    _one_line(status, err, "--set", "one line")


def test_flags_are_named_not_the_config(capsys):
    status, _, err = run_cli("run", CONFIGS / "baseline.toml", "--design", "sobol",
                             "--samples", "1000", capsys=capsys)
    _one_line(status, err, "--samples", "512 or 1024")
    assert "baseline.toml" not in err


# ---------------------------------------------------------------- sweeps


def _sweep(tmp_path, text: str):
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return path


def test_sweep_base_of_the_wrong_type(tmp_path, capsys):
    status, _, err = run_cli("sweep", _sweep(tmp_path, "base = 5\n[factors]\n"
                                             '"bonus.regional_growth" = [0.0]\n'),
                             capsys=capsys)
    _one_line(status, err, "sweep.toml", "base")


def test_sweep_missing_config_names_the_sweep_file(tmp_path, capsys):
    status, _, err = run_cli("sweep", _sweep(tmp_path, 'configs = ["nope.toml"]\n'),
                             capsys=capsys)
    _one_line(status, err, "sweep.toml", "configs[0]", "nope.toml")


def test_sweep_run_settings_are_blamed_on_the_sweep_file(tmp_path, capsys):
    text = (f'base = "{CONFIGS / "baseline.toml"}"\n[run]\nsamples = -1\n[factors]\n'
            '"bonus.regional_growth" = [0.0, 0.1]\n')
    status, _, err = run_cli("sweep", _sweep(tmp_path, text), capsys=capsys)
    _one_line(status, err, "sweep.toml", "run.samples")
    assert "baseline.toml" not in err


def test_scenario_config_is_not_a_sweep_file(capsys):
    status, _, err = run_cli("sweep", CONFIGS / "baseline.toml", capsys=capsys)
    _one_line(status, err, "not a sweep file")


def test_combinations_are_counted_before_expansion(tmp_path, capsys):
    values = ", ".join(str(i / 1000) for i in range(1000))
    text = (f'base = "{CONFIGS / "baseline.toml"}"\n[factors]\n'
            f'"bonus.regional_growth" = [{values}]\n"bonus.federal_growth" = [{values}]\n'
            f'"pay.growth" = [{values}]\n')
    status, _, err = run_cli("sweep", _sweep(tmp_path, text), capsys=capsys)
    _one_line(status, err, "factors", "1,000,000,000", f"{MAX_SCENARIOS:,}")


def test_sweep_that_would_not_fit_is_refused_with_what_fits(tmp_path):
    experiments = load_sweep(CONFIGS / "sweeps" / "bonus_escalation.toml")
    with pytest.raises(ResourceError, match="at most") as refused:
        run_experiments(experiments, available_bytes=2**20, source="sweep.toml")
    message = str(refused.value)
    assert "\n" not in message and "9 scenarios" in message
    fit = int(message.split("at most ")[1].split()[0])
    small = [replace(e, scenario=e.scenario.with_run(samples=max(1, fit))) for e in experiments]
    assert fit >= 0
    if fit:  # the figure given does fit (the same estimate)
        from sim.analysis.experiments import sweep_memory_bytes

        assert sweep_memory_bytes(small) <= 2**20


# ---------------------------------------------------------------- observations


def _grid():
    return build_time_grid(dt.date(2024, 1, 1), 24, "month")


def _observation(label: str, reporter: str = "") -> str:
    text = (f'[[observations]]\nlabel = "{label}"\nquantity = "casualties"\n'
            "start = 2024-03-01\nend = 2024-04-01\nvalue = 30000\nlog_sd = 0.1\n")
    return text + (f'reporter = "{reporter}"\n' if reporter else "")


def test_same_window_twice_is_refused(tmp_path):
    path = tmp_path / "obs.toml"
    path.write_text(_observation("a") + _observation("b"))
    with pytest.raises(ConfigError, match=r"observations\[1\].*observations\[0\]"):
        load_observations(path, _grid())


def test_same_window_from_two_reporters_is_kept(tmp_path):
    path = tmp_path / "obs.toml"
    path.write_text('[bias]\nx = 1.0\ny = 1.0\n' + _observation("a", "x")
                    + _observation("b", "y"))
    assert len(load_observations(path, _grid()).observations) == 2


def test_duplicate_observation_labels(tmp_path):
    path = tmp_path / "obs.toml"
    text = _observation("a") + _observation("a").replace("2024-03-01", "2024-05-01").replace(
        "2024-04-01", "2024-06-01")
    path.write_text(text)
    with pytest.raises(ConfigError, match="label"):
        load_observations(path, _grid())


@given(reporter=st.text(min_size=1, max_size=20), source=st.text(max_size=40))
def test_written_observations_are_valid_toml(tmp_path_factory, reporter, source):
    """Any reporter or source text round-trips through the writer and the loader."""
    totals = [(dt.date(2024, 3, 1), dt.date(2024, 4, 1), 31_234.0)]
    text = observations_toml(totals, "casualties", 0.1, reporter, source)
    document = tomllib.loads(text)
    assert document["observations"][0]["reporter"] == reporter
    assert document["observations"][0]["source"] == source
    path = tmp_path_factory.mktemp("o") / "obs.toml"
    path.write_text(text)
    loaded = load_observations(path, _grid())
    assert loaded.observations[0].reporter == reporter
    assert loaded.observations[0].claim.value == 31_234


@pytest.mark.parametrize(("flags", "words"), [
    (("--from", "2025-03-01", "--to", "2025-01-01"), ("--from", "after")),
    (("--from", "2025-01-01", "--to", "2025-02-01", "--log-sd", "nan"), ("--log-sd",)),
    (("--from", "2025-01-01", "--to", "2025-02-01", "--reporter", 'a"b\nc'),
     ("--reporter",)),
])
def test_observations_command_checks_its_flags(tmp_path, capsys, flags, words):
    series = tmp_path / "s.csv"
    days = np.arange(np.datetime64("2024-11-01"), np.datetime64("2025-04-01"))
    series.write_text("date,cumulative\n" + "".join(f"{d},{i}\n" for i, d in enumerate(days)))
    status, _, err = run_cli("observations", series, *flags, "--out", tmp_path / "o.toml",
                             capsys=capsys)
    _one_line(status, err, *words)
    assert not (tmp_path / "o.toml").exists()
