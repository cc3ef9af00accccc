"""The quadrature module against adaptive scipy quadrature and Monte Carlo, with stated tolerances."""

import math
import tracemalloc

import numpy as np
import pytest

from rnnmf.theory import gaussian as G
from rnnmf.theory import reference as ref

sig, sigp, tanhp = G.sigmoid, G.sigmoid_prime, G.tanh_prime


def sigbar(u):
    return G.sigmoid(-np.asarray(u))


# Functions the theory integrates (1-D), with their pole distance; sigma'^4 has poles of order 8 and its mass is
# pushed into the tail at large mu_b, the hardest case.
ONE_D = {
    "sigma^2": (lambda u: sig(u) ** 2, G.SIGMOID_POLE),
    "(1-sigma)^2": (lambda u: sigbar(u) ** 2, G.SIGMOID_POLE),
    "sigma^4": (lambda u: sig(u) ** 4, G.SIGMOID_POLE),
    "sigma'^2": (lambda u: sigp(u) ** 2, G.SIGMOID_POLE),
    "sigma'^4": (lambda u: sigp(u) ** 4, G.SIGMOID_POLE),
    "tanh^2": (lambda u: np.tanh(u) ** 2, G.TANH_POLE),
    "tanh'^2": (lambda u: tanhp(u) ** 2, G.TANH_POLE),
}
# q up to 150 covers sigma_w = 10 with Q* <= R ~ 1; mu_b spans the paper's [-4, 8].
Q_VALUES = [0.01, 0.3, 2.0, 16.0, 50.0, 150.0]
MU_VALUES = [-4.0, 0.0, 3.0, 8.0]
RTOL_1D = 1e-10


@pytest.mark.parametrize("name", ONE_D)
def test_expect_1d_matches_adaptive_quad(name):
    f, pole = ONE_D[name]
    q, mu = np.meshgrid(Q_VALUES, MU_VALUES)
    got = G.expect_1d(f, q, mu, pole=pole)
    want = np.vectorize(lambda qq, mm: ref.quad_1d(lambda u: float(f(u)), qq, mm))(q, mu)
    np.testing.assert_allclose(got, want, rtol=RTOL_1D, atol=0)


# 2-D pairs across the ranges; c near +-1 and 0 included.  Nested quad at large q takes seconds, so the default
# suite checks two corners and the slow suite the rest.
TWO_D_CASES = [
    (2.0, 0.5, 8.0),
    (50.0, 0.95, -4.0),
    pytest.param(16.0, 0.0, 0.0, marks=pytest.mark.slow),
    pytest.param(100.0, 0.999, 0.0, marks=pytest.mark.slow),
    pytest.param(150.0, -0.6, 4.0, marks=pytest.mark.slow),
    pytest.param(0.05, -0.99, -2.0, marks=pytest.mark.slow),
]
RTOL_2D = 1e-10


@pytest.mark.parametrize("q,c,mu", TWO_D_CASES)
def test_expect_2d_and_tanh_kernel_match_nested_quad(q, c, mu):
    def fam(u):
        return sig(u), sigbar(u), sigp(u)

    A, B, D = G.expect_2d(fam, fam, q, c, mu)
    want = [
        ref.quad_2d(lambda u: float(sig(u)), lambda u: float(sig(u)), q, c, mu),
        ref.quad_2d(lambda u: float(sigbar(u)), lambda u: float(sigbar(u)), q, c, mu),
        ref.quad_2d(lambda u: float(sigp(u)), lambda u: float(sigp(u)), q, c, mu),
    ]
    np.testing.assert_allclose([A, B, D], want, rtol=RTOL_2D)
    # the fast kernel (sigma = (1 + tanh(u/2)) / 2) gives the same numbers
    (st, sbt, _), (_, _, spt2) = G.tanh_pair_moments(lambda u: G.sigmoid_parts(u)[:3], q, c, mu, scale=0.5)
    m = G.expect_1d(lambda u: (sig(u), sigbar(u), sigp(u)), q, mu)
    np.testing.assert_allclose([0.5 * (m[0] + st), 0.5 * (m[1] - sbt), 0.25 * (m[2] - spt2)], want, rtol=RTOL_2D)


def test_tanh_pair_matches_nested_quad_for_vanilla():
    q, c, mu = 3.0, 0.7, 0.5
    (tt, _), (_, tpt2) = G.tanh_pair_moments(lambda u: G.tanh_parts(u)[:2], q, c, mu, scale=1.0)
    e_tp = G.expect_1d(tanhp, q, mu, pole=G.TANH_POLE)
    tp = lambda u: float(tanhp(u))  # noqa: E731
    np.testing.assert_allclose(tt, ref.quad_2d(math.tanh, math.tanh, q, c, mu), rtol=RTOL_2D)
    np.testing.assert_allclose(e_tp - tpt2, ref.quad_2d(tp, tp, q, c, mu), rtol=RTOL_2D)


def test_2d_rule_at_c_one_is_the_1d_integral():
    q, mu = np.array([0.5, 20.0, 120.0]), np.array([1.0, 0.0, -3.0])
    pair = G.expect_2d(sigp, sigp, q, 1.0, mu)
    one = G.expect_1d(lambda u: sigp(u) ** 2, q, mu)
    np.testing.assert_allclose(pair, one, rtol=1e-11)


