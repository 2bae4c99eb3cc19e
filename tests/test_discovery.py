"""Scenario discovery: the condition parser (safe, exact, one-line refusals), PRIM finding a
planted box, a real run, and the figure."""

from __future__ import annotations

import operator

import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

import sim
from sim.analysis.discovery import (
    MAX_CONDITION_CHARS,
    WEAK_P_VALUE,
    Discovery,
    choose_box,
    discover,
    parse_condition,
)
from sim.errors import ParameterError

from .conftest import CONFIGS

matplotlib.use("Agg")

NAMES = ("x", "y", "z", "force_change_persons", "months_of_decline", "param_losses_per_month")
OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
             "==": operator.eq, "!=": operator.ne}

# The planted box: the outcome holds exactly when A_LOW <= param_a <= A_HIGH and
# param_b > B_LOW, over uniform inputs.
PLANTED_SAMPLES = 20_000
A_LOW, A_HIGH, B_LOW = 0.3, 0.6, 0.5
# A box bound sits between two neighbouring samples of the cases' edge; with 20,000 samples
# about 3,000 fall in the box, and PRIM peels 5% of the box at a time, so a bound lands
# within a fraction of a peel's width (0.05 x 0.3 of the range) of the truth.
BOUND_TOLERANCE = 0.03


def planted(samples: int = PLANTED_SAMPLES, seed: int = 7) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    params = {f"param_{c}": ("sample", rng.random(samples)) for c in "abcde"}
    a, b = params["param_a"][1], params["param_b"][1]
    outcome = np.where((a >= A_LOW) & (a <= A_HIGH) & (b > B_LOW), 1.0, -1.0)
    return xr.Dataset({**params, "outcome": ("sample", outcome),
                       "path": (("sample", "time"), np.zeros((samples, 3)))})


@pytest.fixture(scope="module")
def planted_ds():
    return planted()


@pytest.fixture(scope="module")
def run():
    return sim.simulate(sim.load_scenario(CONFIGS / "baseline.toml"), samples=2000, seed=1)


@pytest.fixture(scope="module")
def real(run):
    decline = run.force_change_persons.values < 0
    assert 0 < decline.sum() < decline.size  # the baseline splits on a shrinking force
    return discover(run, "force_change_persons < 0")


def _refusal(text: str, names=NAMES) -> str:
    with pytest.raises(ParameterError) as caught:
        parse_condition(text, names)
    message = str(caught.value)
    assert message.startswith("where: ")
    assert len(message.splitlines()) == 1 and caught.value.parameter == "where"
    return message


# ---------------------------------------------------------------- PRIM


def test_prim_finds_the_planted_box(planted_ds):
    result = discover(planted_ds, "outcome > 0", min_density=0.95)
    assert isinstance(result, Discovery) and result.reached_target
    assert result.samples == PLANTED_SAMPLES and result.dropped == 0
    assert result.base_rate == pytest.approx((A_HIGH - A_LOW) * (1 - B_LOW), abs=0.01)
    assert result.coverage >= 0.9 and result.density >= 0.95
    assert set(result.limits.index) == {"param_a", "param_b"}
    a, b = result.limits.loc["param_a"], result.limits.loc["param_b"]
    assert a.low == pytest.approx(A_LOW, abs=BOUND_TOLERANCE)
    assert a.high == pytest.approx(A_HIGH, abs=BOUND_TOLERANCE)
    assert b.low == pytest.approx(B_LOW, abs=BOUND_TOLERANCE)
    assert b.high == b.sample_high  # the open side is the sample's extreme
    assert (result.limits.p_value < 1e-6).all()
    assert list(result.limits.columns) == ["low", "high", "sample_low", "sample_high",
                                           "p_value"]
    # the box and its statistics agree with the data
    x = {name: planted_ds[name].values for name in ("param_a", "param_b")}
    inside = np.logical_and.reduce([(x[n] >= result.limits.loc[n, "low"])
                                    & (x[n] <= result.limits.loc[n, "high"]) for n in x])
    holds = planted_ds.outcome.values > 0
    assert result.mass == pytest.approx(inside.mean())
    assert result.density == pytest.approx(holds[inside].mean())
    assert result.coverage == pytest.approx(holds[inside].sum() / holds.sum())


