"""minimalRNN mean-field theory (eq. 5-13, SI B-E) vs scipy references, finite differences, eq. 8, Monte Carlo."""

import math

import numpy as np
import pytest

from rnnmf.errors import RnnmfError
from rnnmf.theory import gaussian as G
from rnnmf.theory import minimal as M
from rnnmf.theory import reference as ref
from rnnmf.theory.minimal import _moments

sig, sigp = G.sigmoid, G.sigmoid_prime
FIG1 = dict(sigma_w=6.88, sigma_v=1.39, R=0.46)  # Fig. 1: "chosen so that ... a critical point at mu_b = 0"

# (sigma_w, sigma_v, R, mu_b, sigma_b)
DIAG = [
    (6.88, 1.39, 0.46, 0.0, 0.0),
    (6.88, 1.39, 0.46, 4.0, 0.0),
    (10.0, 1.39, 0.46, 6.0, 0.0),  # three fixed points: the smallest is returned
    (2.0, 0.5, 1.0, -2.0, 0.0),
    (3.0, 0.8, 0.7, 1.0, 0.5),
    (0.5, 1.0, 1.0, 8.0, 0.0),
]


@pytest.mark.parametrize("sw,sv,R,mu,sb", DIAG)
def test_Q_star_matches_brentq_on_adaptive_quad(sw, sv, R, mu, sb):
    Q_ref, q_ref = ref.minimal_Q_star(sw, sv, R, mu, sb)
    Q, q = M.Q_star(sw, sv, R, mu_b=mu, sigma_b=sb)
    assert Q == pytest.approx(Q_ref, rel=1e-10) and q == pytest.approx(q_ref, rel=1e-10)
    assert 0 < Q < R and M.q_star(sw, sv, R, mu_b=mu, sigma_b=sb) == q


def test_three_fixed_points_and_the_one_reached_from_h0_zero():
    """sigma_w = 10, mu_b = 6 (Fig. 2g-h): Q map has stable/unstable/stable fixed points near 0.0033, 0.023, 0.247.

    Iterating the Q map from Q^0 = 0 (h^0 = 0) reaches the smallest, which Q_star returns; from Q^0 = R it reaches
    the largest.
    """
    sw, sv, R, mu = 10.0, 1.39, 0.46, 6.0
    Qg = np.linspace(1e-6, R, 4001)
    q = sw**2 * Qg + sv**2 * R
    mom = _moments(q, np.full_like(q, mu))
    g = R * mom["b"] - Qg * mom["one_minus_a"]
    assert np.sum(np.diff(np.sign(g)) != 0) == 3
    Q = np.array([0.0, R])
    for _ in range(4000):  # slope 0.995 at the smallest root: 0.995^4000 ~ 2e-9
        mom = _moments(sw**2 * Q + sv**2 * R, np.full(2, mu))
        Q = Q * mom["a"] + R * mom["b"]
    assert M.Q_star(sw, sv, R, mu_b=mu).Q_star == pytest.approx(Q[0], rel=1e-6)
    assert Q[1] > 0.2
    assert M.Q_star_stable(sw, sv, R, mu_b=mu) is True


@pytest.mark.parametrize("sw,sv,R,mu,sb", DIAG[:1] + DIAG[3:])
def test_Q_map_slope_is_eq_32_and_the_derivative_of_the_map(sw, sv, R, mu, sb):
    """The library's heat-equation form vs the brief's (and eq. 32's) z-form by quad, and a central difference."""
    Q, q = M.Q_star(sw, sv, R, mu_b=mu, sigma_b=sb)
    slope = M.Q_map_slope(sw, sv, R, mu_b=mu, sigma_b=sb)
    e_s2 = ref.quad_1d(lambda u: float(sig(u)) ** 2, q, mu)
    zform = ref.quad_1d(lambda u: ((u - mu) / math.sqrt(q)) * float(sigp(u)) * ((Q + R) * float(sig(u)) - R), q, mu)
    assert slope == pytest.approx(e_s2 + sw**2 / math.sqrt(q) * zform, rel=1e-9)

    def qmap(QQ):
        qq = sw**2 * QQ + sv**2 * R + sb**2
        return QQ * ref.quad_1d(lambda u: float(sig(u)) ** 2, qq, mu) + R * ref.quad_1d(
            lambda u: float(sig(-u)) ** 2, qq, mu
        )

    h = 1e-4 * Q
    assert slope == pytest.approx((qmap(Q + h) - qmap(Q - h)) / (2 * h), rel=1e-6)  # fd truncation ~1e-8
    assert M.xi_Q(sw, sv, R, mu_b=mu, sigma_b=sb) == pytest.approx(-1 / math.log(abs(slope)), rel=1e-12)


