"""Scenario discovery: under which combinations of sampled assumptions does an outcome hold?

A run draws every uncertain prior once per sample (the ``param_*`` variables) and
computes per-sample outputs (``force_change_persons``, ``months_of_decline``, ...). A
condition on those, such as ``force_change_persons < 0``, marks some samples as *cases
of interest*. Scenario discovery (Bryant & Lempert 2010, "Thinking inside the box",
Technological Forecasting & Social Change 77:34-49; as done in the EMA Workbench) looks
for a few ranges of a few parameters, a *box*, inside which the condition mostly holds
(high density) and which contains most of the samples where it holds (high coverage).

The box search is the Patient Rule Induction Method (Friedman & Fisher 1999) from
Project Platypus's maintained ``prim`` package (the EMA Workbench implementation): it
peels a share `peel_alpha` of the samples off one side of one parameter at a time,
whichever raises the density most per sample lost, until the box holds less than
`mass_min` of the samples, then pastes back what raises the density. Every box on the
way is kept: the *peeling trajectory*, from the whole sample space (coverage 100%,
density = the base rate) to small dense boxes.

Which box is reported: among the boxes of the trajectory whose density reaches
`min_density`, the one with the greatest coverage (ties: the earliest, i.e. the larger
box); if no box reaches it, the densest box, and the result says the target was not
reached. Each restricted parameter comes with PRIM's quasi-p-value (Bryant & Lempert
2010): a one-sided binomial test of the box's density against the box with that one
restriction removed; a large value means the restriction adds little.

Conditions are parsed with `ast` and evaluated by walking the tree with NumPy
(`parse_condition`): comparisons of names with numbers (chained or not) joined by
``and``, ``or`` and ``not``; nothing is ever evaluated as Python code.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import logging
import warnings
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from sim.errors import ParameterError
from sim.numbers import human, percent

MAX_CONDITION_CHARS = 1000
"""Longest condition text accepted."""

MAX_CONDITION_DEPTH = 50
"""Deepest nesting of a condition's parsed tree accepted (and/or/not/comparisons)."""

WEAK_P_VALUE = 0.05
"""Quasi-p-value above which `Discovery.text` notes that a restriction adds little."""

EXAMPLE = '"force_change_persons < 0"'
_SHOWN_CHARS = 60
_SHOWN_NAMES = 4
_COMPARISONS = {ast.Lt: ("<", np.less), ast.LtE: ("<=", np.less_equal),
                ast.Gt: (">", np.greater), ast.GtE: (">=", np.greater_equal),
                ast.Eq: ("==", np.equal), ast.NotEq: ("!=", np.not_equal)}
_OPERATORS = {symbol: function for symbol, function in _COMPARISONS.values()}
_REFUSED = {
    ast.Call: "function calls are not allowed",
    ast.Attribute: "attribute access (a.b) is not allowed",
    ast.Subscript: "indexing (a[b]) is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.IfExp: "if-else expressions are not allowed",
    ast.Starred: "starred expressions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Slice: "slices are not allowed",
}
for _node in (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp):
    _REFUSED[_node] = "comprehensions are not allowed"
for _node in (ast.List, ast.Tuple, ast.Set, ast.Dict):
    _REFUSED[_node] = "lists, tuples, sets and dicts are not allowed"


