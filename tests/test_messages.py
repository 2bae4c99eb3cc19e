"""What the command says (issue 15): the help a newcomer reads first, flag ranges that
agree with the checks behind them, sizes in readable units, the outcomes a refusal
offers, and numbers for people in the CLI's own tables."""

from __future__ import annotations

import re

import pytest

import sim
from sim import cli
from sim.analysis.sensitivity import check_sensitivity_memory, select_outcome
from sim.config.observations import read_series
from sim.config.scenario import MAX_SEED
from sim.errors import ResourceError, UserError
from sim.io import files

from .conftest import CONFIGS, minimal, one_line_refusal, run_cli, run_subprocess

BASELINE = CONFIGS / "baseline.toml"
CALIBRATION = CONFIGS / "calibration_2024.toml"
OBSERVATIONS = CONFIGS / "observations" / "gs_monthly_2024_2025.toml"

SCIENTIFIC = re.compile(r"\d\.?\d*e[+-]\d")
"""A number in scientific notation, as in ``1.75e-03`` or ``6.114e+05``."""


# ---------------------------------------------------------------- --help


def test_help_describes_the_tool_for_users():
    result = run_subprocess("--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "no numerics" not in text and "argument parsing" not in text  # developer note
    assert "Monte Carlo simulation" in text and "signing-bonus bill" in text
    for command in ("run", "sensitivity", "sweep", "report", "calibrate", "validate"):
        assert re.search(rf"^ +{command} +\S", text, re.MULTILINE), command  # name and purpose
    assert "fiscal-sim run configs/baseline.toml" in text  # an example
    assert "README.md" in text


# ---------------------------------------------------------------- integer and number flags


@pytest.mark.parametrize(("argv", "expected"), [
    (["run", BASELINE, "--samples", "-5"], "--samples: expected an integer >= 1, got '-5'"),
    (["run", BASELINE, "--samples", "0"], "--samples: expected an integer >= 1, got '0'"),
    (["run", BASELINE, "--samples", "lots"], "--samples: expected an integer >= 1, got 'lots'"),
    (["run", BASELINE, "--seed", "-1"], "--seed: expected an integer in [0, 2^63 - 1], got '-1'"),
    (["run", BASELINE, "--seed", str(MAX_SEED + 1)], "--seed: expected an integer in [0, 2^63"),
    (["run", BASELINE, "--workers", "-3"], "--workers: expected an integer in [1, 1024], got"),
    (["run", BASELINE, "--workers", "2000"], "--workers: expected an integer in [1, 1024]"),
    (["run", BASELINE, "--chunk-samples", "0"], "--chunk-samples: expected an integer >= 1"),
    (["compare", BASELINE, "--samples", "-5"], "--samples: expected an integer >= 1, got '-5'"),
    (["breakeven", BASELINE, "--samples", "-5"], "--samples: expected an integer >= 1"),
    (["sensitivity", BASELINE, "--outcome", "force_change_persons", "--samples", "-4"],
     "--samples: expected a power of two >= 2 such as 1024 or 4096, got '-4'"),
    (["sensitivity", BASELINE, "--outcome", "force_change_persons", "--samples", "100"],
     "--samples: expected a power of two >= 2"),
    (["calibrate", CALIBRATION, "--observations", OBSERVATIONS, "--particles", "1"],
     "--particles: expected at least 2 particles (an integer), got '1'"),
    (["calibrate", CALIBRATION, "--observations", OBSERVATIONS, "--moves", "0"],
     "--moves: expected an integer in [1, 1000], got '0'"),
    (["backtest", CALIBRATION, "--observations", OBSERVATIONS, "--cutoff", "2025-01-01",
      "--horizon", "-1"], "--horizon: expected an integer >= 1, got '-1'"),
    (["observations", "series.csv", "--from", "2025-01-01", "--to", "2025-02-01", "--out",
      "o.toml", "--log-sd", "nan"], "--log-sd: expected a finite number > 0, got 'nan'"),
    (["discover", "r.nc", "--where", "force_change_persons < 0", "--min-density", "1.5"],
     "--min-density: expected a number in (0, 1], got '1.5'"),
])
def test_a_flag_out_of_range_names_the_range_it_accepts(argv, expected, capsys):
    status, out, err = run_cli(*argv, capsys=capsys)
    one_line_refusal(status, err, expected)
    assert out == ""


@pytest.mark.parametrize(("argv", "flag", "value"), [
    (["run", "c.toml"], "--samples", 1),
    (["run", "c.toml"], "--seed", 0),
    (["run", "c.toml"], "--seed", MAX_SEED),
    (["run", "c.toml"], "--workers", cli.MAX_WORKERS),
    (["sensitivity", "c.toml", "--outcome", "x"], "--samples", 2),
    (["calibrate", "c.toml", "--observations", "o.toml"], "--particles", 2),
    (["calibrate", "c.toml", "--observations", "o.toml"], "--moves", 1000),
])
def test_the_bounds_a_flag_names_are_accepted(argv, flag, value):
    args = cli.build_parser().parse_args([*argv, flag, f"{value:_}"])
    assert getattr(args, flag[2:]) == value


def test_the_library_accepts_what_the_flags_accept():
    scenario = sim.load_scenario(BASELINE)
    assert scenario.with_run(samples=1, seed=MAX_SEED).seed == MAX_SEED
    assert scenario.with_run(seed=0).seed == 0


def test_integer_flags_agree_in_a_subprocess():
    result = run_subprocess("run", BASELINE, "--samples", "-5")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == ("fiscal-sim run: error: argument --samples: expected an "
                                     "integer >= 1, got '-5'")


# ---------------------------------------------------------------- sizes


def test_max_memory_too_small_says_how_much_in_readable_units(capsys):
    status, _, err = run_cli("run", BASELINE, "--max-memory", "1M", capsys=capsys)
    line = one_line_refusal(status, err, "but 1.0 MiB is available", "MiB before any results")
    assert "0.0 GiB" not in line and "0.0" not in line.replace("1.0 MiB", "")


def test_max_memory_too_small_for_a_streaming_run(tmp_path, capsys):
    out = tmp_path / "r.zarr"
    status, _, err = run_cli("run", BASELINE, "--max-memory", "1M", "--out", out,
                             capsys=capsys)
    line = one_line_refusal(status, err, "a streaming run needs", "but 1.0 MiB is allowed")
    assert "GiB" not in line and not out.exists()


def test_memory_refusal_uses_the_probe(monkeypatch, capsys):
    monkeypatch.setattr(sim.io, "available_memory_bytes", lambda: 3 * 2**20)
    status, _, err = run_cli("run", BASELINE, capsys=capsys)
    one_line_refusal(status, err, "but 3.0 MiB is available")


def test_sensitivity_memory_refusal_in_readable_units():
    scenario = sim.load_scenario(BASELINE)
    outcome = select_outcome(scenario, "force_change_persons")
    with pytest.raises(ResourceError) as refused:
        check_sensitivity_memory(scenario, 2**20, outcome, available_bytes=2**10)
    message = str(refused.value)
    assert "but 1.0 KiB is available" in message and "not even 2 fit" in message
    assert not re.search(r"\b0\.0 [KMG]iB", message)


def test_input_file_size_limit_in_readable_units(tmp_path):
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (files.MAX_TEXT_BYTES + 2**20))
    problem = files.regular_file_problem(big)
    assert problem == "file is 17.0 MiB; input files are limited to 16.0 MiB"


