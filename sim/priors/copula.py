"""Gaussian copula: rank-correlated priors whose marginals stay exactly as specified.

Points in the unit hypercube are mapped to standard normals, mixed by the
Cholesky factor of the copula's correlation matrix and mapped back, before each
prior's ppf. Pure NumPy/SciPy; no file or config knowledge.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special

Pair = tuple[str, str, float]
"""(parameter a, parameter b, Spearman rank correlation)."""

_LOW = np.finfo(np.float64).tiny
_HIGH = 1.0 - 2.0**-53


def spearman_to_pearson(rank: np.ndarray | float) -> np.ndarray | float:
    """Pearson correlation of a bivariate normal with the given Spearman correlation.

    Notes
    -----
    For a Gaussian copula, rho_S = (6 / pi) arcsin(r / 2), so r = 2 sin(pi rho_S / 6).
    """
    return 2.0 * np.sin(np.pi * np.asarray(rank) / 6.0)


def correlation_matrix(keys: Sequence[str], pairs: Sequence[Pair]) -> np.ndarray:
    """The normal copula's correlation matrix over `keys`, shape (d, d)."""
    index = {key: i for i, key in enumerate(keys)}
    matrix = np.eye(len(keys))
    for a, b, rank in pairs:
        i, j = index[a], index[b]
        matrix[i, j] = matrix[j, i] = spearman_to_pearson(rank)
    return matrix


def cholesky_factor(matrix: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor, or None when `matrix` is not positive definite."""
    try:
        return np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return None


def offending_pairs(keys: Sequence[str], pairs: Sequence[Pair],
                    threshold: float = 0.1) -> list[Pair]:
    """The given pairs that make the matrix indefinite.

    They are the pairs whose two parameters both load on the eigenvector of the
    smallest eigenvalue (|loading| > `threshold`): the direction in which the
    matrix fails.
    """
    matrix = correlation_matrix(keys, pairs)
    vectors = np.linalg.eigh(matrix).eigenvectors
    loading = dict(zip(keys, np.abs(vectors[:, 0]), strict=True))
    involved = [p for p in pairs if loading[p[0]] > threshold and loading[p[1]] > threshold]
    return involved or list(pairs)


def apply_copula(unit: np.ndarray, factor: np.ndarray | None) -> np.ndarray:
    """Impose the copula on independent uniform points.

    Parameters
    ----------
    unit : ndarray, shape (n, d)
        Independent points in the unit hypercube (any design).
    factor : ndarray, shape (d, d), or None
        Lower Cholesky factor of the normal copula's correlation; None: independent.

    Returns
    -------
    ndarray, shape (n, d)
        Uniform margins, normal-copula dependence. Each row depends only on the
        same row of `unit`, so the result does not depend on how rows are chunked.
    """
    if factor is None:
        return unit
    z = special.ndtri(np.clip(unit, _LOW, _HIGH))
    # Elementwise products summed in a fixed order, not a BLAS matmul, whose
    # summation order can depend on the number of rows: results stay
    # bit-identical whatever the chunking.
    mixed = np.empty_like(z)
    for i in range(z.shape[1]):
        column = mixed[:, i]
        np.multiply(z[:, 0], factor[i, 0], out=column)
        for j in range(1, i + 1):
            column += z[:, j] * factor[i, j]
    return special.ndtr(mixed)