# ---------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Condition:
    """A parsed condition on per-sample values, such as ``force_change_persons < 0``.

    Built by `parse_condition`. The tree is kept as nested tuples (not Python code):
    ``("and", parts)``, ``("or", parts)``, ``("not", part)`` and
    ``("compare", operands, symbols)`` with operands ``("name", str)`` or
    ``("number", float)``.

    Attributes
    ----------
    text : str
        The condition as written.
    names : tuple of str
        The variables it uses, in order of first appearance.
    tree : tuple
        The parsed condition as nested tuples (above).
    canonical : str
        The condition as Python would print it (``ast.unparse``): comments dropped,
        names normalised (NFKC), so only ASCII names, numbers and operators; shown in
        titles and summaries.
    """

    text: str
    names: tuple[str, ...]
    tree: tuple = field(repr=False)
    canonical: str = ""

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """Where the condition holds, sample by sample.

        Values are compared as float64 with NumPy's comparison functions, so NaN
        compares False under every operator except ``!=`` (where it is True), and
        ``not (x >= 1)`` is True for a NaN ``x``.

        Parameters
        ----------
        values : mapping of str to numpy.ndarray
            An array for every name in `names` (all of one shape, or broadcastable).

        Returns
        -------
        numpy.ndarray of bool

        Raises
        ------
        ParameterError
            ``where``: a name of the condition has no values.
        """
        missing = [name for name in self.names if name not in values]
        if missing:
            raise ParameterError("where", f"no values given for {missing[0]!r} in "
                                          f"{_shown(self.text)}")
        arrays = {name: np.asarray(values[name], dtype=np.float64) for name in self.names}
        return np.asarray(_evaluate(self.tree, arrays), dtype=bool)


def _evaluate(tree: tuple, arrays: Mapping[str, np.ndarray]):
    kind = tree[0]
    if kind == "and":
        return np.logical_and.reduce([_evaluate(part, arrays) for part in tree[1]])
    if kind == "or":
        return np.logical_or.reduce([_evaluate(part, arrays) for part in tree[1]])
    if kind == "not":
        return np.logical_not(_evaluate(tree[1], arrays))
    operands = [arrays[value] if what == "name" else np.float64(value)
                for what, value in tree[1]]
    links = [_OPERATORS[symbol](left, right)
             for symbol, left, right in zip(tree[2], operands, operands[1:], strict=False)]
    return np.logical_and.reduce(links)


def _shown(text: str) -> str:
    """The text in double quotes on one line: unprintable characters escaped, long
    texts cut."""
    escaped = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    if len(escaped) > _SHOWN_CHARS:
        escaped = escaped[:_SHOWN_CHARS - 3] + "..."
    return f'"{escaped}"'


def _some_names(names: Collection[str], near: str | None = None) -> str:
    """A few valid names, the closest to `near` first, for an error message."""
    names = list(names)
    ordered = [name for name in names if not name.startswith("param_")] + \
              [name for name in names if name.startswith("param_")]
    close = difflib.get_close_matches(near, names, n=2, cutoff=0.6) if near else []
    shown = close + [name for name in ordered if name not in close]
    if not shown:
        return "(none in these results)"
    more = ", ..." if len(shown) > _SHOWN_NAMES else ""
    return ", ".join(shown[:_SHOWN_NAMES]) + more


def parse_condition(text: str, names: Collection[str]) -> Condition:
    """Parse a condition on per-sample outputs and sampled parameters.

    Accepted: comparisons (``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=``, chained as in
    ``0 < months_cutting <= 6``) between names and numbers (``35_000``, ``1e6``, ``-2``),
    each involving at least one name, joined by ``and``, ``or``, ``not`` and
    parentheses. Anything else (calls, attributes, indexing, arithmetic, strings,
    booleans, ...) is refused. The text is parsed with ``ast.parse(mode="eval")`` and
    never compiled or evaluated as Python.

    Parameters
    ----------
    text : str
        The condition, e.g. ``"force_change_persons < 0 and param_losses_per_month >
        35_000"``.
    names : collection of str
        The names it may use.

    Returns
    -------
    Condition

    Raises
    ------
    ParameterError
        ``where``: the text is empty, longer than `MAX_CONDITION_CHARS`, does not
        parse, nests deeper than `MAX_CONDITION_DEPTH`, uses an unknown name or
        anything but the above. The message is one line.
    """
    if not isinstance(text, str):
        raise ParameterError("where", f"expected a condition as text such as {EXAMPLE}, "
                                      f"got {type(text).__name__}")
    if not text.strip():
        raise ParameterError("where", f"empty condition; expected a condition such as "
                                      f"{EXAMPLE}")
    if len(text) > MAX_CONDITION_CHARS:
        raise ParameterError("where", f"condition is {len(text):,} characters long; at most "
                                      f"{MAX_CONDITION_CHARS:,} are accepted")
    try:
        with warnings.catch_warnings():  # e.g. invalid escapes in a string literal
            warnings.simplefilter("ignore")
            parsed = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        raise ParameterError("where", f"cannot parse {_shown(text)}: expected a condition "
                                      f"such as {EXAMPLE}") from None
    found: list[str] = []
    tree = _Parser(text, tuple(names), found).condition(parsed.body, depth=1)
    return Condition(text=text, names=tuple(dict.fromkeys(found)), tree=tree,
                     canonical=ast.unparse(parsed.body))