def test_box_choice_rule(planted_ds):
    """The most coverage among boxes reaching the density; otherwise the densest box."""
    result = discover(planted_ds, "outcome > 0")  # min_density 0.8
    trajectory = result.trajectory
    assert list(trajectory.columns) == ["coverage", "density", "mass", "restricted"]
    assert trajectory.index.name == "box" and trajectory.restricted.iloc[0] == 0
    dense = trajectory[trajectory.density >= 0.8]
    assert result.chosen == dense.coverage.idxmax() and result.density >= 0.8
    assert result.coverage == trajectory.coverage.iloc[result.chosen]
    assert choose_box(trajectory.assign(density=0.1), 0.9) == (0, False)
    toy = trajectory.iloc[:4].assign(coverage=[1.0, 0.9, 0.9, 0.5],
                                     density=[0.2, 0.85, 0.9, 0.95])
    assert choose_box(toy, 0.8) == (1, True)  # tie on coverage: the earlier, larger box
    assert choose_box(toy, 0.99) == (3, False)


def test_real_run(run, real):
    assert real.holds == int((run.force_change_persons.values < 0).sum())
    assert 0 < real.base_rate < 1
    assert len(real.limits) >= 1 and real.density > real.base_rate
    assert all(name.startswith("param_") for name in real.limits.index)
    assert (real.limits.low >= real.limits.sample_low).all()
    assert (real.limits.high <= real.limits.sample_high).all()
    assert np.isfinite(real.limits.to_numpy()).all()
    assert real.limits.p_value.is_monotonic_increasing
    text = real.text()
    assert '"force_change_persons < 0"' in text and f"{100 * real.base_rate:.1f}%" in text
    first = real.limits.index[0]
    assert f"  {first} in [" in text and "(prior sample range" in text


def test_nan_inputs_dropped_and_constant_inputs_ignored():
    ds = planted(4000)
    a = ds.param_c.values.copy()
    a[:37] = np.nan
    ds = ds.assign(param_c=("sample", a), param_constant=("sample", np.full(4000, 2.5)))
    result = discover(ds, "outcome > 0")
    assert result.dropped == 37 and result.samples == 4000 - 37
    assert "param_constant" not in result.inputs and "param_c" in result.inputs
    assert "37 samples dropped" in result.text()
    only = discover(ds, "outcome > 0", inputs=["param_a"])
    assert only.inputs == ("param_a",) and only.dropped == 0
    assert set(only.limits.index) <= {"param_a"}


def test_conditions_on_params_and_outputs_together(planted_ds):
    result = discover(planted_ds, "outcome > 0 and param_c < 0.5")
    assert {"param_a", "param_b", "param_c"} <= set(result.limits.index)
    assert result.holds == int(((planted_ds.outcome > 0) & (planted_ds.param_c < 0.5)).sum())


@pytest.mark.parametrize(("where", "count"), [("outcome > -2", PLANTED_SAMPLES),
                                              ("outcome > 2", 0)])
def test_condition_for_all_or_none_refused(planted_ds, where, count):
    with pytest.raises(ParameterError) as caught:
        discover(planted_ds, where)
    assert str(caught.value) == (f'where: "{where}" holds for {count:,} of '
                                 f"{PLANTED_SAMPLES:,} samples: nothing to discover")


