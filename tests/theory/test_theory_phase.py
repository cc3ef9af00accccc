"""Phase maps equal point-by-point values; the bench runs and beats scipy."""

import math

import numpy as np
import pytest

from rnnmf.errors import RnnmfError
from rnnmf.theory import minimal as M
from rnnmf.theory import phase_map
from rnnmf.theory import vanilla as V


@pytest.mark.parametrize("sigma12", [0.0, 0.99, 1.0])
def test_minimal_map_equals_point_by_point(sigma12):
    mus, sws = np.array([-4.0, 0.0, 3.0, 8.0]), np.array([0.5, 6.88, 10.0])
    d = phase_map("minimal", "mu_b", mus, "sigma_w", sws, fixed={"sigma_v": 1.39, "R": 0.46}, sigma12=sigma12)
    assert d["tau"].shape == (3, 4) and d["mu_b"][0, 2] == 3.0 and d["sigma_w"][2, 0] == 10.0
    for i, sw in enumerate(sws):
        for j, mu in enumerate(mus):
            s = M.summary(sw, 1.39, 0.46, mu_b=mu, sigma12=sigma12)
            for key in ("tau", "chi_1", "chi_c_star", "c_star", "q_star"):
                assert d[key][i, j] == pytest.approx(s[key], rel=1e-12, abs=1e-14), (key, sw, mu)


def test_vanilla_map_with_sigma12_as_an_axis():
    S, sw = np.array([0.0, 0.5, 1.0]), np.array([0.8, 1.0, 1.4])
    d = phase_map("vanilla", "sigma12", S, "sigma_w", sw, fixed={"sigma_v": 0.1, "R": 1.0, "mu_b": 0.1})
    for i in range(3):
        for j in range(3):
            s = V.summary(sw[i], 0.1, 1.0, sigma_b=0.0, mu_b=0.1, sigma12=S[j])
            assert d["tau"][i, j] == pytest.approx(s["tau"], rel=1e-12)
            assert d["c_star"][i, j] == pytest.approx(s["c_star"], rel=1e-12, abs=1e-14)
    assert np.all(d["c_star"][:, :2] < 1)


def test_map_has_infinite_tau_only_where_chi_reaches_one():
    d = phase_map("vanilla", "sigma_w", [0.5, 1.0, 1.5], "sigma_v", [0.0, 0.3], fixed={"R": 1.0}, sigma12=1.0)
    np.testing.assert_array_equal(np.isinf(d["tau"]), d["chi_c_star"] >= 1)
    assert math.isinf(d["tau"][0, 1])  # sigma_v = 0, sigma_w = 1: q* = 0, chi = 1


@pytest.mark.parametrize(
    "args,fragment",
    [
        (("lstm", "mu_b", [0], "sigma_w", [1], {}), "unknown cell 'lstm'; valid cells: vanilla, minimal"),
        (("minimal", "bias", [0], "sigma_w", [1], {}), "unknown axis 'bias'"),
        (("minimal", "mu_b", [0], "mu_b", [1], {}), "must differ"),
        (("minimal", "mu_b", [0], "sigma_w", [1], {"sigma_v": 1.0}), "needs a value for R"),
        (("minimal", "mu_b", [0], "sigma_w", [1], {"sigma_v": 1.0, "R": 1.0, "mu_b": 2}), "both as an axis"),
        (("minimal", "mu_b", [0], "sigma_w", [-1], {"sigma_v": 1.0, "R": 1.0}), "sigma_w must be"),
        (("vanilla", "sigma_w", [1], "sigma_v", [1], {"R": 1, "tau": 3}), "unknown fixed parameter"),
    ],
)
def test_phase_map_rejects_bad_requests(args, fragment):
    with pytest.raises(RnnmfError, match=None) as err:
        phase_map(*args[:5], fixed=args[5])
    assert fragment in str(err.value)