class _Parser:
    """Turns an `ast` expression into the nested tuples of `Condition`, refusing every
    node but the allowed ones."""

    def __init__(self, text: str, names: tuple[str, ...], found: list[str]):
        self.text, self.names, self.known, self.found = text, names, frozenset(names), found

    def refuse(self, what: str, hint: str = "") -> ParameterError:
        hint = hint or ("expected comparisons of names with numbers joined by and, or, not, "
                        f"such as {EXAMPLE}")
        return ParameterError("where", f"{what} in {_shown(self.text)}; {hint}")

    def check_depth(self, depth: int) -> None:
        if depth > MAX_CONDITION_DEPTH:
            raise self.refuse(f"nesting deeper than {MAX_CONDITION_DEPTH} levels",
                              "write a flatter condition")

    def condition(self, node: ast.AST, depth: int) -> tuple:
        self.check_depth(depth)
        if isinstance(node, ast.BoolOp):
            kind = "and" if isinstance(node.op, ast.And) else "or"
            return kind, tuple(self.condition(part, depth + 1) for part in node.values)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return "not", self.condition(node.operand, depth + 1)
        if isinstance(node, ast.Compare):
            return self.compare(node, depth)
        if isinstance(node, ast.Name | ast.Constant) or (
                isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd)):
            self.term(node, depth)  # refuses bad names, strings, booleans first
            raise self.refuse(f"{_shown(ast.unparse(node))} is not a condition",
                              f"expected a comparison such as {EXAMPLE}")
        raise self.unsupported(node)

    def compare(self, node: ast.Compare, depth: int) -> tuple:
        symbols = []
        for op in node.ops:
            if type(op) not in _COMPARISONS:
                shown = {ast.In: "in", ast.NotIn: "not in", ast.Is: "is",
                         ast.IsNot: "is not"}.get(type(op), type(op).__name__)
                raise self.refuse(f"operator '{shown}' is not allowed",
                                  "expected one of < <= > >= == !=")
            symbols.append(_COMPARISONS[type(op)][0])
        operands = tuple(self.term(part, depth + 1) for part in [node.left, *node.comparators])
        if not any(what == "name" for what, _ in operands):
            raise self.refuse(f"comparison {_shown(ast.unparse(node))} involves no name",
                              "compare an output or param_* with a number")
        return "compare", operands, tuple(symbols)

    def term(self, node: ast.AST, depth: int) -> tuple[str, str | float]:
        self.check_depth(depth)
        if isinstance(node, ast.Name):
            if node.id not in self.known:
                raise ParameterError(
                    "where", f"unknown name {node.id!r} in {_shown(self.text)}; expected a "
                             f"per-sample output or param_* (e.g. "
                             f"{_some_names(self.names, node.id)})")
            self.found.append(node.id)
            return "name", node.id
        return "number", self.number(node, depth)

    def number(self, node: ast.AST, depth: int) -> float:
        self.check_depth(depth)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            if isinstance(node.operand, ast.Name):
                raise self.refuse("arithmetic on names is not allowed",
                                  "compare a name with a number, such as \"x > -5\"")
            value = self.number(node.operand, depth + 1)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                raise self.refuse("True and False are not allowed",
                                  "compare with a number, such as \"x != 0\"")
            if isinstance(value, str | bytes):
                raise self.refuse("strings are not allowed", "compare with a number")
            if isinstance(value, int | float):
                try:
                    return float(value)
                except OverflowError:
                    raise self.refuse(f"number {_shown(ast.unparse(node))} is too large",
                                      "expected a number within float64's range") from None
            raise self.refuse(f"{_shown(ast.unparse(node))} is not a real number",
                              "expected an int or float such as 35_000 or 1e6")
        raise self.unsupported(node)

    def unsupported(self, node: ast.AST) -> ParameterError:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd | ast.BitOr):
            return self.refuse("operators & and | are not allowed",
                               "join conditions with and, or")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
            return self.refuse("operator ~ is not allowed", "negate a condition with not")
        if isinstance(node, ast.BinOp):
            return self.refuse("arithmetic (+ - * / ...) is not allowed",
                               "compare a name with a number, such as \"x < 5\"")
        if isinstance(node, ast.UnaryOp):
            return self.refuse("arithmetic on names is not allowed",
                               "compare a name with a number, such as \"x > -5\"")
        for kind, what in _REFUSED.items():
            if isinstance(node, kind):
                return self.refuse(what)
        return self.refuse(f"{type(node).__name__} expressions are not allowed")


