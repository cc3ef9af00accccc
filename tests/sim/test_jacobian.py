"""rnnmf.sim.jacobian: the step Jacobian against autograd of the real cells, the T-step product against autograd of
the unrolled network, the moment recursion against exact special cases and a synthetic ensemble, and the measured
spectra of random networks against the theory (with stated statistical tolerances)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnmf.draws import haar_orthogonal
from rnnmf.errors import RnnmfError
from rnnmf.nn import MinimalRNN, VanillaRNN
from rnnmf.nn.init import init_explicit
from rnnmf.sim.jacobian import (
    RandomRNN,
    draws,
    jacobians,
    log_density,
    pooled_stats,
    singular_values,
    step_jacobian,
    sv_quantiles,
)
from rnnmf.sim.montecarlo import cell_update
from rnnmf.theory import critical_minimal, critical_vanilla
from rnnmf.theory import minimal as mt
from rnnmf.theory.jacobian import jacobian_moments, minimal_theory, vanilla_theory

DT = torch.float64
R = 0.46




def _critical_minimal(q_star, mu_b, weights="gaussian", tied=False):
    c = critical_minimal(q_star, mu_b=mu_b, R=R)
    return RandomRNN("minimal", math.sqrt(c.sigma_w_sq), math.sqrt(c.sigma_v_sq), 0.0, mu_b, R, c.Q_star,
                     weights, tied)


def _critical_vanilla(q_star, weights="gaussian", tied=False):
    c = critical_vanilla(q_star, R=R)
    return RandomRNN("vanilla", math.sqrt(c.sigma_w_sq), math.sqrt(c.sigma_v_sq), 0.0, 0.0, R, q_star, weights, tied)


# ---------------------------------------------------------------------------------------- one step, T steps
@pytest.mark.parametrize("fused", [True, False])
def test_minimal_step_jacobian_is_autograd_of_the_cell(fused):
    g = torch.Generator().manual_seed(0)
    m = MinimalRNN(5, 7, fused=fused).to(DT)
    init_explicit(m, sigma_w=3.0, sigma_v=1.3, sigma_b=0.7, mu_b=0.5, weights="gaussian", generator=g)
    x = torch.randn(1, 5, generator=g, dtype=DT)  # one step, unbatched
    h0 = torch.randn(1, 7, generator=g, dtype=DT)
    auto = torch.autograd.functional.jacobian(lambda h: m(x, h)[1][0], h0)[:, 0, :]
    c = m.cells()[0]
    with torch.no_grad():
        xt = torch.tanh(x[0] @ c.W_x.T)  # x̃ = Φ(x)
        e = c.W @ h0[0] + c.V @ xt + c.b
        mine = step_jacobian("minimal", c.W, e, h0[0], xt)
    assert auto.shape == (7, 7)
    assert torch.allclose(mine, auto, rtol=1e-12, atol=1e-14)
    assert (mine - torch.diag(torch.diagonal(mine))).abs().max() > 1e-3  # the D_b W part is really there


def test_vanilla_step_jacobian_is_autograd_of_the_cell():
    g = torch.Generator().manual_seed(1)
    m = VanillaRNN(4, 6).to(DT)
    init_explicit(m, sigma_w=1.5, sigma_v=0.8, sigma_b=0.3, weights="orthogonal", generator=g)
    x = torch.randn(1, 4, generator=g, dtype=DT)
    h0 = torch.randn(1, 6, generator=g, dtype=DT)
    auto = torch.autograd.functional.jacobian(lambda h: m(x, h)[1][0], h0)[:, 0, :]
    c = m.cells()[0]
    with torch.no_grad():
        e = c.W @ h0[0] + c.V @ x[0] + c.b
        mine = step_jacobian("vanilla", c.W, e, h0[0], x[0])
    assert torch.allclose(mine, auto, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cell", ["minimal", "vanilla"])
@pytest.mark.parametrize("weights,tied", [("gaussian", False), ("orthogonal", True)])
def test_product_over_T_steps_is_autograd_of_the_unrolled_network(cell, weights, tied):
    net = _critical_minimal(16.0, 2.0, weights, tied) if cell == "minimal" else _critical_vanilla(0.5, weights, tied)
    N, K, T = 6, 2, 5
    seq = list(draws(net, hidden=N, networks=K, steps=T, seed=3))
    h0, steps = seq[0], seq[1:]

    def unrolled(h):  # h^T as a function of h^0, through the same update the simulator uses
        for W, b, x, vx in steps:
            h = cell_update(cell, W @ h.unsqueeze(-1) + (vx + b).unsqueeze(-1), h.unsqueeze(-1), x.unsqueeze(-1))
            h = h.squeeze(-1)
        return h

    auto = torch.autograd.functional.jacobian(unrolled, h0)  # (K, N, K, N): block diagonal over networks
    auto = torch.stack([auto[k, :, k, :] for k in range(K)])
    J = {t: J.clone() for t, J, _ in jacobians(net, hidden=N, networks=K, steps=T, seed=3)}[T]
    assert torch.allclose(J, auto, rtol=1e-10, atol=1e-13)
    assert auto.abs().max() > 1e-3
    if tied:  # tied networks reuse one W, b
        assert all(torch.equal(s[0], steps[0][0]) and torch.equal(s[1], steps[0][1]) for s in steps)
    else:
        assert not torch.equal(steps[0][0], steps[1][0])


def test_networks_do_not_depend_on_the_batch_they_are_in(assert_ulps):
    """A network's draws depend only on its own seed, so its spectrum is the same in any batch; the products are
    computed in another batch composition, so the floats agree to a few ulps (8.9e-16 on one machine), not bit for
    bit."""
    net = _critical_minimal(16.0, 4.0, "orthogonal")
    a = singular_values(net, hidden=8, networks=3, record=[1, 4], seed=5)
    b = singular_values(net, hidden=8, networks=3, record=[4, 1], seed=5, chunk=1)
    assert set(a) == {1, 4} and a[4].shape == (3, 8)
    for T in a:
        assert_ulps(b[T], a[T], 64)
    c = singular_values(net, hidden=8, networks=3, record=[1, 4], seed=6)
    assert not np.array_equal(a[4], c[4])


def test_orthogonal_draws_have_singular_values_sigma_w():
    net = _critical_vanilla(0.5, "orthogonal")
    W = next(s for s in list(draws(net, hidden=16, networks=2, steps=1))[1:])[0]
    np.testing.assert_allclose(torch.linalg.svdvals(W).numpy(), net.sigma_w, rtol=1e-12)


# ------------------------------------------------------------------------------------------------- theory
def test_recursion_special_cases():
    T = 6
    # pure gates (σ_w = 0): J = product of diagonals, classical: E[τ(X²)] = E[a⁴]^T
    mean, m2 = jacobian_moments(0.6, 0.45, 0.0, 0.0, 0.0, sigma_w2=0.0, weights="gaussian", T=T)
    np.testing.assert_allclose(mean, 0.6 ** np.arange(T + 1))
    np.testing.assert_allclose(m2, 0.45 ** np.arange(T + 1))
    # pure Ginibre products: m2 = 1 + T (Fuss-Catalan); Haar products: the identity's spectrum
    _, m2 = jacobian_moments(0.0, 0.0, 1.0, 1.0, 0.0, sigma_w2=1.0, weights="gaussian", T=T)
    np.testing.assert_allclose(m2, 1 + np.arange(T + 1))
    _, m2 = jacobian_moments(0.0, 0.0, 1.0, 1.0, 0.0, sigma_w2=1.0, weights="orthogonal", T=T, N=50)
    np.testing.assert_allclose(m2, 1.0)
    # real Ginibre at finite N: E τ(X'²) = (1 + 1/N) τ(X²) + τ(X)² exactly (three Wick pairings)
    N = 10
    _, m2 = jacobian_moments(0.0, 0.0, 1.0, 1.0, 0.0, sigma_w2=1.0, weights="gaussian", T=T, N=N)
    p = [1.0]
    for _ in range(T):
        p.append((1 + 1 / N) * p[-1] + 1.0)
    np.testing.assert_allclose(m2, p)


@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
def test_recursion_matches_a_synthetic_ensemble_at_finite_N(weights):
    """J_t = D_a + D_b W with a ~ U(0.2, 1), b = 0.8 a z (so γ = E[a²b²] ≠ E[a²]E[b²]) drawn independently of W:
    the recursion's exact assumptions. At N = 32 the 1/N terms are 10-30% of τ((JJᵀ)²); with them the measured
    second moment agrees within 4 standard errors at every step, without them it is off by more than 4."""
    N, K, T, sw, c = 32, 1500, 5, 1.3, 0.8
    g = torch.Generator().manual_seed(0)
    Ea2, Ea4 = (1 - 0.2**3) / (3 * 0.8), (1 - 0.2**5) / (5 * 0.8)
    moments = (Ea2, Ea4, c * c * Ea2, 3 * c**4 * Ea4, c * c * Ea4)
    mean_inf, m2_inf = jacobian_moments(*moments, sigma_w2=sw * sw, weights=weights, T=T)
    mean_N, m2_N = jacobian_moments(*moments, sigma_w2=sw * sw, weights=weights, T=T, N=N)
    np.testing.assert_allclose(mean_N, mean_inf)
    J = torch.eye(N, dtype=DT).expand(K, N, N).clone()
    far = []
    for t in range(1, T + 1):
        a = 0.2 + 0.8 * torch.rand(K, N, generator=g, dtype=DT)
        b = c * a * torch.randn(K, N, generator=g, dtype=DT)
        W = sw * (haar_orthogonal((K, N, N), g) if weights == "orthogonal"
                  else torch.randn(K, N, N, generator=g, dtype=DT) / math.sqrt(N))
        J = a.unsqueeze(-1) * J + b.unsqueeze(-1) * torch.bmm(W, J)
        lam = torch.linalg.eigvalsh(J @ J.transpose(1, 2)).numpy()
        m, p = lam.mean(1), (lam**2).mean(1)
        se_m, se_p = m.std() / math.sqrt(K), p.std() / math.sqrt(K)
        assert abs(m.mean() - mean_N[t]) < 4 * se_m
        assert abs(p.mean() - m2_N[t]) < 4 * se_p, (t, p.mean(), se_p, m2_N[t])
        far.append(abs(p.mean() - m2_inf[t]) / se_p)
    assert max(far) > 4


def test_theory_agrees_with_rnnmf_theory_and_prints_eq12():
    c = critical_minimal(16.0, mu_b=2.0, R=R)
    sw, sv = math.sqrt(c.sigma_w_sq), math.sqrt(c.sigma_v_sq)
    for weights, s1 in (("gaussian", -1.0), ("orthogonal", 0.0)):
        th = minimal_theory(sw, sv, R, mu_b=2.0, T=20, weights=weights)
        assert th.chi_1 == pytest.approx(mt.chi_1(sw, sv, R, mu_b=2.0), rel=1e-10)
        assert th.chi_1 == pytest.approx(1.0, abs=1e-8)  # Algorithm 1 is critical
        assert th.ingredients["Q_star"] == pytest.approx(c.Q_star, rel=1e-8)
        for T in (0, 1, 7, 20):
            assert th.eq12[T] == pytest.approx(mt.var_JJT(sw, sv, R, mu_b=2.0, T=T, s1=s1), rel=1e-10)
            centered = mt.var_JJT_centered(sw, sv, R, mu_b=2.0, T=T, s1=s1)
            assert th.eq12_centered[T] == pytest.approx(centered, rel=1e-9, abs=1e-12)
        assert th.var[0] == 0.0 and th.var_free[0] == 0.0
        # one step: the recursion and the free product agree (there is nothing to compound yet)
        assert th.var[1] == pytest.approx(th.var_free[1], rel=1e-12)
    # the vanilla RNN: Pennington et al. (2017), var/mean² = T (E[φ'⁴]/E[φ'²]² − 1 − s1) at χ₁ = 1
    cv = critical_vanilla(0.5, R=R)
    for weights, s1 in (("gaussian", -1.0), ("orthogonal", 0.0)):
        th = vanilla_theory(math.sqrt(cv.sigma_w_sq), math.sqrt(cv.sigma_v_sq), R, T=10, weights=weights)
        ing = th.ingredients
        slope = ing["beta4_first"] / ing["beta2"] ** 2 - 1 - s1
        np.testing.assert_allclose(th.var, slope * np.arange(11), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(th.var_free, th.var, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------------- networks against theory
def test_measured_mean_is_chi1_to_the_T_for_untied_networks():
    """Untied networks, N = 32, 64 networks: the pooled mean eigenvalue of JJᵀ is χ₁ᵀ within 4 jackknife standard
    errors (mean-field theory is exact in expectation for the mean at any N), critical and off-critical."""
    cases = [
        (_critical_minimal(16.0, 4.0), 1.0),
        (_critical_vanilla(0.5, "orthogonal"), 1.0),
    ]
    Q, _ = mt.Q_star(1.0, 1.0, R, mu_b=0.0)  # off-critical minimalRNN: σ_w² = σ_v² = 1, μ_b = 0 (Sec. 4.2)
    off = RandomRNN("minimal", 1.0, 1.0, 0.0, 0.0, R, Q, "gaussian", False)
    cases.append((off, mt.chi_1(1.0, 1.0, R, mu_b=0.0)))
    for net, chi in cases:
        sv = singular_values(net, hidden=32, networks=64, record=[1, 6], seed=11)
        for T in (1, 6):
            st = pooled_stats(sv[T])
            assert abs(st["mean"] / chi**T - 1) < 4 * st["mean_se"] / chi**T, (net, T, st)
    assert cases[-1][1] < 0.5  # the off-critical case really is off-critical


def test_one_step_variance_is_the_derived_one_not_eq12():
    """T = 1, minimalRNN at μ_b = 0 (q* = 15.84: σ_w = 6.88, the Fig. 1 setting): the measured variance of the
    eigenvalues of J₁J₁ᵀ matches the derived one-step variance (finite-N form) within 4 standard errors, and both
    readings of the printed eq. 12 are more than 4 standard errors away."""
    net = _critical_minimal(15.84, 0.0)
    N = 64
    st = pooled_stats(singular_values(net, hidden=N, networks=128, record=[1], seed=2)[1])
    th = minimal_theory(net.sigma_w, net.sigma_v, R, mu_b=0.0, T=1, weights="gaussian", N=N, Q_star=net.h0_var)
    assert abs(st["var"] - th.var[1]) < 4 * st["var_se"], (st, th.var[1])
    assert abs(st["var"] - th.eq12_centered[1]) > 4 * st["var_se"]  # eq. 12 read as the variance
    assert abs(st["m2"] - th.eq12[1]) > 4 * st["m2_se"]  # eq. 12 read as the second moment


# ---------------------------------------------------------------------------------------------- statistics
def test_pooled_stats_and_jackknife():
    rng = np.random.default_rng(0)
    s = np.sqrt(rng.exponential(size=(20, 50)))
    st = pooled_stats(s)
    lam = s**2
    assert st["mean"] == pytest.approx(lam.mean())
    assert st["var"] == pytest.approx((lam**2).mean() - lam.mean() ** 2)
    assert st["nvar"] == pytest.approx(st["var"] / st["mean"] ** 2)
    assert 0 < st["nvar_se"] < st["nvar"]
    m = lam.mean(1)  # the jackknife error of a mean is the textbook std/sqrt(k)
    assert st["mean_se"] == pytest.approx(m.std(ddof=1) / math.sqrt(20), rel=1e-10)
    one = pooled_stats(s[:1])
    assert one["mean_se"] == one["var_se"] == one["nvar_se"] == 0.0
    q = sv_quantiles(s)
    assert q["s_min"] == s.min() and q["s_max"] == s.max() and q["s_median"] == pytest.approx(np.median(s))
    edges, dens, counts = log_density(s, 10)
    assert counts.sum() == s.size and np.sum(dens * np.diff(edges)) == pytest.approx(1.0)


def test_bad_input_is_one_clear_error():
    with pytest.raises(RnnmfError, match="cell='gru' is invalid; valid: minimal, vanilla"):
        RandomRNN("gru", 1.0, 1.0, 0.0, 0.0, R, 1.0).check()
    with pytest.raises(RnnmfError, match="weights='haar' is invalid"):
        RandomRNN("minimal", 1.0, 1.0, 0.0, 0.0, R, 1.0, "haar").check()
    with pytest.raises(RnnmfError, match="R=-1.0 is invalid"):
        RandomRNN("minimal", 1.0, 1.0, 0.0, 0.0, -1.0, 1.0).check()
    net = RandomRNN("minimal", 1.0, 1.0, 0.0, 0.0, R, 0.1)
    with pytest.raises(RnnmfError, match="hidden=0 is invalid"):
        singular_values(net, hidden=0, networks=1, record=[1])
    with pytest.raises(RnnmfError, match="weights='x' is invalid"):
        jacobian_moments(1, 1, 1, 1, 0, sigma_w2=1, weights="x", T=3)