def test_monte_carlo_agrees_within_five_standard_errors():
    """1e6 correlated Gaussian pairs (fixed seed) against the quadrature: |difference| < 5 standard errors."""
    rng = np.random.default_rng(12345)
    n, q, c, mu = 1_000_000, 9.0, 0.6, 1.5
    z1, y = rng.standard_normal(n), rng.standard_normal(n)
    u1 = math.sqrt(q) * z1 + mu
    u2 = math.sqrt(q) * (c * z1 + math.sqrt(1 - c * c) * y) + mu
    samples = {
        "sigma^2": (sig(u1) ** 2, G.expect_1d(lambda u: sig(u) ** 2, q, mu)),
        "sigma'^2": (sigp(u1) ** 2, G.expect_1d(lambda u: sigp(u) ** 2, q, mu)),
        "A": (sig(u1) * sig(u2), G.expect_2d(sig, sig, q, c, mu)),
        "B": (sigbar(u1) * sigbar(u2), G.expect_2d(sigbar, sigbar, q, c, mu)),
        "D": (sigp(u1) * sigp(u2), G.expect_2d(sigp, sigp, q, c, mu)),
    }
    for name, (x, exact) in samples.items():
        se = x.std() / math.sqrt(n)
        assert abs(x.mean() - exact) < 5 * se, (name, x.mean(), exact, se)


def test_fixed_order_converges_to_adaptive_rule():
    q, mu = 40.0, 1.0
    f = lambda u: sigp(u) ** 2  # noqa: E731
    exact = ref.quad_1d(lambda u: float(f(u)), q, mu)
    errs = [abs(G.expect_1d(f, q, mu, n=n) / exact - 1) for n in (101, 201, 401, 801)]
    assert errs[-1] < 1e-11 and errs[0] > 1e-6  # spectral: each doubling gains orders of magnitude
    assert all(e2 < e1 for e1, e2 in zip(errs, errs[1:], strict=False) if e1 > 1e-14)


def test_why_not_gauss_hermite():
    """At q = 150 (sigma_w ~ 10) Gauss-Hermite with 1600 nodes still misses E[sigma^2] by 7e-9; the default lattice
    (833 nodes) is exact to rounding.  The sigmoid's poles sit pi/sqrt(q) = 0.26 from the real z axis."""
    q, mu = 150.0, 0.0
    f = lambda u: sig(u) ** 2  # noqa: E731
    exact = ref.quad_1d(lambda u: float(f(u)), q, mu)
    z, w = G.gauss_hermite(1600)
    assert abs(w @ f(math.sqrt(q) * z + mu) / exact - 1) > 1e-9
    assert G.order_for(q, G.K_1D, G.HALF_WIDTH_1D) < 900
    assert abs(G.expect_1d(f, q, mu) / exact - 1) < 1e-12


def test_lattice_is_normalised_symmetric_and_cached():
    z, w = G.lattice(101, 9.0)
    assert math.isclose(w.sum(), 1.0, rel_tol=1e-15)
    np.testing.assert_array_equal(z, -z[::-1])
    assert G.lattice(101, 9.0)[0] is z and not w.flags.writeable
    with pytest.raises(ValueError):
        G.lattice(100, 9.0)


def test_orders_grow_like_sqrt_q():
    n = G.order_for(np.array([0.1, 1.0, 100.0, 400.0]), G.K_2D, G.HALF_WIDTH_2D)
    assert n[0] == n[1] == 2 * math.ceil(9.0 / 0.5) + 1  # Gaussian-limited below q ~ 1.4
    assert 1.7 < (n[3] - 1) / (n[2] - 1) < 2.3  # doubling sqrt(q) doubles the order


def test_memory_stays_bounded_on_a_large_grid():
    """2000 points at q = 100: a materialised 2-D rule would need ~1.4 GB; chunking keeps the peak small."""
    q = np.full(2000, 100.0)
    c = np.linspace(-0.9, 0.9, 2000)
    tracemalloc.start()
    try:
        G.tanh_pair_moments(lambda u: G.sigmoid_parts(u)[:1], q, c, 0.0, scale=0.5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64e6, peak


def test_broadcasting_shapes_and_tuple_outputs():
    q = np.linspace(0.5, 5, 6).reshape(2, 3)
    mu = np.array([[0.0], [1.0]])
    a, b = G.expect_1d(lambda u: (sig(u), sig(u) ** 2), q, mu)
    assert a.shape == b.shape == (2, 3)
    assert G.expect_2d(sig, sig, q, 0.3, mu).shape == (2, 3)
    assert np.ndim(G.expect_1d(sig, 1.0, 0.0)) == 0


def test_activations_are_stable_in_the_tails():
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is the right answer
        assert sig(-800.0) < 1e-300 and sig(800.0) == 1.0
        assert sigp(800.0) == 0.0 and sigp(-800.0) == 0.0
        assert tanhp(400.0) == 0.0
    np.testing.assert_allclose(sigp(-40.0), math.exp(-40.0) / (1 + math.exp(-40.0)) ** 2, rtol=1e-14)
    np.testing.assert_allclose(tanhp(20.0), 1.0 / math.cosh(20.0) ** 2, rtol=1e-13)
    np.testing.assert_allclose(sig(-40.0), math.exp(-40.0) / (1 + math.exp(-40.0)), rtol=1e-14)
    s, sb, sp, spp = G.sigmoid_parts(np.array([-30.0, 0.3, 30.0]))
    np.testing.assert_allclose(sb, sig(-np.array([-30.0, 0.3, 30.0])), rtol=1e-14)
    np.testing.assert_allclose(spp, sp * (1 - 2 * s), rtol=1e-12, atol=1e-300)
