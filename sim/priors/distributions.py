"""Prior distributions, declared as data, each with a vectorized ppf.

Every prior is a thin wrapper around a frozen :mod:`scipy.stats` distribution
(or a fixed value), so every family has the same interface: ``ppf(u)`` maps
points of the unit interval to parameter values, which lets one prior spec
serve every sampling design (random, LHS, Sobol).

The TOML forms are
- a bare number: a fixed value;
- ``"A to B"``: an analyst's 90% interval (lognormal when both ends are
  positive, else normal);
- a table ``{ dist = "...", ... }`` with the parameters listed in `FAMILIES`,
  optionally carrying ``source = "..."``.

This module knows nothing of files; it raises `PriorError` with a message and
lets the config layer add the file and key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from scipy import special, stats

TAIL_PROBABILITY = 1e-9
"""Tail mass beyond which an unbounded prior's values count as outside its support."""

DEFAULT_CREDIBILITY = 90.0
"""Credibility [%] of an interval written as ``"A to B"``."""


class PriorError(ValueError):
    """A prior specification that cannot be turned into a distribution."""


@dataclass(frozen=True)
class Family:
    """A distribution family: its parameters, constraints and scipy constructor.

    Attributes
    ----------
    params : tuple of str
        Required parameter names, in the order they are shown.
    build : callable
        ``build(**params)`` returns a frozen scipy distribution.
    constraints : tuple of (predicate, message)
        Each predicate takes the parameter dict; a false result raises the message.
    optional : dict
        Optional parameters and their defaults.
    ppf : callable, optional
        ``ppf(u, **params)`` in closed form, used instead of the scipy object's
        generic ``ppf`` (whose argument checks cost more than the arithmetic).
        The tests check it against scipy to 1e-12.
    """

    params: tuple[str, ...]
    build: Callable[..., Any]
    constraints: tuple[tuple[Callable[[dict], bool], str], ...] = ()
    optional: dict[str, float] = field(default_factory=dict)
    ppf: Callable[..., np.ndarray] | None = None


def _z_of(credibility: float) -> float:
    """Standard normal quantile bounding a central interval of `credibility` %."""
    return float(stats.norm.ppf(0.5 + credibility / 200.0))


def _range_dist(low: float, high: float, credibility: float):
    z = _z_of(credibility)
    if low > 0:
        median = math.sqrt(low * high)
        sigma = (math.log(high) - math.log(low)) / (2 * z)
        return stats.lognorm(s=sigma, scale=median)
    return stats.norm(loc=(low + high) / 2, scale=(high - low) / (2 * z))


def _range_ppf(u, low, high, credibility):
    z = special.ndtri(u)
    half_width = 1 / (2 * _z_of(credibility))
    if low > 0:
        return math.sqrt(low * high) * np.exp((math.log(high) - math.log(low)) * half_width * z)
    return (low + high) / 2 + (high - low) * half_width * z


def _triangular_ppf(u, low, mode, high):
    width = high - low
    split = (mode - low) / width
    rising = low + np.sqrt(u * width * (mode - low))
    falling = high - np.sqrt((1 - u) * width * (high - mode))
    return np.where(u < split, rising, falling)


def _pert_dist(low: float, mode: float, high: float):
    width = high - low
    a = 1 + 4 * (mode - low) / width
    b = 1 + 4 * (high - mode) / width
    return stats.beta(a, b, loc=low, scale=width)


_LOW_LT_HIGH = (lambda p: p["low"] < p["high"], "low < high")
_MODE_INSIDE = (lambda p: p["low"] <= p["mode"] <= p["high"], "low <= mode <= high")

