"""Initialisers: sampled statistics against the requested ones, with tolerances from the sample size.

For n i.i.d. N(μ, s²) draws the sample mean has standard error s/√n and the sample variance s²·√(2/(n−1)); every
check allows Z = 6 standard errors (a false alarm about once in 10⁹ per check), and the seeds are fixed anyway.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

import rnnmf.nn.init
from rnnmf.draws import haar_orthogonal
from rnnmf.errors import InfeasibleError, RnnmfError
from rnnmf.nn import (
    MinimalRNN,
    UntiedMinimalRNN,
    UntiedVanillaRNN,
    VanillaRNN,
    estimate_R,
    init_critical,
    init_explicit,
    init_off_critical,
)

Z = 6.0


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def assert_mean(t, mean, std):
    n = t.numel()
    assert abs(t.double().mean().item() - mean) < Z * std / math.sqrt(n) + 1e-12, (t.mean().item(), mean)


def assert_var(t, var, mean=0.0):
    n = t.numel()
    got = (t.double() - mean).square().mean().item()  # known mean: n degrees of freedom
    assert abs(got - var) < Z * var * math.sqrt(2 / n) + 1e-12, (got, var)


MODELS = [
    lambda: MinimalRNN(10, 64, num_layers=2),
    lambda: VanillaRNN(10, 64, num_layers=2),
    lambda: UntiedMinimalRNN(10, 32, T=6),
    lambda: UntiedVanillaRNN(10, 32, T=6),
]


@pytest.mark.parametrize("make", MODELS)
def test_gaussian_statistics(make):
    m = make()
    sw, sv, sb, mb, sx = 1.7, 0.6, 0.3, 2.5, 1.3
    init_explicit(m, sw, sv, sb, mb, weights="gaussian", sigma_x=sx, generator=_gen())
    for c in m.cells():
        N = c.W.shape[-1]
        assert_mean(c.W, 0.0, sw / math.sqrt(N))
        assert_var(c.W, sw**2 / N)
        fan_in = c.V.shape[-1]  # input size (vanilla layer 0) or N (vanilla layer > 0, the minimalRNN's V on x̃)
        assert fan_in == (N if c.W_x is not None else fan_in)
        assert_var(c.V, sv**2 / fan_in)
        assert_mean(c.b, mb, sb)
        assert_var(c.b, sb**2, mean=mb)
        if c.W_x is not None:
            assert_var(c.W_x, sx**2 / c.W_x.shape[-1])


def test_vanilla_v_fan_in_is_the_input_size():
    m = VanillaRNN(10, 64, num_layers=2)
    init_explicit(m, 1.0, 2.0, weights="gaussian", generator=_gen())
    (c0, c1) = m.cells()
    assert_var(c0.V, 4.0 / 10)
    assert_var(c1.V, 4.0 / 64)


@pytest.mark.parametrize("make", MODELS)
def test_orthogonal_singular_values_are_sigma_w(make):
    m = make()
    init_explicit(m, 2.3, 1.0, weights="orthogonal", generator=_gen())
    for c in m.cells():
        s = torch.linalg.svdvals(c.W.double())
        torch.testing.assert_close(s, torch.full_like(s, 2.3), rtol=1e-6, atol=1e-6)
        N = c.W.shape[-1]
        assert_var(c.W, 2.3**2 / N)  # a Haar entry has variance 1/N, like the Gaussian case
    if isinstance(m, (UntiedMinimalRNN, UntiedVanillaRNN)):
        assert not torch.allclose(m.weight_hh[0], m.weight_hh[1])  # a fresh draw per step


def test_haar_orthogonal_is_haar():
    """Without the sign fix, QR's Q is biased (its diagonal skews negative with LAPACK): E[Q_11] = 0, E[tr Q] = 0 and
    Var[tr Q] = 1 for Haar matrices (N ≥ 2)."""
    n, N = 20000, 4
    q = haar_orthogonal((n, N, N), generator=_gen(1))
    assert_mean(q[:, 0, 0], 0.0, 1 / math.sqrt(N))
    tr = q.diagonal(dim1=-2, dim2=-1).sum(-1)
    assert_mean(tr, 0.0, 1.0)
    assert abs(tr.var().item() - 1.0) < Z * math.sqrt(2 / n) * 1.5  # tr Q is not Gaussian; 1.5 for its kurtosis


def test_same_generator_same_weights_and_dtype_kept():
    a, b = MinimalRNN(3, 8).double(), MinimalRNN(3, 8).double()
    init_explicit(a, 1.0, 1.0, 0.1, 0.5, generator=_gen(5))
    init_explicit(b, 1.0, 1.0, 0.1, 0.5, generator=_gen(5))
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q) and p.dtype == torch.float64


def test_off_critical_is_unit_variances():
    m = VanillaRNN(64, 64)
    init_off_critical(m, weights="gaussian", generator=_gen())
    (c,) = m.cells()
    assert_var(c.W, 1.0 / 64)
    assert_var(c.V, 1.0 / 64)
    assert torch.count_nonzero(c.b) == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(weights="uniform"), "weights='uniform'.*orthogonal, gaussian"),
        (dict(sigma_w=-1.0), "sigma_w=-1.0"),
        (dict(sigma_b=float("nan")), "sigma_b=nan"),
        (dict(sigma_x="a"), "sigma_x='a'"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    args = dict(sigma_w=1.0, sigma_v=1.0) | kwargs
    with pytest.raises(RnnmfError, match=match):
        init_explicit(MinimalRNN(2, 3), **args)


def test_unsupported_module_raises():
    with pytest.raises(RnnmfError, match="GRU.*valid: MinimalRNN, VanillaRNN"):
        init_off_critical(torch.nn.GRU(2, 3))


# ---------------------------------------------------------------------------------------------- critical init
def test_critical_calls_the_theory_with_the_right_arguments(monkeypatch):
    """Wiring only, with the theory replaced: which function, which argument order, square roots of the variances."""
    calls = []

    def fake_minimal(q_star, mu_b, R):
        calls.append(("minimal", q_star, mu_b, R))
        return SimpleNamespace(sigma_w_sq=4.0, sigma_v_sq=0.25, sigma_b_sq=0.0, Q_star=0.3, Q_star_stable=True)

    def fake_vanilla(q_star, R, mu_b=0.0):
        calls.append(("vanilla", q_star, R, mu_b))
        return SimpleNamespace(sigma_w_sq=1.0, sigma_v_sq=0.01, sigma_b_sq=0.0, Q_star=None)

    monkeypatch.setattr(rnnmf.nn.init, "critical_minimal", fake_minimal)
    monkeypatch.setattr(rnnmf.nn.init, "critical_vanilla", fake_vanilla)
    m = MinimalRNN(64, 64)
    res = init_critical(m, q_star=0.5, R=0.46, mu_b=4.0, weights="gaussian", generator=_gen())
    assert calls[-1] == ("minimal", 0.5, 4.0, 0.46) and res.Q_star == 0.3
    (c,) = m.cells()
    assert_var(c.W, 4.0 / 64)
    assert_var(c.V, 0.25 / 64)
    assert_mean(c.b, 4.0, 1e-12)  # σ_b = 0: every b_i is μ_b
    v = VanillaRNN(64, 64)
    init_critical(v, q_star=0.1, R=1.0, weights="orthogonal")
    assert calls[-1] == ("vanilla", 0.1, 1.0, 0.0)
    s = torch.linalg.svdvals(v.cells()[0].W.double())
    torch.testing.assert_close(s, torch.ones_like(s), rtol=1e-6, atol=1e-6)


def test_critical_minimal_with_the_real_theory():
    m = MinimalRNN(16, 128)
    res = init_critical(m, q_star=5.0, R=0.46, mu_b=2.0, weights="gaussian", generator=_gen())
    assert res.sigma_b_sq == 0.0 and res.Q_star > 0 and res.Q_star_stable
    (c,) = m.cells()
    assert_var(c.W, res.sigma_w_sq / 128)
    assert_var(c.V, res.sigma_v_sq / 128)
    torch.testing.assert_close(c.b, torch.full_like(c.b, 2.0))


def test_critical_vanilla_with_the_real_theory():
    m = VanillaRNN(32, 128)
    res = init_critical(m, q_star=0.1, R=1.0, weights="orthogonal", generator=_gen())
    assert res.Q_star is None
    (c,) = m.cells()
    s = torch.linalg.svdvals(c.W.double())
    torch.testing.assert_close(s, torch.full_like(s, math.sqrt(res.sigma_w_sq)), rtol=1e-6, atol=1e-6)
    assert_var(c.V, res.sigma_v_sq / 32)


def test_critical_infeasible_raises_and_unstable_warns():
    with pytest.raises(InfeasibleError, match="sigma_v"):  # Algorithm 1, line 7: σ_v² < 0
        init_critical(MinimalRNN(4, 8), q_star=1.0, R=0.46, mu_b=0.0)
    with pytest.warns(RuntimeWarning, match="unstable"):  # the paper's Algorithm 1 does not check this
        res = init_critical(MinimalRNN(4, 8), q_star=2.0, R=0.46, mu_b=3.4)
    assert res.Q_star_stable is False


def test_estimate_R_and_keeping_W_x():
    m = MinimalRNN(8, 64)
    init_off_critical(m, generator=_gen())
    x = torch.randn(50, 16, 8, generator=_gen(2))
    R = estimate_R(m, x)
    assert R == pytest.approx(torch.tanh(x @ m.weight_ih_l0.detach().t()).square().mean().item())
    w_x = m.weight_ih_l0.detach().clone()
    init_critical(m, q_star=5.0, R=R, mu_b=2.0, sigma_x=None)  # W_x kept, so R is still the measured one
    assert torch.equal(m.weight_ih_l0, w_x)
    assert estimate_R(VanillaRNN(8, 4), x) == pytest.approx(x.square().mean().item())