# ---------------------------------------------------------------- the memory probe


def test_available_memory_comes_from_psutil(monkeypatch):
    import psutil

    class Memory:
        available = 123_456_789

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Memory())
    assert files.available_memory_bytes() == 123_456_789


def test_available_memory_is_a_positive_number_of_bytes():
    available = sim.io.available_memory_bytes()
    assert isinstance(available, int) and available > 2**20


# ---------------------------------------------------------------- --outcome


def test_unknown_outcome_lists_what_is_accepted(capsys):
    status, _, err = run_cli("sensitivity", BASELINE, "--outcome", "nonsense", "--samples", "16",
                             capsys=capsys)
    line = one_line_refusal(status, err, "--outcome: unknown output 'nonsense'; expected one of: ")
    per_sample, _, over_time = line.partition(" or, with --time, ")
    assert "force_change_persons" in per_sample and "(one value per sample)" in per_sample
    assert "bonus_spend_usd_per_day_mean" in per_sample
    assert "bonus_spend_usd_per_day," in over_time and "force_persons" in over_time
    assert "force_change_persons" not in over_time


def test_misspelt_outcome_suggests_the_closest(capsys):
    status, _, err = run_cli("sensitivity", BASELINE, "--outcome", "force_change",
                             "--samples", "16", capsys=capsys)
    one_line_refusal(status, err, "(did you mean 'force_change_persons'?)", "expected one of: ")


# ---------------------------------------------------------------- the CLI's own tables