def test_bad_results_and_settings_refused(planted_ds):
    sweep = xr.concat([planted_ds, planted_ds], dim="scenario")
    with pytest.raises(ParameterError, match=r"^results: discovery works on one scenario's "
                                             r"run; got a sweep with 2 scenarios"):
        discover(sweep, "outcome > 0")
    with pytest.raises(ParameterError, match=r"^inputs: unknown sampled parameter 'param_zz'"):
        discover(planted_ds, "outcome > 0", inputs=["param_zz"])
    with pytest.raises(ParameterError, match=r"'a'.*param_a"):
        discover(planted_ds, "outcome > 0", inputs=["a"])
    with pytest.raises(ParameterError, match=r"^inputs: empty list"):
        discover(planted_ds, "outcome > 0", inputs=[])
    with pytest.raises(ParameterError, match=r"^where: unknown name 'path'"):
        discover(planted_ds, "path > 0")  # not per sample
    for name, value in (("min_density", 0.0), ("min_density", 1.5), ("peel_alpha", 0.5),
                        ("mass_min", 1.0), ("peel_alpha", True)):
        with pytest.raises(ParameterError, match=rf"^{name}: expected a number"):
            discover(planted_ds, "outcome > 0", **{name: value})
    no_params = planted_ds[["outcome"]]
    with pytest.raises(ParameterError, match=r"^results: nothing to search"):
        discover(no_params, "outcome > 0")


# ---------------------------------------------------------------- the parser


values_arrays = st.lists(st.one_of(st.floats(-10, 10, width=32), st.just(float("nan")),
                                   st.sampled_from([-1.0, 0.0, 0.5, 1.0])),
                         min_size=1, max_size=30).map(np.array)
thresholds = st.one_of(st.floats(-12, 12, allow_nan=False), st.integers(-12, 12),
                       st.sampled_from([0.0, 0.5, 1.0, -1.0]))


@given(x=values_arrays, op=st.sampled_from(sorted(OPERATORS)), threshold=thresholds,
       flip=st.booleans())
def test_comparison_evaluates_as_numpy(x, op, threshold, flip):
    text = f"{threshold!r} {op} x" if flip else f"x {op} {threshold!r}"
    condition = parse_condition(text, NAMES)
    assert condition.names == ("x",)
    expected = OPERATORS[op](threshold, x) if flip else OPERATORS[op](x, threshold)
    np.testing.assert_array_equal(condition.evaluate({"x": x}), expected)


@given(data=st.data(), ops=st.lists(st.sampled_from(sorted(OPERATORS)), min_size=3,
                                    max_size=3),
       limits=st.lists(thresholds, min_size=3, max_size=3))
def test_and_or_not_precedence(data, ops, limits):
    x, y, z = (data.draw(st.lists(st.sampled_from([-1.0, 0.0, 0.5, 2.0, np.nan]),
                                  min_size=8, max_size=8).map(np.array)) for _ in range(3))
    a, b, c = (OPERATORS[op](v, t) for op, v, t in zip(ops, (x, y, z), limits, strict=True))
    text = (f"x {ops[0]} {limits[0]!r} and not y {ops[1]} {limits[1]!r} "
            f"or z {ops[2]} {limits[2]!r}")
    got = parse_condition(text, NAMES).evaluate({"x": x, "y": y, "z": z})
    np.testing.assert_array_equal(got, (a & ~b) | c)
    grouped = (f"x {ops[0]} {limits[0]!r} and not (y {ops[1]} {limits[1]!r} "
               f"or z {ops[2]} {limits[2]!r})")
    got = parse_condition(grouped, NAMES).evaluate({"x": x, "y": y, "z": z})
    np.testing.assert_array_equal(got, a & ~(b | c))


@given(x=values_arrays, low=thresholds, high=thresholds)
def test_chained_comparison(x, low, high):
    condition = parse_condition(f"{low!r} < x <= {high!r}", NAMES)
    np.testing.assert_array_equal(condition.evaluate({"x": x}), (low < x) & (x <= high))


