"""The public API: what ``import sim`` offers (``sim.__all__``, ``sim.plots``, the
subpackages), that it stays light, that its functions are documented, and that the Zarr
outputs open in xarray without warnings."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import warnings

import pytest
import xarray as xr

import sim
from sim.io.faults import FAULT_ENV

from .conftest import CONFIGS, REPO, run_cli

SUBPACKAGES = ("plots", "report", "analysis", "run", "io", "config", "core", "priors", "numbers")
FIGURES = ("fan_chart", "distribution", "manpower_balance", "ledger_chart", "claims_chart",
           "tornado_chart", "sobol_chart", "indices_over_time", "scenario_comparison",
           "breakeven_chart", "runway_chart", "discovery_chart", "prior_posterior_chart",
           "predictive_chart", "unseparable_chart", "backtest_skill_chart",
           "backtest_forecast_chart")
# What the notebooks, README and docs use from the top level.
USED = ("load_scenario", "simulate", "summarize", "Summary", "sensitivity", "ranked_table",
        "calibrate", "backtest", "rolling_backtest", "backtest_table", "cutoff_dates",
        "breakeven", "breakeven_text", "runway", "cost_per_soldier", "average_cost",
        "discover", "load_sweep", "run_experiments", "comparison_table", "comparison_text",
        "write_report", "read_results", "Scenario", "Claim", "ConfigError", "UserError",
        "__version__")


def test_every_name_in_all_resolves_and_the_notebook_names_are_there():
    assert sorted(sim.__all__) == sorted(USED)
    assert len(set(sim.__all__)) == len(sim.__all__)
    for name in sim.__all__:
        assert getattr(sim, name) is not None, name
    assert issubclass(sim.ConfigError, sim.UserError)
    assert isinstance(sim.__version__, str) and sim.__version__


def test_dir_lists_the_public_names_and_no_import_debris():
    names = dir(sim)
    assert set(sim.__all__) <= set(names)
    assert set(SUBPACKAGES) <= set(names)
    assert "PackageNotFoundError" not in names
    assert "importlib" not in names and "version" not in names
    debris = [n for n in names if n[:1].isupper() and n not in sim.__all__]
    assert debris == []


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_every_subpackage_is_an_attribute(name):
    module = getattr(sim, name)
    assert module.__name__ == f"sim.{name}"


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        sim.nonsense  # noqa: B018


@pytest.mark.parametrize("name", FIGURES)
def test_plots_facade_reexports_every_figure(name):
    figure = getattr(sim.plots, name)
    assert callable(figure) and name in sim.plots.__all__
    assert figure.__module__.startswith("sim.report."), figure.__module__
    assert "Returns" in inspect.getdoc(figure)


def test_plots_facade_exports_only_functions():
    assert set(FIGURES) <= set(sim.plots.__all__)
    for name in sim.plots.__all__:
        assert inspect.isfunction(getattr(sim.plots, name)), name
    assert dir(sim.plots) == list(sim.plots.__all__)


def test_import_sim_does_not_import_matplotlib_or_the_report():
    code = ("import sys, sim\n"
            "def loaded(): return sorted(m for m in sys.modules if m.split('.')[0] == "
            "'matplotlib' or m.startswith('sim.report') or m == 'sim.plots')\n"
            "print(loaded())\n"
            "sim.plots.fan_chart, sim.write_report\n"
            "print('matplotlib.pyplot' in sys.modules, 'sim.plots' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, check=True)
    # Nothing heavy on import; the figures load on first use, and still draw nothing.
    assert result.stdout.split("\n")[:2] == ["[]", "False True"]


def _sections(doc: str) -> set[str]:
    return set(re.findall(r"^(\w[\w ]*)\n-{3,}$", doc or "", re.MULTILINE))


@pytest.mark.parametrize("name", [n for n in sim.__all__ if inspect.isfunction(getattr(sim, n))])
def test_public_functions_have_numpydoc_parameters_and_returns(name):
    function = getattr(sim, name)
    doc = inspect.getdoc(function)
    missing = {"Parameters", "Returns"} - _sections(doc)
    assert not missing, (f"{function.__module__}.{name}: numpydoc section(s) "
                         f"{sorted(missing)} missing")
    returns = doc.split("Returns\n-------\n", 1)[1]
    description = [line for line in returns.splitlines()[1:] if line.startswith("    ")]
    assert description, f"{function.__module__}.{name}: Returns names a type but says nothing"


@pytest.mark.parametrize("name", sim.plots.__all__)
def test_figure_functions_have_numpydoc_parameters_and_returns(name):
    function = getattr(sim.plots, name)
    doc = inspect.getdoc(function)
    summary = (doc or "").split("\n\n", 1)[0]
    assert summary and "\n" not in summary, f"sim.plots.{name}: no one-line summary"
    missing = {"Parameters", "Returns"} - _sections(doc)
    assert not missing, f"sim.plots.{name}: numpydoc section(s) {sorted(missing)} missing"
    for argument in inspect.signature(function).parameters:
        assert re.search(rf"^{argument}\b.* : ", doc, re.MULTILINE), (
            f"sim.plots.{name}: argument {argument!r} not in Parameters")
    returns = doc.split("Returns\n-------\n", 1)[1]
    description = [line for line in returns.splitlines()[1:] if line.startswith("    ")]
    assert description, f"sim.plots.{name}: Returns names a type but says nothing"


def test_calibrate_documents_its_variables_and_attrs():
    doc = inspect.getdoc(sim.calibrate)
    for name in ("prior_p5", "posterior_p95", "narrowing", "posterior_rank_correlation",
                 "observed", "predictive_p50", "predictive_percentile", "bias_<reporter>",
                 "log_evidence", "unseparable_pairs", "data_end"):
        assert f"``{name}``" in doc, name


# ---------------------------------------------------------------- Zarr outputs


def _open_without_warnings(path) -> xr.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return xr.open_zarr(path)


def _argv(out, *extra) -> list[str]:
    return ["run", str(CONFIGS / "baseline.toml"), "--samples", "300", "--seed", "3",
            "--out", str(out), "--no-progress", *extra]


@pytest.mark.parametrize("keep", ["full", "summary"])
def test_streamed_zarr_output_opens_with_consolidated_metadata(tmp_path, capsys, keep):
    out = tmp_path / "run.zarr"
    assert run_cli(*_argv(out, "--keep", keep), capsys=capsys)[0] == 0
    assert (out / ".zmetadata").is_file()
    ds = _open_without_warnings(out)
    assert ds.attrs["complete"] == 1 and ds.sizes["sample"] == 300
    plain = xr.open_zarr(out, consolidated=False)
    assert set(plain.variables) == set(ds.variables) and plain.attrs == ds.attrs


def test_zarr_written_from_memory_opens_with_consolidated_metadata(tmp_path):
    scenario = sim.load_scenario(CONFIGS / "baseline.toml").with_run(samples=64, seed=2)
    out = sim.io.write_results(sim.simulate(scenario), tmp_path / "mem.zarr")
    ds = _open_without_warnings(out)
    assert ds.sizes["sample"] == 64 and "data_variables" in ds.attrs


def test_run_killed_before_consolidating_resumes_to_a_consolidated_store(tmp_path, capsys):
    out = tmp_path / "run.zarr"
    env = {**os.environ, FAULT_ENV: "statistics-written:1:kill"}
    killed = subprocess.run([sys.executable, "-m", "sim", *_argv(out)], env=env, cwd=REPO,
                            capture_output=True, text=True, check=False)
    assert killed.returncode != 0 and not out.exists()
    assert run_cli(*_argv(out, "--resume"), capsys=capsys)[0] == 0
    ds = _open_without_warnings(out)
    assert ds.attrs["complete"] == 1 and ds.sizes["sample"] == 300
