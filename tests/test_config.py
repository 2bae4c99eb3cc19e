"""Config loading: extends, overrides, validation, and every bad input -> exit 2, one line."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from sim import load_scenario
from sim.errors import ConfigError

from .conftest import CONFIGS, minimal, run_cli, run_subprocess, to_toml


def test_shipped_configs_load_and_every_uncertain_prior_cites_a_source():
    for path in sorted(CONFIGS.glob("*.toml")):
        scenario = load_scenario(path)
        for key, prior in scenario.priors.items():
            if not prior.is_fixed:
                assert prior.source, f"{path.name}: {key} has no source"


def test_baseline_is_the_best_evidence():
    scenario = load_scenario(CONFIGS / "baseline.toml")
    assert scenario.grid.start == dt.date(2025, 1, 1) and scenario.grid.n_steps == 24
    # Medvedev's 4 totals, 5 force estimates, Re:Russia's 3 items, Kluge's 3, the General
    # Staff's, the regional bonus after the cuts; 5 of them set a prior
    assert len(scenario.claims) == 17
    assert sum(c.used_for == "prior" for c in scenario.claims) == 5
    recruits = scenario.priors["recruitment.per_month"]
    assert recruits.quantile(0.05) == pytest.approx(31_000)
    assert recruits.quantile(0.95) == pytest.approx(40_000)


def test_seed_article_keeps_the_seed_articles_figures():
    scenario = load_scenario(CONFIGS / "seed_article.toml")
    assert len(scenario.claims) == 4  # Kelin's two, the General Staff's, Kluge's $24M
    assert [c.used_for for c in scenario.claims].count("prior") == 1  # Kelin's ~600k
    recruits = scenario.priors["recruitment.per_month"]
    assert recruits.quantile(0.05) == pytest.approx(50_000)
    assert recruits.quantile(0.95) == pytest.approx(60_000)


def test_extends_inherits_and_overrides():
    official = load_scenario(CONFIGS / "official.toml")
    baseline = load_scenario(CONFIGS / "baseline.toml")
    assert official.priors["recruitment.per_month"].params["high"] == 37_500
    assert official.priors["losses.per_month"] == baseline.priors["losses.per_month"]
    assert [p.rsplit("/", 1)[-1] for p in official.files] == ["official.toml", "baseline.toml"]
    # A child without [[claims]] inherits its parent's (official.toml gives its own list)
    correlated = load_scenario(CONFIGS / "correlated.toml")
    independent = load_scenario(CONFIGS / "independent.toml")
    assert correlated.claims == independent.claims
    assert [c.label for c in official.claims] == [c.label for c in baseline.claims]


def test_set_overrides_use_toml_value_syntax(write_config):
    path = write_config(minimal())
    scenario = load_scenario(path, ["recruitment.per_month=40000 to 55000",
                                    "time.start=2025-03-01", "run.samples=3",
                                    'losses.per_month={dist="uniform",low=1,high=2}'])
    assert scenario.priors["recruitment.per_month"].quantile(0.95) == pytest.approx(55_000)
    assert scenario.grid.start == dt.date(2025, 3, 1) and scenario.samples == 3
    assert scenario.priors["losses.per_month"].family == "uniform"


def test_defaults_fill_optional_keys(write_config):
    scenario = load_scenario(write_config(minimal()))
    assert scenario.priors["recruitment.shock_sd"].params == {"value": 0.0}
    assert scenario.loss_mode == "absolute" and "losses.monthly_rate" not in scenario.priors


def _claim(**kw):
    base = {"quantity": "recruits", "start": dt.date(2025, 1, 1), "end": dt.date(2025, 3, 1),
            "value": 1.0, "unit": "persons"}
    base.update(kw)
    return [base]


# (config or raw text, expected key in the message, expected words)
BAD_CONFIGS = {
    "unknown section": (minimal(recruitmnt={"per_month": 1}), "recruitmnt",
                        "did you mean 'recruitment'"),
    "unknown key": (minimal(recruitment={"per_mnth": 1}), "recruitment.per_mnth",
                    "did you mean 'per_month'"),
    "wrong type": (minimal(time={"months": "six"}), "time.months", "integer >= 1"),
    "wrong prior type": (minimal(recruitment={"per_month": True}), "recruitment.per_month",
                         "must be a number"),
    "section not a table": ({**minimal(), "force": 3}, "force", "expected a [force] table"),
    "missing required": (minimal(force={"initial_persons": None}), "force.initial_persons",
                         "missing required value"),
    "low > high": (minimal(recruitment={"per_month": "60000 to 50000"}),
                   "recruitment.per_month", "low < high"),
    "non-positive range end": (minimal(force={"initial_persons": "0 to 600000"}),
                               "force.initial_persons", "expected values > 0"),
    "share above one": (minimal(losses={"killed_share": {"dist": "uniform", "low": 0.5,
                                                          "high": 1.2}}),
                        "losses.killed_share", "in [0, 1]"),
    "shares can exceed one": (minimal(losses={
        "killed_share": {"dist": "uniform", "low": 0.4, "high": 0.6},
        "missing_share": {"dist": "uniform", "low": 0.3, "high": 0.5}}),
        "losses.missing_share", "must not exceed 1"),
    "unknown distribution": (minimal(recruitment={"per_month": {"dist": "gamma", "k": 2}}),
                             "recruitment.per_month", "dist must be one of"),
    "bad date": (minimal(time={"start": "2025-13-01"}), "time.start", "YYYY-MM-DD"),
    "zero horizon": (minimal(time={"months": 0}), "time.months", "integer >= 1"),
    "zero samples": (minimal(run={"samples": 0}), "run.samples", "integer >= 1"),
    "negative seed": (minimal(run={"seed": -1}), "run.seed", "[0, 2^63 - 1]"),
    "bad step": (minimal(time={"step": "week"}), "time.step", "month, day"),
    "bad loss mode": (minimal(losses={"mode": "relative"}), "losses.mode", "absolute"),
    "proportional without rate": (minimal(losses={"mode": "proportional"}),
                                  "losses.monthly_rate", "missing required value"),
    "non-finite": ("[force]\ninitial_persons = inf\n", "force.initial_persons", "finite"),
    "nan in table": (minimal(fx={"rub_per_usd": {"dist": "normal", "mean": float("nan"),
                                                 "sd": 1}}), "fx.rub_per_usd", "finite"),
    "toml syntax": ("[force\ninitial_persons = 1\n", "", "TOML syntax error"),
    "claim unknown quantity": (minimal(claims=_claim(quantity="tanks")), "claims[0].quantity",
                               "expected one of"),
    "claim wrong unit": (minimal(claims=_claim(unit="USD")), "claims[0].unit",
                         "expected 'persons'"),
    "claim outside horizon": (minimal(claims=_claim(end=dt.date(2027, 1, 1))),
                              "claims[0].start", "within the horizon"),
    "claim missing date": (minimal(claims=[{"quantity": "force", "value": 1.0}]),
                           "claims[0].date", "need date"),
    "claim bad statistic": (minimal(claims=_claim(statistic="at")), "claims[0].statistic",
                            "total or per_day"),
}


def _write_bad(tmp_path, spec) -> str:
    path = tmp_path / "bad.toml"
    if isinstance(spec, dict):
        text = to_toml({s: ({k: v for k, v in t.items() if v is not None}
                            if isinstance(t, dict) else t) for s, t in spec.items()})
    else:
        text = spec
    path.write_text(text)
    return str(path)


def _assert_refused(status, out, err, tmp_path, *words):
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert "Traceback" not in err
    assert not (tmp_path / "out.nc").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.nc")]


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_bad_config_exits_2_with_one_line_and_no_output(case, tmp_path, capsys):
    spec, key, words = BAD_CONFIGS[case]
    path = _write_bad(tmp_path, spec)
    status, out, err = run_cli("run", path, "--out", tmp_path / "out.nc", capsys=capsys)
    _assert_refused(status, out, err, tmp_path, path, key, words)
    status, _, err = run_cli("validate", path, capsys=capsys)
    assert status == 2 and words in err


def test_extends_missing_parent(tmp_path, capsys):
    path = tmp_path / "child.toml"
    path.write_text('extends = "nowhere.toml"\n')
    status, out, err = run_cli("run", path, "--out", tmp_path / "out.nc", capsys=capsys)
    _assert_refused(status, out, err, tmp_path, str(path), "extends", "does not exist")


def test_extends_cycle(tmp_path, capsys):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    status, out, err = run_cli("run", tmp_path / "a.toml", "--out", tmp_path / "out.nc",
                               capsys=capsys)
    _assert_refused(status, out, err, tmp_path, "extends", "cycle")


@pytest.mark.parametrize(("content", "words"), [
    (None, "file not found"),
    ("", "file is empty"),
    (b"\xff\xfe[run]", "not UTF-8"),
    ("dir", "expected a file"),
])
def test_missing_empty_unreadable_file(content, words, tmp_path, capsys):
    path = tmp_path / "config.toml"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    status, out, err = run_cli("run", path, "--out", tmp_path / "out.nc", capsys=capsys)
    _assert_refused(status, out, err, tmp_path, str(path), words)


def test_set_naming_no_key(write_config, tmp_path, capsys):
    path = write_config(minimal())
    status, out, err = run_cli("run", path, "--set", "recruitment.per_mnth=3", "--out",
                               tmp_path / "out.nc", capsys=capsys)
    _assert_refused(status, out, err, tmp_path, "--set", "recruitment.per_mnth",
                    "did you mean 'per_month'")
    status, out, err = run_cli("run", path, "--set", "nonsense", capsys=capsys)
    assert status == 2 and "section.key=VALUE" in err


def test_set_with_bad_value_names_the_key(write_config, tmp_path, capsys):
    path = write_config(minimal())
    status, out, err = run_cli("run", path, "--set", "losses.killed_share=2", "--out",
                               tmp_path / "out.nc", capsys=capsys)
    _assert_refused(status, out, err, tmp_path, "losses.killed_share", "in [0, 1]")


@pytest.mark.parametrize("flag", [["--samples", "0"], ["--seed", "-3"], ["--samples", "x"]])
def test_bad_cli_flags(flag, write_config, tmp_path, capsys):
    status, out, err = run_cli("run", write_config(minimal()), *flag, "--out",
                               tmp_path / "out.nc", capsys=capsys)
    _assert_refused(status, out, err, tmp_path, flag[0])


def test_unwritable_output_path(write_config, tmp_path, capsys):
    path = write_config(minimal())
    status, _, err = run_cli("run", path, "--out", tmp_path / "no" / "such" / "out.nc",
                             capsys=capsys)
    assert status == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1
    status, _, err = run_cli("run", path, "--out", tmp_path, capsys=capsys)
    assert status == 2 and "is a directory" in err


def test_run_too_large_for_memory_refuses_and_says_what_fits(write_config, tmp_path, capsys):
    path = write_config(minimal())
    status, out, err = run_cli("run", path, "--samples", 10**12, "--out", tmp_path / "out.nc",
                               capsys=capsys)
    _assert_refused(status, out, err, tmp_path, "run.samples", "GiB", "samples fit")
    fit = int(re.search(r"at most (\d+) samples fit", err).group(1))
    assert 0 < fit < 10**12


def test_no_traceback_from_a_real_process(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[force]\ninitial_persons = -5\n")
    result = run_subprocess("run", path, "--out", tmp_path / "out.nc")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "force.initial_persons" in result.stderr
    assert not (tmp_path / "out.nc").exists()


def test_config_error_carries_file_and_key():
    error = ConfigError("a.toml", "x.y", "bad")
    assert str(error) == "a.toml: x.y: bad" and error.exit_status == 2