def test_numbers_names_and_nan():
    x = np.array([np.nan, 0.0, 40_000.0, 2e6])
    cases = {"x > 35_000": [False, False, True, True], "x < 1e6": [False, True, True, False],
             "x == -0": [False, True, False, False], "x != 0": [True, False, True, True],
             "not (x >= 1)": [True, True, False, False], "x >= -+-1": [False, False, True, True],
             "x < 0x10": [False, True, False, False], "x > 1e400": [False] * 4,
             "(x > 1) or (x != x)": [True, False, True, True]}
    for text, expected in cases.items():
        np.testing.assert_array_equal(parse_condition(text, ["x"]).evaluate({"x": x}),
                                      expected, err_msg=text)
    both = parse_condition("force_change_persons < 0 and param_losses_per_month > 35_000",
                           NAMES)
    assert both.names == ("force_change_persons", "param_losses_per_month")
    assert parse_condition("0 < x <= 6 or x == x", NAMES).names == ("x",)
    assert parse_condition("  x < 1  ", NAMES).text == "  x < 1  "
    ints = parse_condition("x == 3", NAMES).evaluate({"x": np.arange(5)})
    np.testing.assert_array_equal(ints, [False, False, False, True, False])
    with pytest.raises(ParameterError, match=r"^where: no values given for 'y'"):
        parse_condition("y < 1", NAMES).evaluate({"x": x})


@pytest.mark.parametrize(("text", "expected"), [
    ("forse_change < 0", "unknown name 'forse_change' in \"forse_change < 0\"; expected a "
                         "per-sample output or param_* (e.g. force_change_persons"),
    ("x <", 'cannot parse "x <": expected a condition such as "force_change_persons < 0"'),
    ("x <> 1", "cannot parse"),
    ("len(x) < 1", "function calls are not allowed"),
    ("x.real < 1", "attribute access (a.b) is not allowed"),
    ("x[0] < 1", "indexing (a[b]) is not allowed"),
    ("x + 1 < 2", "arithmetic (+ - * / ...) is not allowed"),
    ("x < y * 2", "arithmetic"),
    ("x < 2 ** 10", "arithmetic"),
    ("-x < 1", "arithmetic on names is not allowed"),
    ("x < 'a'", "strings are not allowed"),
    ("x < b'a'", "strings are not allowed"),
    ("x == True", "True and False are not allowed"),
    ("x < None", '"None" is not a real number'),
    ("x < 1j", '"1j" is not a real number'),
    ("x < ...", "is not a real number"),
    ("", "empty condition"),
    ("   ", "empty condition"),
    ("x", '"x" is not a condition'),
    ("x and y < 1", '"x" is not a condition'),
    ("not x", '"x" is not a condition'),
    ("1", '"1" is not a condition'),
    ("1 < 2", 'comparison "1 < 2" involves no name'),
    ("x in [1, 2]", "operator 'in' is not allowed"),
    ("x is 1", "operator 'is' is not allowed"),
    ("x < 1 & y > 2", "operators & and | are not allowed"),
    ("~(x < 1)", "operator ~ is not allowed"),
    ("lambda: x < 1", "lambda is not allowed"),
    ("[x for x in y] < 1", "comprehensions are not allowed"),
    ("(x := 1) < 2", "assignment (:=) is not allowed"),
    ("x < (1 if y else 2)", "if-else expressions are not allowed"),
    ("f'{x}' < 1", "f-strings are not allowed"),
    ("(x, y) < (1, 2)", "lists, tuples, sets and dicts are not allowed"),
    ("{x: 1} < 1", "lists, tuples, sets and dicts are not allowed"),
    ("x < 1; y < 2", "cannot parse"),
    ("import os", "cannot parse"),
    ("x <\n1", "cannot parse \"x <\\n1\""),
    ("a\x00", "cannot parse"),
    ("x < 1" + " " * MAX_CONDITION_CHARS, "characters long; at most 1,000 are accepted"),
    ("(" * 10_000 + "x < 1" + ")" * 10_000, "characters long"),
    ("(" * 400 + "x < 1" + ")" * 400, "cannot parse"),
    ("not " * 60 + "x < 1", "nesting deeper than 50 levels"),
    ("x < " + "-" * 80 + "1", "nesting deeper than 50 levels"),
    ("x < " + "9" * 400, "is too large"),
])
def test_refusals_are_one_line(text, expected):
    assert expected in _refusal(text)


