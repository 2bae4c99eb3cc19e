"""Bad schedules through the CLI: exit status 2, one line on stderr naming the file and the
key, no traceback, nothing written at --out; and the near misses that must be accepted."""

from __future__ import annotations

import datetime as dt

import pytest

import sim

from .conftest import assert_refused, check_refused, minimal, run_cli, to_toml

D = dt.date


def schedule(entries: dict, **extra) -> dict:
    """``{ schedule = { DATE = prior, ... }, ... }`` with the dates as written."""
    return {"schedule": {str(d): v for d, v in entries.items()}, **extra}


CORRELATION = """
[[correlations]]
a = "{a}"
b = "{b}"
rank = 0.3
"""

UNCERTAIN = {"recruitment": {"per_month": "30_000 to 50_000"}}
"""An uncertain prior for the correlations to name beside the scheduled key."""

BAD = {
    "first entry after start": (
        minimal(bonus={"federal_rub": schedule({D(2025, 1, 2): 400_000})}),
        "bonus.federal_rub.schedule", "after time.start"),
    "first entry after start, later ones too": (
        minimal(pay={"monthly_rub": schedule({D(2025, 3, 1): 1, D(2025, 2, 1): 2})}),
        "pay.monthly_rub.schedule", "2025-02-01"),
    "month 13": (
        minimal(bonus={"federal_rub": schedule({"2024-13-01": 400_000})}),
        "bonus.federal_rub.schedule.2024-13-01", "expected a date"),
    "not a date": (
        minimal(losses={"per_month": schedule({D(2024, 1, 1): 1, "soon": 2})}),
        "losses.per_month.schedule.soon", "expected a date"),
    "a date-time": (
        minimal(fx={"rub_per_usd": schedule({"2024-01-01T00:00": 90})}),
        "fx.rub_per_usd.schedule.2024-01-01T00:00", "expected a date"),
    "a date the results cannot hold": (
        minimal(budget={"defense_rub": schedule({"0001-01-01": 1e13})}),
        "budget.defense_rub.schedule.0001-01-01", "expected a date from"),
    "a date not written YYYY-MM-DD": (
        minimal(pay={"growth": schedule({D(2024, 1, 1): 0.1, "20240101": 0.2})}),
        "pay.growth.schedule.20240101", "expected a date (YYYY-MM-DD)"),
    "an ISO week date": (
        minimal(pay={"growth": schedule({D(2024, 1, 1): 0.1, "2024-W02-1": 0.2})}),
        "pay.growth.schedule.2024-W02-1", "expected a date (YYYY-MM-DD)"),
    "too many entries": (
        minimal(pay={"growth": schedule({D(2000, 1, 1) + dt.timedelta(days=i): 0.1
                                         for i in range(1201)})}),
        "pay.growth.schedule", "at most 1200 entries"),
    "a schedule on a setting": (
        minimal(time={"months": schedule({D(2024, 1, 1): 6})}),
        "time.months", "a setting takes no schedule"),
    "empty schedule": (
        minimal(pay={"monthly_rub": schedule({})}),
        "pay.monthly_rub.schedule", "non-empty table"),
    "schedule not a table": (
        minimal(pay={"monthly_rub": {"schedule": 5}}),
        "pay.monthly_rub.schedule", "non-empty table"),
    "force.initial_persons takes none": (
        minimal(force={"initial_persons": schedule({D(2024, 1, 1): 600_000})}),
        "force.initial_persons", "takes no schedule"),
    "fx.drift takes none": (
        minimal(fx={"drift": schedule({D(2024, 1, 1): 0.1})}),
        "fx.drift", "takes no schedule"),
    "losses.shock_sd takes none": (
        minimal(losses={"shock_sd": schedule({D(2024, 1, 1): 0.1})}),
        "losses.shock_sd", "takes no schedule"),
    "recruitment.bonus_elasticity takes none": (
        minimal(recruitment={"bonus_elasticity": schedule({D(2024, 1, 1): 0.1})}),
        "recruitment.bonus_elasticity", "takes no schedule"),
    "entry outside the domain": (
        minimal(bonus={"federal_rub": schedule({D(2024, 8, 1): -5})}),
        "bonus.federal_rub.schedule.2024-08-01", "expected values"),
    "entry that is not a prior": (
        minimal(bonus={"federal_rub": schedule({D(2024, 8, 1): "lots"})}),
        "bonus.federal_rub.schedule.2024-08-01", "expected a number"),
    "schedule in a schedule": (
        minimal(bonus={"federal_rub": schedule({D(2024, 8, 1): schedule({D(2024, 1, 1): 1})})}),
        "bonus.federal_rub.schedule.2024-08-01", "cannot hold a schedule"),
    "unknown key beside schedule": (
        minimal(bonus={"federal_rub": schedule({D(2024, 8, 1): 1}, dist="fixed")}),
        "bonus.federal_rub.dist", "unknown key beside schedule"),
    "source not a string": (
        minimal(bonus={"federal_rub": schedule({D(2024, 8, 1): 1}, source=3)}),
        "bonus.federal_rub.source", "expected a string"),
    "killed + missing over 1 in force together": (
        minimal(losses={"killed_share": schedule({D(2024, 1, 1): 0.5, D(2025, 3, 1): 0.95})}),
        "losses.", "killed_share + missing_share must not exceed 1"),
    "both scheduled, over 1 together from April": (
        minimal(losses={"killed_share": schedule({D(2024, 1, 1): 0.3, D(2025, 4, 1): 0.7}),
                        "missing_share": schedule({D(2024, 1, 1): 0.6, D(2025, 3, 1): 0.4})}),
        "losses.", "in force together"),
    "correlated scheduled key": (
        to_toml(minimal(bonus={"federal_rub": schedule({D(2024, 8, 1): "3e5 to 5e5"})},
                        **UNCERTAIN))
        + CORRELATION.format(a="recruitment.per_month", b="bonus.federal_rub"),
        "correlations[0].b", "is a schedule"),
    "bonus jump too big for the elasticity": (
        minimal(recruitment={"bonus_elasticity": 10.0},
                bonus={"federal_rub": schedule({D(2024, 1, 1): 1, D(2025, 3, 1): 1e15}),
                       "regional_rub": 0}),
        "recruitment.bonus_elasticity", "could overflow"),
    "bonus can fall to zero with a negative elasticity": (
        minimal(recruitment={"bonus_elasticity": -0.5},
                bonus={"federal_rub": schedule({D(2024, 1, 1): 4e5, D(2025, 3, 1): 0}),
                       "regional_rub": 0}),
        "recruitment.bonus_elasticity", "could overflow"),
    "a collapsing wage with a strong elasticity": (
        minimal(time={"months": 120}, recruitment={"bonus_elasticity": 10.0},
                wage={"monthly_rub": 1e5, "growth": -0.9}),
        "time.months", "could overflow"),
    "cuts to a zero bonus with a negative elasticity": (
        minimal(recruitment={"bonus_elasticity": -0.5}, bonus={"federal_rub": 0},
                budget={"regional_revenue_rub": 2e13},
                regional_response={"stress_threshold": 0.01, "cut_per_month": 0.5}),
        "recruitment.bonus_elasticity", "could overflow"),
    "correlated schedule entry": (
        to_toml(minimal(fx={"rub_per_usd": schedule({D(2024, 8, 1): "80 to 90"})},
                        **UNCERTAIN))
        + CORRELATION.format(a="fx.rub_per_usd@2024-08-01", b="recruitment.per_month"),
        "correlations[0].a", "is a schedule"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_schedule_is_one_line_exit_2_and_nothing_written(case, tmp_path, capsys):
    """`run --out` and `validate` refuse the config in one line naming the file and key."""
    check_refused(*BAD[case], tmp_path, capsys)


def test_schedule_given_with_set_names_the_flag(tmp_path, capsys):
    """A bad schedule written with --set blames --set and the entry's key."""
    path = tmp_path / "bad.toml"
    path.write_text(to_toml(minimal()))
    status, out, err = run_cli("run", path, "--out", tmp_path / "out.nc", "--set",
                               "pay.monthly_rub={schedule={2024-02-30=1}}", capsys=capsys)
    assert_refused(status, out, err, tmp_path, "--set: pay.monthly_rub.schedule.2024-02-30")


@pytest.mark.parametrize("losses", [
    # The high killed share is superseded before the start: never in force.
    {"killed_share": schedule({D(2023, 1, 1): 0.95, D(2024, 1, 1): 0.25})},
    # The high killed share is dated after the horizon (6 months): never in force.
    {"killed_share": schedule({D(2024, 1, 1): 0.25, D(2025, 7, 1): 0.95})},
    # Both high, never at the same time: killed falls in March as missing rises.
    {"killed_share": schedule({D(2024, 1, 1): 0.8, D(2025, 3, 1): 0.3}),
     "missing_share": schedule({D(2024, 1, 1): 0.1, D(2025, 2, 15): 0.6})},
], ids=["superseded", "past the horizon", "never together"])
def test_killed_and_missing_only_checked_in_force_together(losses, write_config):
    """Entries never in force together may sum above 1: the config loads and runs."""
    scenario = sim.load_scenario(write_config(minimal(losses=losses)))
    ds = sim.simulate(scenario, samples=2, seed=0)
    assert float(ds.wounded_persons.min()) >= 0


def test_first_entry_on_the_start_day_is_accepted(write_config):
    """The boundary of "dated after time.start": an entry on the start day is fine."""
    scenario = sim.load_scenario(write_config(minimal(
        bonus={"federal_rub": schedule({D(2025, 1, 1): 400_000})})))
    assert scenario.schedules["bonus.federal_rub"].in_force.tolist() == [0] * 6
