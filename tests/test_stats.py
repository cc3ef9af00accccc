"""rnnmf.stats: the delete-one jackknife."""

import math

import numpy as np
import pytest

from rnnmf.stats import delete_one_means, jackknife_se


def test_jackknife_of_the_mean_is_its_standard_error():
    x = np.random.default_rng(0).normal(size=(3, 25))
    means = delete_one_means(x, axis=1)
    assert means.shape == x.shape and means[1, 4] == pytest.approx((x[1].sum() - x[1, 4]) / 24, rel=1e-14)
    for row, m in zip(x, means, strict=True):  # for the mean, the jackknife is exactly std(ddof=1)/sqrt(k)
        assert jackknife_se(m) == pytest.approx(row.std(ddof=1) / math.sqrt(row.size), rel=1e-12)


def test_jackknife_of_a_ratio_is_near_the_delta_method():
    rng = np.random.default_rng(1)
    a, b = rng.normal(2.0, 0.1, 4000), rng.normal(4.0, 0.1, 4000)
    se = jackknife_se(delete_one_means(a) / delete_one_means(b))
    delta = math.sqrt((0.1 / 4.0) ** 2 + (2.0 * 0.1 / 16.0) ** 2) / math.sqrt(4000)  # var(a/b) by the delta method
    assert se == pytest.approx(delta, rel=0.1)