def test_fig1_hyperparameters_are_critical_with_sigmas_as_standard_deviations():
    """sigma_w = 6.88, sigma_v = 1.39, R = 0.46, mu_b = 0: chi_1 = 0.99878 (1.2e-3 below 1).

    Read as variances (sigma_w^2 = 6.88) the same numbers give chi_1 = 0.49, far from critical: the paper's
    sigma's are standard deviations.
    """
    chi1 = M.chi_1(**FIG1, mu_b=0.0)
    assert abs(chi1 - 1) < 2e-3
    assert chi1 == pytest.approx(ref.minimal_chi_1(6.88, 1.39, 0.46, 0.0), rel=1e-10)
    assert chi1 == pytest.approx(0.9987795055, abs=1e-9)
    assert abs(M.chi_1(math.sqrt(6.88), math.sqrt(1.39), 0.46, mu_b=0.0) - 1) > 0.4


def test_jacobian_spectrum_quantities_under_eq_13():
    sw, sv, R, mu = 6.88, 1.39, 0.46, 1.0
    Q, q = M.Q_star(sw, sv, R, mu_b=mu)
    e = {
        "s2": ref.quad_1d(lambda u: float(sig(u)) ** 2, q, mu),
        "s4": ref.quad_1d(lambda u: float(sig(u)) ** 4, q, mu),
        "p2": ref.quad_1d(lambda u: float(sigp(u)) ** 2, q, mu),
        "p4": ref.quad_1d(lambda u: float(sigp(u)) ** 4, q, mu),
    }
    mu1, mu2 = e["s2"], sw**2 * (Q + R) * e["p2"]
    s = M.summary(sw, sv, R, mu_b=mu, T=7, s1=-1.0)
    assert s["mu1"] == pytest.approx(mu1, rel=1e-10) and s["mu2"] == pytest.approx(mu2, rel=1e-10)
    assert s["sigma1_sq"] == pytest.approx(e["s4"] - mu1**2, rel=1e-9)
    assert s["sigma2_sq"] == pytest.approx(sw**4 * (Q**2 + R**2) * e["p4"] - mu2**2, rel=1e-9)
    assert s["chi_1"] == pytest.approx(mu1 + mu2, rel=1e-12)
    chi1 = mu1 + mu2
    m2 = chi1**14 * (1 + 7 * (2 * (mu1 + 1) * mu2 + s["sigma1_sq"] + s["sigma2_sq"]) / chi1**2)
    assert s["var_JJT"] == pytest.approx(m2, rel=1e-9)
    assert M.var_JJT(sw, sv, R, mu_b=mu, T=7, s1=-1.0) == s["var_JJT"] == M.m2_JJT(sw, sv, R, mu_b=mu, T=7, s1=-1.0)
    # T = 0: J = I; the printed expression gives 1 (a second moment), its centred reading 0
    assert M.m2_JJT(sw, sv, R, mu_b=mu, T=0) == 1.0 and M.var_JJT_centered(sw, sv, R, mu_b=mu, T=0) == 0.0
    assert M.var_JJT_centered(sw, sv, R, mu_b=mu, T=7) == pytest.approx(m2 - chi1**14, rel=1e-9)
    # orthogonal W (s1 = 0) lowers the linear coefficient by 2 mu2
    assert M.m2_JJT(sw, sv, R, mu_b=mu, T=7, s1=0.0) < M.m2_JJT(sw, sv, R, mu_b=mu, T=7, s1=-1.0)


# (sigma_w, sigma_v, R, mu_b, sigma_b, sigma12)
C_CASES = [
    (6.88, 1.39, 0.46, 4.0, 0.0, 1.0),  # chaotic (chi_1 = 1.096): c* < 1 with c = 1 deflated
    (6.88, 1.39, 0.46, 0.0, 0.3, 0.5),  # shared bias
    (3.0, 0.8, 0.7, -1.0, 0.0, 0.99),
]


