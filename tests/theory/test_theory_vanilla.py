"""Vanilla RNN mean-field theory (eq. 1-4) against scipy brentq/quad references, finite differences and Monte Carlo."""

import math

import numpy as np
import pytest

from rnnmf.errors import RnnmfError
from rnnmf.theory import reference as ref
from rnnmf.theory import vanilla as V
from rnnmf.theory._common import timescale
from rnnmf.theory.gaussian import tanh_prime

# (sigma_w, sigma_v, R, sigma_b, mu_b): ordered and chaotic, shared bias, bias mean, large sigma_w
PARAMS = [
    (1.2, 0.5, 1.0, 0.0, 0.0),
    (0.8, 0.1, 0.5, 0.3, 0.0),
    (1.5, 0.025, 1.0, 0.0, 0.5),
    (3.0, 1.0, 1.0, 0.5, -1.0),
    (10.0, 0.5, 1.0, 0.0, 0.0),
]


@pytest.mark.parametrize("sw,sv,R,sb,mu", PARAMS)
def test_q_star_matches_brentq_on_adaptive_quad(sw, sv, R, sb, mu):
    assert V.q_star(sw, sv, R, sigma_b=sb, mu_b=mu) == pytest.approx(ref.vanilla_q_star(sw, sv, R, sb, mu), rel=1e-10)


def test_q_star_of_a_network_without_input_or_bias():
    assert V.q_star(0.9, 0.0, 1.0) == 0.0  # q = 0 is the stable fixed point for sigma_w <= 1
    q = 1.0
    for _ in range(2000):  # sigma_w > 1: q = 0 is unstable; the map's iteration finds the non-trivial point
        q = 1.69 * ref.quad_1d(lambda u: math.tanh(u) ** 2, q, 0.0)
    assert V.q_star(1.3, 0.0, 1.0) == pytest.approx(q, rel=1e-10)


# (sigma_w, sigma_v, R, sigma_b, mu_b, sigma12): Sigma12 < 1 with shared bias and bias mean; chaotic Sigma12 = 1
C_CASES = [
    (1.3, 0.3, 1.0, 0.1, 0.2, 0.5),
    (1.5, 0.025, 1.0, 0.0, 0.0, 1.0),
    pytest.param(1.2, 0.025, 1.0, 0.0, 0.0, 0.0, marks=pytest.mark.slow),  # c = 0 deflated (unstable)
    pytest.param(0.9, 0.4, 1.0, 0.2, 1.0, 0.9, marks=pytest.mark.slow),
]


@pytest.mark.parametrize("sw,sv,R,sb,mu,S", C_CASES)
def test_c_star_matches_brentq_and_is_stable(sw, sv, R, sb, mu, S):
    c_ref, q = ref.vanilla_c_star(sw, sv, R, sb, mu, S)
    s = V.summary(sw, sv, R, sigma_b=sb, mu_b=mu, sigma12=S)
    assert s["c_star"] == pytest.approx(c_ref, abs=1e-11)
    tp = lambda u: float(tanh_prime(u))  # noqa: E731
    assert s["chi_c_star"] == pytest.approx(sw**2 * ref.quad_2d(tp, tp, q, s["c_star"], mu), rel=1e-9)
    assert 0 < s["chi_c_star"] < 1  # stable: the derivative of the c map at the returned root


GRID = dict(
    sigma_w=np.array([0.6, 1.0, 1.3, 2.5, 1.1, 4.0]),
    sigma_v=np.array([0.3, 0.025, 0.5, 0.2, 0.0, 1.0]),
    R=1.0,
    sigma_b=np.array([0.0, 0.0, 0.2, 0.0, 0.1, 0.3]),
    mu_b=np.array([0.0, 0.0, 0.3, -0.5, 0.0, 1.0]),
)


def test_c_star_is_the_attracting_fixed_point_of_the_map():
    S = np.array([0.0, 0.5, 1.0])[:, None]  # 3 x 6 grid in one vectorised call
    s = V.summary(**GRID, sigma12=S)
    np.testing.assert_allclose(V.c_map(s["c_star"], **GRID, sigma12=S), s["c_star"], atol=1e-12)
    assert np.all(s["chi_c_star"] <= 1 + 1e-12)
    # iterating the map from just below c = 1 lands on the same root (chi_c* <= 0.966 here: 0.966^700 < 1e-10)
    steps = np.broadcast_to(S, (700, 3, 1))
    c = V.c_trajectory(steps, **GRID, c0=1 - 1e-6)[-1]
    np.testing.assert_allclose(c, s["c_star"], atol=1e-10)


def test_chi_c_star_is_the_derivative_of_the_c_map():
    """Central difference with h = 1e-4: truncation ~h^2 F'''/6 ~ 1e-9, so rtol 1e-7."""
    g = {k: v[:4] if np.ndim(v) else v for k, v in GRID.items()}
    c = V.c_star(**g, sigma12=0.7)
    h = 1e-4
    fd = (V.c_map(c + h, **g, sigma12=0.7) - V.c_map(c - h, **g, sigma12=0.7)) / (2 * h)
    np.testing.assert_allclose(V.chi_c_star(**g, sigma12=0.7), fd, rtol=1e-7)