def test_unknown_name_lists_a_few_valid_names():
    names = [f"param_p{i}" for i in range(300)] + ["force_change_persons", "months_of_decline"]
    message = _refusal("forse_change < 0", names)
    assert "'forse_change'" in message and "force_change_persons" in message
    assert message.endswith(", ...)") and message.count("param_p") <= 3


def test_no_code_is_ever_run(tmp_path):
    marker = tmp_path / "pwned"
    for text in (f"__import__('os').system('touch {marker}')",
                 f"x < __import__('os').system('touch {marker}')",
                 f"(lambda: __import__('os').system('touch {marker}'))() < 1",
                 f"x < [__import__('os').system('touch {marker}') for _ in '1'][0]"):
        _refusal(text)
    assert not marker.exists()


@given(st.text(max_size=200))
def test_any_text_parses_or_is_refused_in_one_line(text):
    try:
        parse_condition(text, NAMES)
    except ParameterError as error:
        message = str(error)
        assert message.startswith("where: ") and len(message.splitlines()) == 1


TOKENS = ["x", "y", "nope", "<", "<=", ">", ">=", "==", "!=", "and", "or", "not", "(", ")",
          "1", "-", "2.5", "1e6", "35_000", ".", "[", "]", "'a'", "+", "*", "True", "f(", ",",
          "lambda", ":", "if", "else", "in", "is", "~", "&", "|", ":=", "\n", "\\", "#"]


@given(st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join))
def test_token_soup_parses_or_is_refused_in_one_line(text):
    try:
        condition = parse_condition(text, NAMES)
    except ParameterError as error:
        message = str(error)
        assert message.startswith("where: ") and len(message.splitlines()) == 1
    else:
        values = {name: np.array([np.nan, -1.0, 1.0, 40_000.0]) for name in condition.names}
        assert condition.evaluate(values).shape == (4,)


# ---------------------------------------------------------------- the figure


def _texts_inside(fig) -> int:
    """Every text drawn lies on the canvas: titles, labels, notes and legends one by one;
    tick labels (matplotlib keeps labels of ticks outside the view, undrawn) through the
    figure's tight bounding box, which counts only what is drawn."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    tight = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)
    assert canvas.x0 - 1 <= tight.x0 and tight.x1 <= canvas.x1 + 1
    assert canvas.y0 - 1 <= tight.y0 and tight.y1 <= canvas.y1 + 1
    ticks = {id(label) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
             for tick in axis.get_major_ticks() + axis.get_minor_ticks()
             for label in (tick.label1, tick.label2)}
    shown = [t for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and id(t) not in ticks]
    for text in shown:
        box = text.get_window_extent(renderer)
        assert box.x0 >= canvas.x0 - 1 and box.x1 <= canvas.x1 + 1, text.get_text()
        assert box.y0 >= canvas.y0 - 1 and box.y1 <= canvas.y1 + 1, text.get_text()
    return len(shown)


@pytest.mark.parametrize("case", ["real", "planted", "no restriction"])
def test_discovery_chart(case, real, planted_ds, tmp_path):
    import matplotlib.pyplot as plt

    from sim.report.discovery_plot import discovery_chart

    if case == "real":
        result = real
    elif case == "planted":
        result = discover(planted_ds, "outcome > 0", min_density=0.95)
    else:
        result = discover(planted_ds, "outcome > 0 or param_c < 0.95", min_density=0.5)
        assert result.limits.empty and result.chosen == 0
    fig = discovery_chart(result)
    left, right = fig.axes[:2]
    assert result.where[:20] in fig.get_suptitle()
    assert f"{100 * result.base_rate:.1f}% of" in fig.get_suptitle()
    assert left.get_title(loc="left") and right.get_title(loc="left")
    for label in (left.get_xlabel(), left.get_ylabel(), right.get_xlabel()):
        assert label.endswith("]") and "[%" in label
    assert len(right.get_yticklabels()) == len(result.limits)
    assert _texts_inside(fig) > 10
    fig.savefig(tmp_path / "discovery.png")
    plt.close(fig)


# ---- pruning weak restrictions, and the CLI ---------------------------------------------


def test_weak_restrictions_are_pruned(run, real):
    """The reported box keeps only restrictions with p <= 0.05; without pruning, the chosen
    box of the trajectory is reported as it is (and, with 36 parameters and 2,000
    samples, restricts some by chance). The pruned box's statistics are its own."""
    assert (real.limits.p_value <= WEAK_P_VALUE).all()
    unpruned = discover(run, "force_change_persons < 0", prune=False)
    assert unpruned.pruned == () and len(unpruned.limits) > len(real.limits)
    assert set(real.pruned) == set(unpruned.limits.index) - set(real.limits.index)
    assert unpruned.coverage == unpruned.trajectory.coverage.iloc[unpruned.chosen]
    # the pruned box, counted by hand from its limits
    inside = np.ones(run.sizes["sample"], dtype=bool)
    for name, row in real.limits.iterrows():
        values = run[name].values
        inside &= (values >= row.low) & (values <= row.high)
    holds = run.force_change_persons.values < 0
    assert real.mass == pytest.approx(inside.mean())
    assert real.density == pytest.approx(holds[inside].mean())
    assert real.coverage == pytest.approx(holds[inside].sum() / holds.sum())