@pytest.mark.parametrize("sw,sv,R,mu,sb,S", C_CASES)
def test_c_star_solves_the_reference_map_and_is_stable(sw, sv, R, mu, sb, S):
    """Residual of the c map evaluated by nested scipy quad at the returned c*, and chi_c* by quad (eq. 9 + sigma_b)."""
    s = M.summary(sw, sv, R, mu_b=mu, sigma_b=sb, sigma12=S)
    c, Q, q = s["c_star"], s["Q_star"], s["q_star"]
    resid = ref._minimal_G(c, q, Q, sw**2, sv**2, R, sb**2, mu, S)
    assert abs(resid) < 1e-11
    A = ref.quad_2d(lambda u: float(sig(u)), lambda u: float(sig(u)), q, c, mu)
    D = ref.quad_2d(lambda u: float(sigp(u)), lambda u: float(sigp(u)), q, c, mu)
    chi = A + (q * c + (sw**2 - sv**2) * R * S - sb**2) * D
    assert s["chi_c_star"] == pytest.approx(chi, rel=1e-9)
    assert 0 < s["chi_c_star"] < 1 and c < 1


@pytest.mark.slow
@pytest.mark.parametrize("sw,sv,R,mu,sb,S", C_CASES[:2] + [(6.88, 1.39, 0.46, 2.0, 0.0, 0.0)])
def test_c_star_and_tau_match_full_brentq_reference(sw, sv, R, mu, sb, S):
    c_ref, _ = ref.minimal_c_star(sw, sv, R, mu, sb, S)
    assert M.c_star(sw, sv, R, mu_b=mu, sigma_b=sb, sigma12=S) == pytest.approx(c_ref, abs=1e-11)
    tau_ref = ref.minimal_tau(sw, sv, R, mu, sb, S)
    assert M.tau(sw, sv, R, mu_b=mu, sigma_b=sb, sigma12=S) == pytest.approx(tau_ref, rel=1e-9)


def test_chi_c_star_is_the_derivative_of_the_c_map():
    """Eq. 9 with the shared-bias term -sigma_b^2 vs a central difference (h = 1e-4, rtol 1e-7)."""
    p = dict(sigma_w=np.array([6.88, 3.0, 6.88]), sigma_v=np.array([1.39, 0.8, 1.39]), R=np.array([0.46, 0.7, 0.46]))
    mu, sb, S = np.array([0.0, -1.0, 3.0]), np.array([0.3, 0.0, 0.7]), np.array([0.5, 0.99, 0.2])
    c = M.c_star(**p, mu_b=mu, sigma_b=sb, sigma12=S)
    h = 1e-4
    fd = (M.c_map(c + h, **p, mu_b=mu, sigma_b=sb, sigma12=S) - M.c_map(c - h, **p, mu_b=mu, sigma_b=sb, sigma12=S)) / (
        2 * h
    )
    np.testing.assert_allclose(M.chi_c_star(**p, mu_b=mu, sigma_b=sb, sigma12=S), fd, rtol=1e-7)
    np.testing.assert_allclose(M.c_map(c, **p, mu_b=mu, sigma_b=sb, sigma12=S), c, atol=1e-12)


def test_phases_at_sigma12_one_and_zero():
    s = M.summary(**FIG1, mu_b=np.array([-4.0, 4.0, 8.0]), sigma12=1.0)
    np.testing.assert_array_equal(s["c_star"] == 1.0, s["chi_1"] <= 1)  # ordered <=> c* = 1
    np.testing.assert_allclose(s["chi_c_star"][s["c_star"] == 1], s["chi_1"][s["c_star"] == 1], rtol=1e-10)
    # Sigma12 = 0: Q12* = 0, so c* = sigma_b^2 / q* and chi_c* = E[sigma(u1) sigma(u2)] there (= E[sigma]^2 at c = 0)
    s0 = M.summary(**FIG1, mu_b=2.0, sigma_b=0.4, sigma12=0.0)
    assert s0["c_star"] == pytest.approx(0.16 / s0["q_star"], rel=1e-15)
    s00 = M.summary(**FIG1, mu_b=2.0)
    m = ref.quad_1d(lambda u: float(sig(u)), s00["q_star"], 2.0)
    assert s00["c_star"] == 0.0 and s00["chi_c_star"] == pytest.approx(m * m, rel=1e-10)


def test_gating_gives_long_memory_for_large_mu_b():
    """Sec. 3.2.1 / Fig. 1e: tau grows without bound as mu_b grows, whatever Sigma12."""
    tau = M.tau(**FIG1, mu_b=np.array([2.0, 6.0, 10.0, 14.0]), sigma12=np.array([[0.0], [0.99]]))
    assert np.all(np.diff(tau, axis=1) > 0) and np.all(tau[:, -1] > 1e5) and np.all(np.isfinite(tau))