def test_unseparable_pairs_are_capped():
    pairs = [{"a": f"p{i}", "b": f"q{i}", "rank_correlation": 0.99} for i in range(25)]
    text = cli.pairs_text(pairs)
    assert "p0 and q0 (+0.99)" in text and f"p{cli.PAIRS_SHOWN - 1} and" in text
    assert f"p{cli.PAIRS_SHOWN} and" not in text
    assert f"and {25 - cli.PAIRS_SHOWN} more" in text
    assert "more" not in cli.pairs_text(pairs[:2])


def test_calibrate_prints_no_scientific_notation(capsys):
    status, out, err = run_cli("calibrate", CALIBRATION, "--observations", OBSERVATIONS,
                               "--particles", 64, "--method", "importance", capsys=capsys)
    assert status == 0, err
    assert not SCIENTIFIC.search(out), SCIENTIFIC.search(out)
    assert "effective sample size per stage" in out
    prior = out.split("Prior against posterior")[1].split("\n\n")[0]
    row = next(line for line in prior.splitlines() if line.startswith("force.other_exit_rate"))
    assert "0.004" in row and "%" in row  # a small rate in full; narrowing in percent
    assert err.count("particles collapsed") <= 1  # the warning once, on stderr
    assert "WARNING" not in out


# ---------------------------------------------------------------- config and series refusals


def test_bonus_jump_refusal_shows_amounts_for_people(write_config, capsys):
    config = minimal(recruitment={"bonus_elasticity": 3.0}, bonus={"regional_rub": {
        "schedule": {"2025-01-01": 1_100_000, "2025-03-01": 1e14}}})
    status, _, err = run_cli("validate", write_config(config), capsys=capsys)
    line = one_line_refusal(status, err, "recruitment.bonus_elasticity",
                            "can reach 1.5M to 100trn RUB against 1.5M to 1.5M at time.start",
                            "more than 10^12-fold")
    assert not SCIENTIFIC.search(line), line


def test_growth_refusal_says_the_bound_without_scientific_notation(write_config, capsys):
    config = minimal(time={"months": 600}, bonus={"regional_growth": 5.0})
    status, _, err = run_cli("validate", write_config(config), capsys=capsys)
    line = one_line_refusal(status, err, "time.months", "more than 10^12-fold")
    assert "1e+12" not in line


def test_prior_outside_its_domain_shows_where_it_reaches(write_config, capsys):
    config = minimal(force={"initial_persons": "-5_000_000 to 2_000_000"})
    status, _, err = run_cli("validate", write_config(config), capsys=capsys)
    line = one_line_refusal(status, err, "force.initial_persons", "reaches -14.2624M to 11.2624M")
    assert "e+06 to" not in line.split("reaches")[1]


def test_prior_and_domain_in_a_refusal_read_without_exponents(write_config, capsys):
    config = minimal(recruitment={"per_month": {"dist": "uniform", "low": -5e6, "high": 1e6}})
    status, _, err = run_cli("validate", write_config(config), capsys=capsys)
    line = one_line_refusal(status, err, "recruitment.per_month", "in [0, 1000trn]",
                            "uniform(low=-5000000, high=1000000)")
    assert not SCIENTIFIC.search(line), line


def test_a_fixed_value_outside_its_domain_is_named_once(write_config, capsys):
    config = minimal(recruitment={"per_month": 2e16})
    status, _, err = run_cli("validate", write_config(config), capsys=capsys)
    line = one_line_refusal(status, err, "recruitment.per_month",
                            "but 20000000000000000 is outside")
    assert "reaches" not in line and not SCIENTIFIC.search(line), line


def test_decreasing_series_row_shows_both_values_in_full(tmp_path):
    series = tmp_path / "series.csv"
    series.write_text("date,cumulative\n2025-01-01,1500000\n2025-01-02,1499999\n")
    with pytest.raises(UserError) as refused:
        read_series(series)
    assert str(refused.value) == (f"{series}: row 3: cumulative value 1499999 on 2025-01-02 is "
                                  "below 1500000 on 2025-01-01; a cumulative series never "
                                  "decreases")


@pytest.mark.parametrize("outcome", ["first_cut_date", "first_stress_date"])
def test_an_outcome_that_is_nan_by_design_is_refused(outcome, capsys):
    status, _, err = run_cli("sensitivity", str(CONFIGS / "baseline.toml"), "--outcome",
                             outcome, "--samples", "64", capsys=capsys)
    line = one_line_refusal(status, err, "--outcome", f"{outcome} is NaN in the samples",
                            "use ")
    assert "runway" in line