def test_cli_discover_writes_a_directory(run, tmp_path, capsys):
    from .conftest import run_cli

    results = tmp_path / "run.nc"
    sim.io.write_results(run, results)
    out = tmp_path / "discovery"
    status, printed, err = run_cli("discover", results, "--where", "force_change_persons < 0",
                                   "--out", out, capsys=capsys)
    assert status == 0, err
    assert "Peeling trajectory" in printed and "param_recruitment_per_month" in printed
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "box.csv", "discovery.png", "discovery.svg", "summary.txt", "trajectory.csv"]
    box = pd.read_csv(out / "box.csv", index_col="parameter")
    assert list(box.index) == list(real_limits(run).index)


def real_limits(run):
    return discover(run, "force_change_persons < 0").limits


@pytest.mark.parametrize(("where", "words"), [
    ("forse_change < 0", ("--where", "unknown name 'forse_change'")),
    ("__import__('os')", ("--where",)),
    ("force_change_persons < 0 <", ("--where", "cannot parse")),
])
def test_cli_discover_refusals(run, where, words, tmp_path, capsys):
    from .conftest import one_line_refusal, run_cli

    results = tmp_path / "run.nc"
    sim.io.write_results(run, results)
    status, _, err = run_cli("discover", results, "--where", where, "--out",
                             tmp_path / "d", capsys=capsys)
    one_line_refusal(status, err, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.nc"]


def test_cli_discover_never_writes_into_its_input_store(tmp_path, capsys):
    """A results store is a folder: an output inside it is refused, the store untouched."""
    from .conftest import one_line_refusal, run_cli

    store = tmp_path / "run.zarr"
    assert run_cli("run", CONFIGS / "baseline.toml", "--samples", "300", "--out", store,
                   capsys=capsys)[0] == 0
    before = sorted(p.relative_to(store) for p in store.rglob("*"))
    status, _, err = run_cli("discover", store, "--where", "force_change_persons < 0",
                             "--out", store / "rep", capsys=capsys)
    one_line_refusal(status, err, "--out", "inside input")
    assert sorted(p.relative_to(store) for p in store.rglob("*")) == before


def test_titles_show_the_condition_as_parsed(run):
    """Comments and odd characters never reach a figure title (matplotlib would parse
    '$' as mathematics and warn about glyphs it lacks): the canonical text is shown."""
    result = discover(run, "force_change_persons < 0  # $\\frac{$ 雪")
    assert result.where == "force_change_persons < 0"
