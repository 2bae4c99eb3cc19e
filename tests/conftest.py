"""Shared fixtures and helpers: minimal configs written from dicts, CLI runner."""

from __future__ import annotations

import copy
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, settings

import sim
from sim.cli import main

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"

# derandomize: the same examples on every run, so CI results are reproducible; the
# "thorough" profile (HYPOTHESIS_PROFILE=thorough) explores 500 fresh examples per test.
settings.register_profile(
    "ci", max_examples=40, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile("thorough", parent=settings.get_profile("ci"), max_examples=500,
                          derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# A complete config with every prior fixed: deterministic, easy to compute by hand.
MINIMAL = {
    "run": {"samples": 8, "seed": 1},
    "time": {"start": dt.date(2025, 1, 1), "months": 6, "step": "month"},
    "force": {"initial_persons": 600_000},
    "recruitment": {"per_month": 40_000},
    "losses": {"per_month": 35_000, "killed_share": 0.25, "missing_share": 0.10,
               "return_to_duty_share": 0.5, "recovery_months": 3.0},
    "bonus": {"federal_rub": 400_000, "regional_rub": 1_100_000},
    "fx": {"rub_per_usd": 85.0},
    "pay": {"monthly_rub": 230_000},
    "compensation": {"per_killed_rub": 12e6, "per_wounded_rub": 3e6},
    "budget": {"defense_rub": 13.49e12, "federal_spending_rub": 42.93e12,
               "gdp_rub": 213.5e12, "nwf_liquid_rub": 3.81e12},
}


def minimal(**sections) -> dict:
    """A deep copy of `MINIMAL` with sections updated key by key."""
    config = copy.deepcopy(MINIMAL)
    for name, table in sections.items():
        if isinstance(table, dict):
            config.setdefault(name, {}).update(table)
        else:
            config[name] = table
    return config


def to_toml(config: dict) -> str:
    """Render a config dict as a TOML document."""
    return tomli_w.dumps(config)


@pytest.fixture(scope="session")
def baseline_run_400():
    """The baseline at 400 samples, seed 1, built once per worker (figure tests); tests
    must not modify it (use ``.copy()``)."""
    return sim.simulate(sim.load_scenario(CONFIGS / "baseline.toml"), samples=400, seed=1)


@pytest.fixture(scope="session")
def baseline_summary_400():
    """`baseline_run_400` kept as ``--keep summary``."""
    return sim.simulate(sim.load_scenario(CONFIGS / "baseline.toml"), samples=400, seed=1,
                        keep="summary")


@pytest.fixture
def write_config(tmp_path):
    """Write a config dict (or raw text) to a TOML file and return its path."""

    def write(config: dict | str, name: str = "scenario.toml") -> Path:
        path = tmp_path / name
        path.write_text(config if isinstance(config, str) else to_toml(config))
        return path

    return write


def run_cli(*args: str, capsys) -> tuple[int, str, str]:
    """Run ``fiscal-sim ARGS`` in-process; return (status, stdout, stderr)."""
    try:
        status = main([str(a) for a in args])
    except SystemExit as exit_:  # argparse usage errors
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def run_subprocess(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m sim ARGS`` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, check=False)


# Attrs that differ between runs of the same numbers: timing and file bookkeeping.
TIMING_ATTRS = ("wall_seconds", "samples_per_second", "scheduler", "run_id", "repaired_blocks",
                "data_variables", "array_checksums")


def assert_same_run(a, b) -> None:
    """Same numbers, coordinates and provenance, bit for bit; timing attrs may differ."""
    import xarray as xr

    xr.testing.assert_identical(a.drop_attrs(deep=False), b.drop_attrs(deep=False))
    strip = {k: v for k, v in a.attrs.items() if k not in TIMING_ATTRS}
    assert strip == {k: v for k, v in b.attrs.items() if k not in TIMING_ATTRS}


def one_line_refusal(status: int, err: str, *words: str) -> str:
    """Assert a one-line refusal (status 2, no traceback) holding every word; return it."""
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def assert_refused(status: int, out: str, err: str, tmp_path, *words: str) -> str:
    """A refused config: `one_line_refusal`, nothing on stdout and nothing written beside
    the config (``bad.toml``)."""
    line = one_line_refusal(status, err, *words)
    assert out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]
    return line


def check_refused(config: dict | str, key: str, words: str, tmp_path, capsys) -> None:
    """`run --out` and `validate` both refuse `config` (a dict or TOML text, written as
    ``bad.toml``) in the same one line naming the file and `key` and holding `words`
    (`assert_refused`)."""
    path = tmp_path / "bad.toml"
    path.write_text(config if isinstance(config, str) else to_toml(config))
    status, out, err = run_cli("run", path, "--out", tmp_path / "out.nc", capsys=capsys)
    line = assert_refused(status, out, err, tmp_path, f"{path}: {key}", words)
    status, out, err = run_cli("validate", path, capsys=capsys)
    assert assert_refused(status, out, err, tmp_path) == line