# ---------------------------------------------------------------- discovery


@dataclass(frozen=True, eq=False)
class Discovery:
    """A box of sampled parameters where a condition mostly holds (`discover`).

    Attributes
    ----------
    where : str
        The condition, as `Condition.canonical` prints it.
    samples : int
        Samples used (the run's, minus `dropped`).
    dropped : int
        Samples left out because an input was NaN (or infinite).
    holds : int
        Samples used where the condition holds.
    base_rate : float
        ``holds / samples``.
    inputs : tuple of str
        The parameters the box search could restrict.
    min_density : float
        The density the box choice aimed for.
    trajectory : pandas.DataFrame
        PRIM's peeling (and pasting) trajectory, index ``box`` (0 = every sample),
        columns ``coverage``, ``density``, ``mass`` (shares) and ``restricted``
        (number of restricted parameters).
    chosen : int
        Row of `trajectory` chosen, before pruning.
    coverage, density, mass : float
        The reported (chosen, then pruned) box's coverage (share of the samples where
        the condition holds that are in the box), density (share of the box's samples
        where it holds) and mass (share of all samples in the box).
    reached_target : bool
        Whether the reported box's density reaches `min_density`.
    limits : pandas.DataFrame
        One row per restricted parameter (index: its name), most significant first:
        ``low``, ``high`` (the box; a side PRIM left open is the sample extreme),
        ``sample_low``, ``sample_high`` (the parameter's range in the samples) and
        ``p_value`` (PRIM's quasi-p-value of the restriction).
    pruned : tuple of str
        Restrictions of the chosen box dropped as weak, in the order dropped.
    """

    where: str
    samples: int
    dropped: int
    holds: int
    base_rate: float
    inputs: tuple[str, ...]
    min_density: float
    trajectory: pd.DataFrame
    chosen: int
    coverage: float
    density: float
    mass: float
    reached_target: bool
    limits: pd.DataFrame
    pruned: tuple[str, ...] = ()

    def text(self) -> str:
        """A short summary: the condition, its base rate, the chosen box and its ranges.

        Returns
        -------
        str
            Several lines.
        """
        chosen = self.trajectory.iloc[self.chosen]
        lines = [
            f'Scenario discovery (PRIM) for "{" ".join(self.where.split())}"',
            f"  holds in {_pct(self.base_rate)} of {self.samples:,} samples "
            f"({self.holds:,}); {len(self.inputs)} sampled parameters searched"
            + (f"; {self.dropped:,} samples dropped (an input was NaN)" if self.dropped
               else ""),
            f"  chosen box #{self.chosen} of {len(self.trajectory)} on the peeling trajectory "
            f"(#0 = all samples): coverage {_pct(chosen.coverage)}, density "
            f"{_pct(chosen.density)}, mass {_pct(chosen.mass)}, {int(chosen.restricted)} "
            "restricted",
        ]
        how = ("the box with the most coverage reaching" if chosen.density >= self.min_density
               else "no box reaches")
        lines.append(f"  ({how} the target density {_pct(self.min_density)}"
                     + ("" if chosen.density >= self.min_density else ": the densest one")
                     + ")")
        if self.pruned:
            lines.append(f"  then {len(self.pruned)} weak restriction(s) dropped (p > "
                         f"{WEAK_P_VALUE}): coverage {_pct(self.coverage)}, density "
                         f"{_pct(self.density)}, mass {_pct(self.mass)}"
                         + ("" if self.reached_target else ", below the target density"))
        if self.limits.empty:
            lines.append("  no parameter is restricted: the condition holds at that density "
                         "across the whole sample")
        for name, row in self.limits.iterrows():
            lines.append(f"  {name} in [{human(row.low)}, {human(row.high)}] (prior sample "
                         f"range {human(row.sample_low)}-{human(row.sample_high)}), "
                         f"{p_value_text(row.p_value)}")
        if (self.limits["p_value"] > WEAK_P_VALUE).any():
            lines.append(f"  (a restriction with p > {WEAK_P_VALUE} adds little density over "
                         "the box without it)")
        return "\n".join(lines)