FAMILIES: dict[str, Family] = {
    "uniform": Family(
        ("low", "high"),
        lambda low, high: stats.uniform(loc=low, scale=high - low),
        (_LOW_LT_HIGH,),
        ppf=lambda u, low, high: low + u * (high - low),
    ),
    "normal": Family(
        ("mean", "sd"),
        lambda mean, sd: stats.norm(loc=mean, scale=sd),
        ((lambda p: p["sd"] > 0, "sd > 0"),),
        ppf=lambda u, mean, sd: mean + sd * special.ndtri(u),
    ),
    "lognormal": Family(
        ("median", "sigma"),
        lambda median, sigma: stats.lognorm(s=sigma, scale=median),
        ((lambda p: p["median"] > 0, "median > 0"), (lambda p: p["sigma"] > 0, "sigma > 0")),
        ppf=lambda u, median, sigma: median * np.exp(sigma * special.ndtri(u)),
    ),
    "triangular": Family(
        ("low", "mode", "high"),
        lambda low, mode, high: stats.triang(
            c=(mode - low) / (high - low), loc=low, scale=high - low
        ),
        (_LOW_LT_HIGH, _MODE_INSIDE),
        ppf=_triangular_ppf,
    ),
    "pert": Family(("low", "mode", "high"), _pert_dist, (_LOW_LT_HIGH, _MODE_INSIDE)),
    "truncnormal": Family(
        ("mean", "sd", "low", "high"),
        lambda mean, sd, low, high: stats.truncnorm(
            a=(low - mean) / sd, b=(high - mean) / sd, loc=mean, scale=sd
        ),
        ((lambda p: p["sd"] > 0, "sd > 0"), _LOW_LT_HIGH),
    ),
    "beta": Family(
        ("a", "b"),
        lambda a, b: stats.beta(a, b),
        ((lambda p: p["a"] > 0, "a > 0"), (lambda p: p["b"] > 0, "b > 0")),
    ),
    "range": Family(
        ("low", "high"),
        _range_dist,
        (_LOW_LT_HIGH, (lambda p: 0 < p["credibility"] < 100
                        and 0 < _z_of(p["credibility"]) < math.inf,
                        "0 < credibility < 100, an interval neither empty nor the whole line "
                        "in double precision (e.g. 90)")),
        optional={"credibility": DEFAULT_CREDIBILITY},
        ppf=_range_ppf,
    ),
}
"""Every distribution family a config may name in ``dist = "..."`` (besides ``fixed``)."""

FAMILY_NAMES = ("fixed", *FAMILIES)


@dataclass(frozen=True)
class Prior:
    """One uncertain (or fixed) parameter's distribution.

    Attributes
    ----------
    family : str
        One of `FAMILY_NAMES`.
    params : dict
        The family's parameters as given (after defaults), e.g. ``{"low": 1, "high": 2}``.
    source : str
        Citation for the numbers, as written in the config ("" if none).
    """

    family: str
    params: dict[str, float]
    source: str = ""

    @property
    def is_fixed(self) -> bool:
        """True when the prior is a single value and needs no random draw."""
        return self.family == "fixed"

    @cached_property
    def dist(self):
        """The frozen scipy distribution (not defined for fixed priors)."""
        if self.is_fixed:
            raise PriorError("a fixed value has no scipy distribution")
        return FAMILIES[self.family].build(**self.params)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF, vectorized.

        Parameters
        ----------
        u : ndarray
            Probabilities in [0, 1], any shape.

        Returns
        -------
        ndarray
            Parameter values, same shape as `u`, float64.
        """
        u = np.asarray(u, dtype=np.float64)
        if self.is_fixed:
            return np.full(u.shape, self.params["value"])
        closed_form = FAMILIES[self.family].ppf
        if closed_form is not None:
            return np.asarray(closed_form(u, **self.params), dtype=np.float64)
        return np.asarray(self.dist.ppf(u), dtype=np.float64)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw `size` independent values: uniform draws mapped through `ppf`."""
        return self.ppf(rng.random(size))

    def effective_support(self) -> tuple[float, float]:
        """The quantiles at `TAIL_PROBABILITY` and one minus it.

        All but a negligible mass lies inside; validation checks this interval
        against the parameter's domain, so that, say, a normal prior on a
        positive quantity is accepted only when negative values are practically
        impossible, and a lognormal (support starting at an open 0) passes a
        "> 0" domain.
        """
        if self.is_fixed:
            v = self.params["value"]
            return v, v
        low, high = self.dist.ppf([TAIL_PROBABILITY, 1 - TAIL_PROBABILITY])
        return float(low), float(high)

    def quantile(self, q: float) -> float:
        """The `q` quantile as a float."""
        return float(self.ppf(np.array(q)))

    def describe(self) -> str:
        """Short text form, e.g. ``lognormal(median=55000, sigma=0.061)``: six significant
        digits, never in scientific notation."""
        if self.is_fixed:
            return _plain(self.params["value"])
        inner = ", ".join(f"{k}={_plain(v)}" for k, v in self.params.items())
        return f"{self.family}({inner})"


