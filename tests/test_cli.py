"""The fiscal-sim command: run, validate, --set, progress bar, python -m sim."""

from __future__ import annotations

import io as stdio
import time

import xarray as xr

from sim import cli
from sim.io import read_results

from .conftest import CONFIGS, minimal, run_cli, run_subprocess


def test_run_prints_tables_and_writes_netcdf(tmp_path, capsys):
    out_path = tmp_path / "baseline.nc"
    status, out, err = run_cli("run", CONFIGS / "baseline.toml", "--samples", 300, "--seed", 5,
                               "--out", out_path, capsys=capsys)
    assert status == 0, err
    for heading in ("Outcomes", "Key probabilities", "Claims against the simulated 90% band",
                    "Kelin: ~600k troops fighting", "bonus_spend_usd_per_day_mean"):
        assert heading in out
    ds = read_results(out_path)
    assert ds.sizes["sample"] == 300 and ds.attrs["seed"] == 5
    assert [p.name for p in tmp_path.iterdir()] == ["baseline.nc"]


def test_set_changes_the_run(tmp_path, capsys, write_config):
    path = write_config(minimal())
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    run_cli("run", path, "--out", a, capsys=capsys)
    status, _, err = run_cli("run", path, "--set", "recruitment.per_month=80000 to 90000",
                             "--out", b, capsys=capsys)
    assert status == 0, err
    with xr.open_dataset(a) as da, xr.open_dataset(b) as db:
        assert float(db.recruits_persons.min()) > float(da.recruits_persons.max())
        assert "80000 to 90000" in db.attrs["config_resolved"]


def test_validate(capsys):
    status, out, _ = run_cli("validate", CONFIGS / "official.toml", capsys=capsys)
    assert status == 0 and "ok" in out and "17 claims" in out


def test_usage_errors_exit_2(capsys):
    status, _, err = run_cli("frobnicate", capsys=capsys)
    assert status == 2 and "invalid choice" in err
    status, _, err = run_cli("run", capsys=capsys)
    assert status == 2 and "config" in err


def test_python_dash_m_sim(tmp_path):
    result = run_subprocess("validate", CONFIGS / "baseline.toml")
    assert result.returncode == 0 and "ok" in result.stdout
    version = run_subprocess("--version")
    assert version.returncode == 0 and "fiscal-sim" in version.stdout


class _Terminal(stdio.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _slow_job(bar, chunks: int = 4, total: int = 4000, seconds: float = 0.05) -> None:
    """A fake run: `chunks` chunks of `seconds` each, reported to `bar`."""
    for i in range(1, chunks + 1):
        time.sleep(seconds)
        bar(i * total // chunks, total)
    bar.close()


def test_progress_bar_on_a_terminal_shows_rate_and_counts(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(cli.sys, "stderr", terminal)
    _slow_job(cli.ProgressBar(enabled=True, delay_seconds=0.05))
    text = terminal.getvalue()
    assert "samples/s" in text and "4.00k/4.00k" in text and "100%" in text, text
    assert text.endswith("\n")  # the bar's line is ended


def test_no_progress_bar_when_stderr_is_not_a_terminal(monkeypatch):
    redirected = stdio.StringIO()  # isatty() is False, as for a log file or a pipe
    monkeypatch.setattr(cli.sys, "stderr", redirected)
    _slow_job(cli.ProgressBar(enabled=True, delay_seconds=0))
    assert redirected.getvalue() == ""


def test_no_progress_bar_for_a_run_under_its_delay_or_with_no_progress(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(cli.sys, "stderr", terminal)
    _slow_job(cli.ProgressBar(enabled=True), seconds=0)  # the one-second rule
    _slow_job(cli.ProgressBar(enabled=False, delay_seconds=0))  # --no-progress
    assert terminal.getvalue() == ""
