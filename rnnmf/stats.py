"""The delete-one jackknife (Efron 1982, ch. 2): standard errors of statistics that are smooth functions of means.

    estimates = f(*(delete_one_means(x) for x in samples))    # the k leave-one-out values of the statistic
    se = jackknife_se(estimates)                               # √((k − 1)/k · Σ (estimate_i − mean)²)

Used for the Jacobian spectra (``rnnmf.sim.jacobian.pooled_stats``: moments pooled over networks, and the growth of
their normalised variance per step in ``experiments/isometry.py``), where the samples are independent networks.
"""

from __future__ import annotations

import math

import numpy as np


def delete_one_means(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """The k means of ``x`` along ``axis`` that leave out one sample each (same shape as x; k ≥ 2)."""
    x = np.asarray(x, dtype=float)
    return (x.sum(axis=axis, keepdims=True) - x) / (x.shape[axis] - 1)


def jackknife_se(estimates) -> float:
    """Jackknife standard error from the k delete-one estimates of a statistic (a 1-D sequence, k ≥ 2)."""
    e = np.asarray(estimates, dtype=float)
    k = e.size
    return float(math.sqrt((k - 1) / k * np.sum((e - e.mean()) ** 2)))
