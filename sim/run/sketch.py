"""Streaming statistics over samples: quantile sketches and moments, in bounded memory.

Pure NumPy. Each statistic follows many series at once (one per variable and time
step) and is updated block by block, so memory depends on the number of series,
never on the number of samples.

- `QuantileSketch`: a vectorized DDSketch (Masson, Rim & Lee 2019). Values are
  counted in logarithmic buckets; a quantile is answered with relative error at
  most `relative_accuracy` (plus 1e-6 for float32 bucketing; for magnitudes in
  [`MIN_MAGNITUDE`, `MAX_MAGNITUDE`]; smaller magnitudes count as zero, an absolute
  error below `MIN_MAGNITUDE`).
  Counts are integers, so the sketch is exact under any order of updates.
- `Moments`: count, mean and sum of squared deviations, merged with Chan et al.'s
  parallel formula in a fixed order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_MAGNITUDE = 1e-9
MAX_MAGNITUDE = 1e18
DEFAULT_RELATIVE_ACCURACY = 0.01


class QuantileSketch:
    """Relative-error quantiles of many series, updated by blocks of samples.

    Parameters
    ----------
    n_series : int
        Number of series S (e.g. variables x time steps).
    relative_accuracy : float
        alpha: every quantile is within a factor (1 +/- alpha) of the exact one.

    Notes
    -----
    With gamma = (1 + alpha) / (1 - alpha), a magnitude x falls in bucket
    i = ceil(log_gamma x), represented by 2 gamma^i / (gamma + 1), which is within
    alpha of every value of the bucket. Negative values use a mirrored store; the
    quantile at level q is the value of rank floor(q (n - 1)) (NumPy's "lower").
    """

    def __init__(self, n_series: int, relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY):
        self.alpha = relative_accuracy
        self.log_gamma = math.log((1 + relative_accuracy) / (1 - relative_accuracy))
        self.offset = math.ceil(math.log(MIN_MAGNITUDE) / self.log_gamma)
        self.n_buckets = math.ceil(math.log(MAX_MAGNITUDE) / self.log_gamma) - self.offset + 1
        # Layout per series: [negatives, largest magnitude first | zero | positives].
        self.width = 2 * self.n_buckets + 1
        self.counts = np.zeros((n_series, self.width), dtype=np.int64)

    @property
    def n_series(self) -> int:
        """Number of series."""
        return self.counts.shape[0]

    def _columns(self, values: np.ndarray) -> np.ndarray:
        """Bucket column of every value (in-place arithmetic: this is the hot path)."""
        # float32 halves the cost of the logarithm; its 6e-8 relative rounding moves a
        # value across a bucket boundary only within 1e-6 of it.
        magnitude = np.abs(values, dtype=np.float32)
        sign = np.sign(values, dtype=np.float32)
        sign[magnitude < MIN_MAGNITUDE] = 0.0  # counted as zero
        np.maximum(magnitude, np.float32(MIN_MAGNITUDE), out=magnitude)
        index = np.log(magnitude, out=magnitude)
        index *= np.float32(1.0 / self.log_gamma)
        np.ceil(index, out=index)
        index -= np.float32(self.offset - 1)  # bucket + 1, so that zero stays in the middle
        np.clip(index, np.float32(1), np.float32(self.n_buckets), out=index)
        index *= sign
        index += np.float32(self.n_buckets)
        return index.astype(np.int64)

    def update(self, values: np.ndarray) -> None:
        """Count a block of values.

        Parameters
        ----------
        values : ndarray, shape (S, n)
            One row per series; non-finite values are not allowed.
        """
        columns = self._columns(values) + (np.arange(self.n_series) * self.width)[:, None]
        self.counts += np.bincount(columns.ravel(), minlength=self.counts.size).reshape(
            self.counts.shape)

    def sparse(self) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices and values of the non-zero counts (a sketch is mostly empty)."""
        flat = self.counts.reshape(-1)
        columns = np.flatnonzero(flat)
        return columns, flat[columns]

    def add_sparse(self, columns: np.ndarray, counts: np.ndarray) -> None:
        """Add counts given as by `sparse` (from another sketch of the same shape)."""
        self.counts.reshape(-1)[columns] += counts

    def merge(self, other: QuantileSketch) -> None:
        """Add another sketch's counts (same series and accuracy)."""
        self.counts += other.counts

    def _values(self) -> np.ndarray:
        i = np.arange(self.n_buckets) + self.offset
        positive = 2 * np.exp(i * self.log_gamma) / (np.exp(self.log_gamma) + 1)
        return np.concatenate([-positive[::-1], [0.0], positive])

    def quantiles(self, levels: np.ndarray) -> np.ndarray:
        """Quantiles of every series, shape (len(levels), S)."""
        levels = np.asarray(levels, dtype=np.float64)
        cumulative = np.cumsum(self.counts, axis=1)
        total = cumulative[:, -1]
        ranks = np.floor(levels[:, None] * (total[None, :] - 1))  # (L, S)
        out = np.empty((len(levels), self.n_series))
        values = self._values()
        for s in range(self.n_series):
            out[:, s] = values[np.searchsorted(cumulative[s], ranks[:, s], side="right")]
        out[:, total == 0] = np.nan
        return out


@dataclass
class Moments:
    """Running count, mean and sum of squared deviations (M2) of many series.

    Attributes
    ----------
    count : float
        Samples seen.
    mean, m2 : ndarray, shape (S,)
    """

    count: float
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def empty(cls, n_series: int) -> Moments:
        """No samples yet."""
        return cls(0.0, np.zeros(n_series), np.zeros(n_series))

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        """Moments of a block, values shape (S, n)."""
        mean = values.mean(axis=1)
        return cls(float(values.shape[1]), mean, ((values - mean[:, None]) ** 2).sum(axis=1))

    def merge(self, other: Moments) -> None:
        """Fold `other` in (Chan, Golub & LeVeque's pairwise update)."""
        if other.count == 0:
            return
        total = self.count + other.count
        delta = other.mean - self.mean
        self.mean = self.mean + delta * (other.count / total)
        self.m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / total)
        self.count = total

    @property
    def sd(self) -> np.ndarray:
        """Sample standard deviation (n - 1 in the denominator)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt(self.m2 / (self.count - 1))