def _plain(x: float) -> str:
    """``x`` with six significant digits in positional notation (no exponent)."""
    return np.format_float_positional(float(x), precision=6, unique=True, fractional=False,
                                      trim="-")


_RANGE_RE = re.compile(r"^\s*(\S+)\s+to\s+(\S+)\s*$")


def _number(value: Any, what: str) -> float:
    """Coerce a TOML number to float, refusing bools, strings and non-finite values."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PriorError(f"{what} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise PriorError(f"{what} must be finite, got {value!r}")
    return x


def _parse_range_text(text: str) -> tuple[float, float]:
    match = _RANGE_RE.match(text)
    if not match:
        raise PriorError(f'expected a number, a range "LOW to HIGH" or a table, got {text!r}')
    ends = []
    for token in match.groups():
        try:
            ends.append(float(token))
        except ValueError:
            raise PriorError(f"range end {token!r} in {text!r} is not a number") from None
    low, high = ends
    for end in ends:
        if not math.isfinite(end):
            raise PriorError(f"range ends must be finite, got {text!r}")
    return low, high


def _check(family: str, params: dict[str, float]) -> None:
    for predicate, requirement in FAMILIES[family].constraints:
        if not predicate(params):
            shown = ", ".join(f"{k}={v:g}" for k, v in params.items())
            raise PriorError(f"{family} prior needs {requirement}, got {shown}")


def prior_from_value(value: Any) -> Prior:
    """Build a `Prior` from its TOML value.

    Parameters
    ----------
    value : number, str or dict
        A bare number (fixed), ``"A to B"`` (90% interval) or a table with ``dist``.

    Returns
    -------
    Prior

    Raises
    ------
    PriorError
        With a one-line message saying what was expected.

    Examples
    --------
    >>> prior_from_value("50_000 to 60_000").family
    'range'
    >>> round(prior_from_value("50_000 to 60_000").quantile(0.05))
    50000
    """
    if isinstance(value, str):
        low, high = _parse_range_text(value)
        params = {"low": low, "high": high, "credibility": DEFAULT_CREDIBILITY}
        _check("range", params)
        return Prior("range", params)
    if isinstance(value, dict):
        return _prior_from_table(value)
    return Prior("fixed", {"value": _number(value, "value")})


def _prior_from_table(table: dict[str, Any]) -> Prior:
    table = dict(table)
    family = table.pop("dist", None)
    source = table.pop("source", "")
    if not isinstance(source, str):
        raise PriorError(f"source must be a string, got {source!r}")
    if family not in FAMILY_NAMES:
        raise PriorError(
            f"dist must be one of {', '.join(FAMILY_NAMES)}; got {family!r}"
        )
    if family == "fixed":
        required, optional = ("value",), {}
    else:
        required, optional = FAMILIES[family].params, FAMILIES[family].optional
    unknown = sorted(set(table) - set(required) - set(optional))
    if unknown:
        raise PriorError(
            f"{family} prior takes {', '.join((*required, *optional))}; "
            f"unknown: {', '.join(unknown)}"
        )
    missing = [name for name in required if name not in table]
    if missing:
        raise PriorError(f"{family} prior needs {', '.join(missing)}")
    params = {name: _number(table[name], name) for name in required}
    for name, default in optional.items():
        params[name] = _number(table.get(name, default), name)
    if family != "fixed":
        _check(family, params)
    return Prior(family, params, source)