def _pct(share: float) -> str:
    return percent(share)


def p_value_text(p_value: float) -> str:
    """``p = 0.012`` (two significant digits), or ``p < 0.001``."""
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.2g}"


def per_sample_names(ds: xr.Dataset) -> list[str]:
    """Numeric variables with dims exactly ``("sample",)``: the names a condition may use.

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    list of str
    """
    return [str(name) for name, da in ds.data_vars.items()
            if da.dims == ("sample",) and da.dtype.kind in "biuf"]


def _check_results(ds: xr.Dataset) -> None:
    if not isinstance(ds, xr.Dataset):
        raise ParameterError("results", f"expected a run's results (an xarray Dataset), got "
                                        f"{type(ds).__name__}")
    if "scenario" in ds.dims:
        raise ParameterError("results", f"discovery works on one scenario's run; got a sweep "
                                        f"with {ds.sizes['scenario']:,} scenarios (select one)")
    if "sample" not in ds.dims:
        raise ParameterError("results", "expected a run's results with a sample dimension; got "
                                        f"dims {', '.join(map(str, ds.dims)) or 'none'}")


def _check_settings(min_density: float, peel_alpha: float, mass_min: float) -> None:
    for name, value, low, high, shown in (
            ("min_density", min_density, 0.0, 1.0, "in (0, 1]"),
            ("peel_alpha", peel_alpha, 0.0, 0.5, "in (0, 0.5)"),
            ("mass_min", mass_min, 0.0, 1.0, "in [0, 1)")):
        number = isinstance(value, int | float | np.integer | np.floating)
        if isinstance(value, bool) or not number:
            raise ParameterError(name, f"expected a number {shown}, got {value!r}")
        ok = {"min_density": low < value <= high, "peel_alpha": low < value < high,
              "mass_min": low <= value < high}[name]
        if not ok:
            raise ParameterError(name, f"expected a number {shown}, got {value!r}")


def _choose_inputs(ds: xr.Dataset, names: list[str],
                   inputs: Sequence[str] | None) -> list[str]:
    params = [name for name in names if name.startswith("param_")]
    if inputs is None:
        chosen = params
    else:
        if isinstance(inputs, str):
            inputs = [inputs]
        chosen = list(dict.fromkeys(inputs))
        if not chosen:
            raise ParameterError("inputs", "empty list; expected names of sampled parameters "
                                           f"(param_*), e.g. {_some_names(params)}")
        for name in chosen:
            if name not in params:
                guess = f"param_{name}" if f"param_{name}" in params else name
                raise ParameterError(
                    "inputs", f"unknown sampled parameter {name!r}; expected param_* "
                              f"variables of these results (e.g. {_some_names(params, guess)})")
    varied = [name for name in chosen if _distinct_finite(ds[name].values) > 1]
    if not varied:
        what = "the given inputs are" if inputs is not None else "every sampled parameter is"
        raise ParameterError("inputs" if inputs is not None else "results",
                             f"nothing to search: {what} constant (or missing) in these "
                             "results; scenario discovery needs uncertain priors")
    return varied