def test_ordered_and_chaotic_phase_at_sigma12_one():
    ordered = V.summary(0.8, 0.5, 1.0, sigma12=1.0)
    assert ordered["c_star"] == 1.0 and ordered["chi_1"] < 1
    assert ordered["chi_c_star"] == pytest.approx(ordered["chi_1"], rel=1e-10)
    chaotic = V.summary(1.5, 0.025, 1.0, sigma12=1.0)
    assert chaotic["chi_1"] > 1 and chaotic["c_star"] < 1 and chaotic["chi_c_star"] < 1
    # inputs destroy the ordered phase: Sigma12 < 1 always moves c* below 1 (Sec. 3.1)
    assert V.c_star(0.8, 0.5, 1.0, sigma12=0.99) < 1


def test_tau_is_infinite_where_chi_reaches_one():
    assert V.tau(1.0, 0.0, 1.0, sigma12=1.0) == math.inf  # q* = 0, c* = 1, chi = sigma_w^2 = 1
    assert timescale(1.0) == math.inf and timescale(1.3) == math.inf
    assert timescale(math.exp(-0.5)) == pytest.approx(2.0, rel=1e-15)
    s = V.summary(1.2, 0.3, 1.0, sigma12=0.2)
    assert s["tau"] == pytest.approx(-1 / math.log(s["chi_c_star"]), rel=1e-14)


def test_tau_peaks_at_the_edge_of_chaos_with_weak_inputs():
    """Fig. 2a-b: sigma_v = 0.025, Sigma12 = 0 -- tau is largest near sigma_w = 1."""
    sw = np.array([0.5, 0.9, 1.0, 1.1, 1.5])
    tau = V.tau(sw, 0.025, 1.0)
    assert np.argmax(tau) in (1, 2, 3) and tau.max() > 10 * tau[0] and tau.max() > 5 * tau[-1]


def test_c_trajectory_steps_the_map_and_converges():
    sched = np.r_[np.zeros(10), np.ones(290)] * 0.9
    traj = V.c_trajectory(sched, 1.3, 0.3, 1.0, sigma_b=0.1, mu_b=0.2, c0=1.0)
    assert traj.shape == (300,)
    assert traj[0] == pytest.approx(V.c_map(1.0, 1.3, 0.3, 1.0, sigma_b=0.1, mu_b=0.2, sigma12=0.0), abs=1e-15)
    assert traj[-1] == pytest.approx(V.c_star(1.3, 0.3, 1.0, sigma_b=0.1, mu_b=0.2, sigma12=0.9), abs=1e-10)
    many = V.c_trajectory(sched[:5], np.array([1.0, 1.3]), 0.3, 1.0)
    assert many.shape == (5, 2)


def test_monte_carlo_c_map_step():
    """One step of eq. 2's off-diagonal by sampling (z1, y): |MC - theory| < 5 standard errors."""
    sw, sv, R, sb, mu, S, c = 1.3, 0.3, 1.0, 0.1, 0.2, 0.5, 0.6
    q = V.q_star(sw, sv, R, sigma_b=sb, mu_b=mu)
    rng = np.random.default_rng(7)
    z1, y = rng.standard_normal((2, 1_000_000))
    u1 = math.sqrt(q) * z1 + mu
    u2 = math.sqrt(q) * (c * z1 + math.sqrt(1 - c * c) * y) + mu
    x = (sw**2 * np.tanh(u1) * np.tanh(u2) + sv**2 * R * S + sb**2) / q
    se = x.std() / 1000.0
    assert abs(x.mean() - V.c_map(c, sw, sv, R, sigma_b=sb, mu_b=mu, sigma12=S)) < 5 * se


def test_scalars_give_floats_and_grids_give_arrays():
    assert isinstance(V.q_star(1.0, 0.5, 1.0), float)
    s = V.summary(np.array([1.0, 1.2]), 0.5, 1.0)
    assert all(isinstance(v, np.ndarray) and v.shape == (2,) for v in s.values())
    assert set(s) == {"q_star", "c_star", "chi_c_star", "chi_1", "tau"}


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(sigma_w=-1.0), "sigma_w must be a standard deviation >= 0; got -1.0"),
        (dict(R=0.0), "R must be an input second moment > 0; got 0.0"),
        (dict(sigma12=1.5), "sigma12 must be an input cosine similarity in [-1, 1]; got 1.5"),
        (dict(sigma_v=float("nan")), "sigma_v must be"),
        (dict(mu_b=np.array([0.0, np.inf])), "1 of 2 entries invalid"),
        (dict(sigma_w=np.ones(3), sigma_v=np.ones(2)), "do not broadcast"),
        (dict(sigma_b="big"), "sigma_b must be a number"),
    ],
)
def test_bad_input_raises_one_line_rnnmf_error(kwargs, fragment):
    args = dict(sigma_w=1.0, sigma_v=0.5, R=1.0, sigma_b=0.0, mu_b=0.0, sigma12=0.0) | kwargs
    with pytest.raises(RnnmfError) as err:
        V.summary(**args)
    assert fragment in str(err.value) and "\n" not in str(err.value)