def _eq8_literal(c1, sched, sw, sv, R, mu, q):
    """Eq. 8 as printed (sigma_b = 0), with the generic 2-D rule: c^t from c^{t-1}, rho^{t-1}, rho^t."""
    m = G.expect_1d(sig, q, mu)
    out = [c1]
    for t in range(1, len(sched)):
        rho_prev, rho = R * sched[t - 1] / q, R * sched[t] / q
        c = out[-1]
        ss = G.expect_2d(sig, sig, q, c, mu)
        out.append((c + (sw**2 - sv**2) * rho_prev) * ss - 2 * sw**2 * rho_prev * m + sw**2 * rho_prev + sv**2 * rho)
    return np.array(out)


@pytest.mark.parametrize("mu", [0.0, 4.0])
def test_trajectory_equals_eq_8_without_bias_variance(mu):
    """Fig. 1 schedule: Sigma12 = 0 for t < 10, 1 afterwards; C0 = 1."""
    sched = np.r_[np.zeros(9), np.ones(21)]
    traj = M.c_trajectory(sched, **FIG1, mu_b=mu)
    Q, q = M.Q_star(**FIG1, mu_b=mu)
    assert traj[0] == pytest.approx((6.88**2 * Q + 1.39**2 * 0.46 * sched[0]) / q, rel=1e-14)
    np.testing.assert_allclose(traj, _eq8_literal(traj[0], sched, 6.88, 1.39, 0.46, mu, q), rtol=1e-11, atol=1e-13)


def test_trajectory_converges_to_c_star():
    traj = M.c_trajectory(np.full(300, 0.5), **FIG1, mu_b=0.0, sigma_b=0.3)
    assert traj[-1] == pytest.approx(M.c_star(**FIG1, mu_b=0.0, sigma_b=0.3, sigma12=0.5), abs=1e-12)
    grid = M.c_trajectory(np.zeros((4, 3)), **FIG1, mu_b=np.array([0.0, 1.0, 2.0]))
    assert grid.shape == (4, 3)


def test_monte_carlo_trajectory_step():
    """Q12^t = Q12^{t-1} E[s(u1)s(u2)] + R S^t E[(1-s)(1-s)] by sampling 1e6 (z1, y) pairs; 5 standard errors."""
    sw, sv, R, mu, sb = 6.88, 1.39, 0.46, 1.0, 0.3
    sched = np.array([0.3, 0.8])
    traj = M.c_trajectory(sched, sw, sv, R, mu_b=mu, sigma_b=sb, C0=1.0)
    Q, q = M.Q_star(sw, sv, R, mu_b=mu, sigma_b=sb)
    c1 = traj[0]
    rng = np.random.default_rng(2018)
    z1, y = rng.standard_normal((2, 1_000_000))
    u1 = math.sqrt(q) * z1 + mu
    u2 = math.sqrt(q) * (c1 * z1 + math.sqrt(1 - c1 * c1) * y) + mu
    Q12 = Q * sig(u1) * sig(u2) + R * sched[0] * sig(-u1) * sig(-u2)  # per-sample Q12^1
    c2 = (sw**2 * Q12 + sv**2 * R * sched[1] + sb**2) / q
    se = c2.std() / 1000.0
    assert abs(c2.mean() - traj[1]) < 5 * se, (c2.mean(), traj[1], se)


def test_summary_keys_types_and_validation():
    s = M.summary(**FIG1, mu_b=0.0)
    assert tuple(s) == M.SUMMARY_KEYS and isinstance(s["Q_star_stable"], bool) and isinstance(s["tau"], float)
    with pytest.raises(RnnmfError, match="T must be a number of time steps >= 0; got -1.0"):
        M.summary(**FIG1, mu_b=0.0, T=-1)
    with pytest.raises(RnnmfError, match="sigma12 must be"):
        M.c_trajectory([0.0, 1.2], **FIG1, mu_b=0.0)
    with pytest.raises(RnnmfError, match="R must be"):
        M.Q_star(6.88, 1.39, -0.46, mu_b=0.0)
    with pytest.raises(RnnmfError, match="s1 must be"):
        M.m2_JJT(**FIG1, mu_b=0.0, T=3, s1=float("nan"))