def _distinct_finite(values: np.ndarray) -> int:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0
    return 1 if np.all(finite == finite[0]) else 2


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the prim package: its loggers (INFO lines on every box) and any warning."""
    logger = logging.getLogger("prim")
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.CRITICAL + 1)
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
        logger.propagate = propagate


def discover(ds: xr.Dataset, where: str, *, min_density: float = 0.8,
             peel_alpha: float = 0.05, mass_min: float = 0.05,
             inputs: Sequence[str] | None = None, prune: bool = True) -> Discovery:
    """Find a box of sampled parameters in which a condition mostly holds (PRIM).

    The condition marks cases of interest; PRIM (Project Platypus's ``prim`` package,
    default objective ``lenient1``, pasting share 0.05) peels a box around them. Box
    choice: among the boxes of the peeling trajectory whose density is at least
    `min_density`, the one with the greatest coverage (ties: the earliest, larger box);
    if none reaches `min_density`, the densest box (`Discovery.reached_target` is then
    False). `min_density` is applied here, not passed to PRIM: in the ``prim`` package
    ``threshold`` classifies a numeric response, and the cases are given as booleans.
    Then (with `prune`) the restriction with the largest quasi-p-value is dropped while
    it exceeds `WEAK_P_VALUE`, as Bryant & Lempert advise: a restriction that adds no
    significant density is noise of the search (with tens of parameters and a few
    thousand samples, the densest boxes restrict many of them by chance). The pruned
    box's coverage, density and mass are those reported.

    Parameters
    ----------
    ds : xarray.Dataset
        One run's results (dims include ``sample``), full or summary. Sweeps (a
        ``scenario`` dim) are refused.
    where : str
        The condition (`parse_condition`) on per-sample outputs and ``param_*``
        variables, e.g. ``"force_change_persons < 0"``.
    min_density : float
        Density the reported box should reach, in (0, 1].
    peel_alpha : float
        Share of the box's samples peeled per step, in (0, 0.5).
    mass_min : float
        Smallest share of all samples a box may hold, in [0, 1).
    inputs : sequence of str, optional
        The ``param_*`` variables the box may restrict; by default every one with more
        than one distinct finite value. Samples where one of them is NaN are dropped
        and counted (`Discovery.dropped`).
    prune : bool
        Drop the chosen box's weak restrictions (quasi-p-value > `WEAK_P_VALUE`), one at
        a time, weakest first.

    Returns
    -------
    Discovery
        The condition (``where``), the samples used and dropped, ``holds`` and
        ``base_rate`` (share of samples where it holds, 0-1); the PRIM ``trajectory``
        (DataFrame indexed by ``box``, 0 = every sample: ``coverage``, ``density``,
        ``mass`` as shares 0-1, ``restricted`` a count) and the ``chosen`` row; the
        reported box's ``coverage``, ``density``, ``mass`` (0-1) and whether it
        ``reached_target``; ``limits`` (DataFrame indexed by ``param_*`` name, most
        significant first: ``low``, ``high`` the box and ``sample_low``,
        ``sample_high`` the sampled range, in the parameter's units; ``p_value``); the
        ``pruned`` restrictions. ``text()`` renders it (shares in %).

    Raises
    ------
    ParameterError
        ``results``: not one run's results, or no varying parameter; ``where``: a bad
        condition, or one that holds for none or all of the samples; ``inputs``: an
        unknown or empty list; ``min_density``, ``peel_alpha``, ``mass_min``: out of
        range.
    """
    _check_results(ds)
    _check_settings(min_density, peel_alpha, mass_min)
    names = per_sample_names(ds)
    condition = parse_condition(where, names)
    chosen_inputs = _choose_inputs(ds, names, inputs)

    x = np.column_stack([np.asarray(ds[name].values, dtype=np.float64)
                         for name in chosen_inputs])
    complete = np.all(np.isfinite(x), axis=1)
    dropped = int(np.count_nonzero(~complete))
    if dropped:
        x = x[complete]
        keep = [j for j in range(x.shape[1]) if _distinct_finite(x[:, j]) > 1]
        chosen_inputs = [chosen_inputs[j] for j in keep]
        x = x[:, keep]
        if not chosen_inputs:
            raise ParameterError("results", f"nothing to search: {dropped:,} samples have a "
                                            "NaN input and the rest vary in no parameter")
    holds = condition.evaluate({name: ds[name].values for name in condition.names})[complete]
    samples, count = int(holds.size), int(np.count_nonzero(holds))
    if count in (0, samples):
        raise ParameterError("where", f"{_shown(where)} holds for {count:,} of {samples:,} "
                                      "samples: nothing to discover")

    with _quiet():
        import prim

        finder = prim.Prim(pd.DataFrame(x, columns=chosen_inputs), holds,
                           peel_alpha=peel_alpha, mass_min=mass_min)
        box = finder.find_box()
        trajectory = _trajectory(box.peeling_trajectory)
        chosen, _ = choose_box(trajectory, min_density)
        box.select(chosen)
        limits = _limits(box.limits, chosen_inputs, x)
        pruned = []
        if prune:  # drop the weakest restriction while one adds little (p > WEAK_P_VALUE)
            while len(limits) and limits["p_value"].max() > WEAK_P_VALUE:
                weakest = str(limits["p_value"].idxmax())
                box.drop_restriction(weakest)
                pruned.append(weakest)
                limits = _limits(box.limits, chosen_inputs, x)
        row = _trajectory(box.peeling_trajectory).iloc[-1] if pruned else trajectory.iloc[chosen]

    return Discovery(where=condition.canonical, samples=samples, dropped=dropped, holds=count,
                     base_rate=count / samples, inputs=tuple(chosen_inputs),
                     min_density=float(min_density), trajectory=trajectory, chosen=chosen,
                     coverage=float(row.coverage), density=float(row.density),
                     mass=float(row.mass), reached_target=bool(row.density >= min_density),
                     limits=limits, pruned=tuple(pruned))


def choose_box(trajectory: pd.DataFrame, min_density: float) -> tuple[int, bool]:
    """The reported box of a peeling trajectory, and whether it reaches `min_density`.

    Among the boxes with density >= `min_density`, the one with the greatest coverage
    (the first such box on ties); if there is none, the densest box (the first on ties).

    Parameters
    ----------
    trajectory : pandas.DataFrame
        With columns ``coverage`` and ``density``, in trajectory order.
    min_density : float

    Returns
    -------
    (int, bool)
        Position of the box, and whether its density reaches `min_density`.
    """
    density = trajectory["density"].to_numpy(dtype=np.float64)
    coverage = trajectory["coverage"].to_numpy(dtype=np.float64)
    dense = np.flatnonzero(density >= min_density)
    if dense.size:
        return int(dense[np.argmax(coverage[dense])]), True
    return int(np.argmax(density)), False


def _trajectory(peeling: pd.DataFrame) -> pd.DataFrame:
    trajectory = pd.DataFrame({
        "coverage": peeling["coverage"].to_numpy(dtype=np.float64),
        "density": peeling["density"].to_numpy(dtype=np.float64),
        "mass": peeling["mass"].to_numpy(dtype=np.float64),
        "restricted": peeling["res dim"].to_numpy(dtype=np.int64),
    })
    trajectory.index.name = "box"
    return trajectory


def _limits(prim_limits: pd.DataFrame, inputs: list[str], x: np.ndarray) -> pd.DataFrame:
    """PRIM's limits of the selected box (columns min, max, qp values; restricted
    parameters only, sorted by quasi-p-value) as the columns of `Discovery.limits`."""
    column = {name: j for j, name in enumerate(inputs)}
    rows = []
    for name, limit in prim_limits.iterrows():
        values = x[:, column[str(name)]]
        sample_low, sample_high = float(values.min()), float(values.max())
        low, high = float(limit["min"]), float(limit["max"])
        rows.append({"parameter": str(name),
                     "low": low if np.isfinite(low) else sample_low,
                     "high": high if np.isfinite(high) else sample_high,
                     "sample_low": sample_low, "sample_high": sample_high,
                     "p_value": float(limit["qp values"])})
    columns = ["low", "high", "sample_low", "sample_high", "p_value"]
    if not rows:
        return pd.DataFrame(columns=columns, dtype=np.float64,
                            index=pd.Index([], name="parameter", dtype=object))
    return pd.DataFrame(rows).set_index("parameter")[columns]
