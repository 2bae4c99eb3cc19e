"""Streaming statistics over samples: quantile sketches and moments, in bounded memory.

Pure NumPy. Each statistic follows many series at once (one per variable and time
step) and is updated block by block, so memory depends on the number of series,
never on the number of samples.

- `QuantileSketch`: a vectorized DDSketch (Masson, Rim & Lee 2019). Values are
  counted in logarithmic buckets; a quantile is answered with relative error at
  most `relative_accuracy` (plus 6e-8: values are bucketed as float32, exactly, by
  table lookup; for magnitudes in [`MIN_MAGNITUDE`, `MAX_MAGNITUDE`]; magnitudes
  below the lowest bucket, which starts just under `MIN_MAGNITUDE`, count as zero,
  an absolute error below `MIN_MAGNITUDE`).
  Counts are integers, so the sketch is exact under any order of updates.
- `Moments`: count, mean and sum of squared deviations, merged with Chan et al.'s
  parallel formula in a fixed order.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

MIN_MAGNITUDE = 1e-9
MAX_MAGNITUDE = 1e18
DEFAULT_RELATIVE_ACCURACY = 0.01
PREFIX_SHIFT = 15
"""float32 bits dropped to name a bucketing range: 17 bits left, 8 of them mantissa."""
SLAB = 2**14
"""Values bucketed at once by `QuantileSketch.update` (temporaries in cache)."""


@functools.lru_cache(maxsize=4)
def bucket_tables(relative_accuracy: float) -> tuple[np.ndarray, np.ndarray]:
    """Lookup tables that bucket float32 values exactly (`QuantileSketch._columns`).

    Returns
    -------
    limits : ndarray of uint32, shape (2^17,)
        For each range of float32 bit patterns sharing their top 17 bits, the largest
        bit pattern in the range's low bucket.
    table : ndarray of int32, shape (2^18,)
        Column of range p's low bucket at 2p, of its high bucket at 2p + 1.
    """
    sketch = QuantileSketch.__new__(QuantileSketch)
    sketch.alpha = relative_accuracy
    sketch.log_gamma = math.log((1 + relative_accuracy) / (1 - relative_accuracy))
    if sketch.log_gamma <= math.log1p(2.0 ** (PREFIX_SHIFT - 23)):
        raise ValueError(f"relative_accuracy {relative_accuracy}: buckets narrower than "
                         "the lookup's ranges (at least 0.002 is supported)")
    sketch.offset = math.ceil(math.log(MIN_MAGNITUDE) / sketch.log_gamma)
    sketch.n_buckets = (math.ceil(math.log(MAX_MAGNITUDE) / sketch.log_gamma)
                        - sketch.offset + 1)
    span = 1 << PREFIX_SHIFT
    first = np.arange(1 << (32 - PREFIX_SHIFT), dtype=np.uint64) << np.uint64(PREFIX_SHIFT)
    low = sketch._exact_columns(first.astype(np.uint32).view(np.float32))
    high = sketch._exact_columns((first + span - 1).astype(np.uint32).view(np.float32))
    # Binary search for the last bit pattern still in the low bucket (monotone in the bits).
    lo, hi = np.zeros(first.size, np.uint64), np.full(first.size, span - 1, np.uint64)
    while np.any(lo < hi):
        mid = (lo + hi + 1) // 2
        same = sketch._exact_columns((first + mid).astype(np.uint32).view(np.float32)) == low
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid - 1)
    limits = (first + lo).astype(np.uint32)
    table = np.stack([low, high], axis=1).reshape(-1).astype(np.int32)
    return limits, table


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
    alpha of every value of the bucket; buckets below the one holding `MIN_MAGNITUDE`
    count as zero. Negative values use a mirrored store; the
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
        self._limits, self._table = bucket_tables(relative_accuracy)
        # Columns each series has counted, while only `update` has counted: `sparse`
        # then scans those alone (a chunk's values fill a few hundred of 6,000 columns).
        self._low = np.full(n_series, self.width, dtype=np.int64)
        self._high = np.full(n_series, -1, dtype=np.int64)
        self._tracked = True

    @property
    def n_series(self) -> int:
        """Number of series."""
        return self.counts.shape[0]

    def _columns(self, values: np.ndarray) -> np.ndarray:
        """Bucket column of every value, int32 (the hot path: a table lookup, no logarithm).

        The value is rounded to float32; its top 17 bits (sign, exponent, 8 mantissa
        bits) name a range of relative width 2^-8, narrower than a bucket (2 alpha), so
        it holds at most one bucket boundary: the column is the range's low column, or
        its high column past the range's boundary (`bucket_tables`).
        """
        bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
        prefix = bits >> np.uint32(PREFIX_SHIFT)
        above = bits > np.take(self._limits, prefix)  # past the range's boundary
        prefix <<= np.uint32(1)
        prefix |= above
        return np.take(self._table, prefix)

    def update(self, values: np.ndarray) -> None:
        """Count a block of values.

        Parameters
        ----------
        values : ndarray, shape (S, n)
            One row per series (float64 or float32: bucketed after rounding to
            float32); non-finite values are not allowed.

        Notes
        -----
        Rows are bucketed and counted a slab of about `SLAB` values at a time, so the
        temporaries stay in cache and each count covers a few rows' columns only.
        """
        values = np.asarray(values)
        if values.size == 0:
            return
        rows = max(1, SLAB // values.shape[1])
        offsets = (np.arange(rows, dtype=np.int32) * self.width)[:, None]
        for first in range(0, values.shape[0], rows):
            block = values[first:first + rows]
            columns = self._columns(block)
            rows_ = slice(first, first + len(block))
            np.minimum(self._low[rows_], columns.min(axis=1), out=self._low[rows_])
            np.maximum(self._high[rows_], columns.max(axis=1), out=self._high[rows_])
            columns += offsets[:len(block)]
            self.counts[first:first + len(block)] += np.bincount(
                columns.ravel(), minlength=len(block) * self.width).reshape(len(block), -1)

    def sparse(self) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices and values of the non-zero counts (a sketch is mostly empty)."""
        if not self._tracked:
            flat = self.counts.reshape(-1)
            columns = np.flatnonzero(flat)
            return columns, flat[columns]
        columns, counts = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for series in np.flatnonzero(self._high >= self._low):
            low = self._low[series]
            row = self.counts[series, low:self._high[series] + 1]
            used = np.flatnonzero(row)
            columns.append(used + (series * self.width + low))
            counts.append(row[used])
        return np.concatenate(columns), np.concatenate(counts)

    def add_sparse(self, columns: np.ndarray, counts: np.ndarray) -> None:
        """Add counts given as by `sparse` (from another sketch of the same shape)."""
        self._tracked = False
        self.counts.reshape(-1)[columns] += counts

    def merge(self, other: QuantileSketch) -> None:
        """Add another sketch's counts (same series and accuracy)."""
        self._tracked = False
        self.counts += other.counts

    def _exact_columns(self, values: np.ndarray) -> np.ndarray:
        """Bucket column of float32 values by the definition, with float64 logarithms
        (builds the lookup tables; NaN counts as the largest magnitude)."""
        with np.errstate(invalid="ignore"):
            magnitude = np.abs(values.astype(np.float64))
        with np.errstate(divide="ignore", invalid="ignore"):
            index = np.ceil(np.log(magnitude) / self.log_gamma) - (self.offset - 1)
        index = np.clip(np.nan_to_num(index, nan=self.n_buckets, neginf=0.0), 0,
                        self.n_buckets)  # 0: counted as zero
        return (np.where(np.signbit(values), -index, index) + self.n_buckets).astype(np.int64)

    def _values(self) -> np.ndarray:
        """Each bucket's representative value; the outermost buckets, which hold every value
        beyond `MAX_MAGNITUDE` (infinities included), read as -inf and +inf."""
        i = np.arange(self.n_buckets) + self.offset
        positive = 2 * np.exp(i * self.log_gamma) / (np.exp(self.log_gamma) + 1)
        positive[-1] = np.inf
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
        """Moments of a block, values shape (S, n) (an infinite value gives an infinite
        mean and a NaN spread, without warnings)."""
        with np.errstate(invalid="ignore", over="ignore"):
            return cls._of(values)

    @classmethod
    def _of(cls, values: np.ndarray) -> Moments:
        mean = values.mean(axis=1)
        deviations = values - mean[:, None]
        np.square(deviations, out=deviations)  # the same numbers as (values - mean) ** 2
        return cls(float(values.shape[1]), mean, deviations.sum(axis=1))

    def merge(self, other: Moments) -> None:
        """Fold `other` in (Chan, Golub & LeVeque's pairwise update)."""
        if other.count == 0:
            return
        total = self.count + other.count
        with np.errstate(invalid="ignore", over="ignore"):  # infinite values: NaN spread
            delta = np.where(self.mean == other.mean, 0.0, other.mean - self.mean)  # inf
            self.mean = self.mean + delta * (other.count / total)
            self.m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / total)
        self.count = total

    @property
    def sd(self) -> np.ndarray:
        """Sample standard deviation (n - 1 in the denominator)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt(self.m2 / (self.count - 1))
