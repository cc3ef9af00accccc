"""rnnmf.sim.montecarlo: the exact O(N) untied sampler, tied-weight batching, and agreement with the mean-field theory.

Statistical tolerances are stated in standard errors of the quantity compared; every random draw is seeded, so the
tests are deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from rnnmf.errors import RnnmfError
from rnnmf.sim.montecarlo import (
    correlated_pair,
    fit_timescale,
    linear_regime,
    naive_untied_preactivations,
    simulate,
    simulate_minimal,
    simulate_vanilla,
    untied_preactivations,
)
from rnnmf.theory import minimal, vanilla

FIG1 = dict(sigma_w=6.88, sigma_v=1.39, R=0.46)




# ------------------------------------------------------------------------------- the O(N) sampler is exact
def _one_step_samples(sampler, H, X, draws, seed, **params):
    gen = torch.Generator().manual_seed(seed)
    E = sampler(H.expand(draws, *H.shape), X.expand(draws, *X.shape), generator=gen, **params)
    return E.double()  # (draws, 2, N)


@pytest.mark.parametrize("sigma_b", [0.0, 0.7])
def test_untied_sampler_matches_full_matrices_in_distribution(sigma_b):
    """One step from fixed (h_a, h_b, x_a, x_b): the O(N) sampler and fresh full N x N matrices give the same law.

    Exact law: (e_a,i, e_b,i) i.i.d. over i, mean mu_b, covariance (sigma_w^2 G_h + sigma_v^2 G_x)/N + sigma_b^2 11^T.
    Pooled over n = draws x N pairs, a sample (co)variance has standard error sqrt((s_aa s_bb + s_ab^2)/n) (Gaussian);
    means and covariances must agree with the exact values within 5 such errors, and with each other within 5 sqrt(2).
    """
    N, draws = 32, 4000
    params = dict(sigma_w=1.7, sigma_v=0.9, sigma_b=sigma_b, mu_b=0.4)
    gen = torch.Generator().manual_seed(11)
    H = correlated_pair((N,), 0.8, 0.6, gen, dtype=torch.float64)
    H[1] *= 1.3  # unequal norms
    X = correlated_pair((N,), 0.46, 0.3, gen, dtype=torch.float64)
    G = lambda Y: (Y @ Y.T).numpy()  # noqa: E731
    exact = (params["sigma_w"] ** 2 * G(H) + params["sigma_v"] ** 2 * G(X)) / N + sigma_b**2
    n = draws * N
    se_cov = np.sqrt((np.outer(np.diag(exact), np.diag(exact)) + exact**2) / n)
    se_mean = np.sqrt(np.diag(exact) / n)
    covs = {}
    for name, sampler in (("fast", untied_preactivations), ("naive", naive_untied_preactivations)):
        E = _one_step_samples(sampler, H, X, draws, seed=3, **params)
        pairs = E.permute(0, 2, 1).reshape(-1, 2).numpy()
        assert np.all(np.abs(pairs.mean(0) - params["mu_b"]) < 5 * se_mean), name
        covs[name] = np.cov(pairs.T)
        assert np.all(np.abs(covs[name] - exact) < 5 * se_cov), (name, covs[name], exact)
        # different units are independent: correlation over draws of unit 0 and unit 1 (a and b copies)
        for a, b in ((0, 0), (0, 1), (1, 0)):
            r = np.corrcoef(E[:, a, 0].numpy(), E[:, b, 1].numpy())[0, 1]
            assert abs(r) < 5 / math.sqrt(draws), (name, a, b, r)
        covs[name + "_diff"] = (E[:, 0] - E[:, 1]).reshape(-1).numpy()
    assert np.all(np.abs(covs["fast"] - covs["naive"]) < 5 * math.sqrt(2) * se_cov)
    # the whole law of e_a - e_b, not only its first two moments (seeded, so deterministic)
    assert stats.ks_2samp(covs["fast_diff"][::7], covs["naive_diff"][::7]).pvalue > 1e-3


def test_untied_sampler_handles_identical_copies():
    """h_a = h_b and x_a = x_b (c = 1): the 2x2 Cholesky is singular; both copies must come out equal and finite."""
    gen = torch.Generator().manual_seed(0)
    H = correlated_pair((4, 64), 0.3, 1.0, gen)
    X = correlated_pair((4, 64), 0.46, 1.0, gen)
    E = untied_preactivations(H, X, sigma_w=6.88, sigma_v=1.39, sigma_b=0.0, mu_b=1.0, generator=gen)
    assert torch.isfinite(E).all()
    assert torch.equal(E[:, 0], E[:, 1])


# ------------------------------------------------------------------------------------------- tied weights
def test_tied_results_do_not_depend_on_the_chunk_size(assert_ulps):
    """Each tied network draws from its own generator, so the chunk size changes only the batch its products run in:
    the floats agree to a few ulps (float32 here), not necessarily bit for bit."""
    kw = dict(sigma_w=6.88, sigma_v=1.39, sigma_b=0.3, mu_b=2.0, R=0.46, sigma12=[0.0] * 3 + [1.0] * 4, hidden=48,
              networks=5, tied=True, seed=7)
    runs = [simulate("minimal", h0_var=0.25, chunk=k, **kw) for k in (1, 2, 5)]
    for r in runs[1:]:
        for got, want in ((r.c, runs[0].c), (r.q, runs[0].q), (r.C, runs[0].C)):
            assert_ulps(got, want, 256, np.float32)
    van = [simulate("vanilla", h0_var=1.2, chunk=k, dtype="float64", **kw) for k in (1, 3)]
    assert_ulps(van[0].c, van[1].c, 256)
    other = simulate("minimal", h0_var=0.25, chunk=2, **{**kw, "seed": 8})
    assert not np.array_equal(other.c, runs[0].c)


def test_same_seed_same_numbers():
    kw = dict(Q_star=0.3, sigma_b=0.0, mu_b=0.0, sigma12=[0.5] * 5, hidden=64, networks=3, **FIG1)
    a, b = simulate_minimal(seed=1, **kw), simulate_minimal(seed=1, **kw)
    assert np.array_equal(a.c, b.c)
    assert not np.array_equal(a.c, simulate_minimal(seed=2, **kw).c)


def test_tied_weights_differ_from_untied_deep_in_the_chaotic_phase_only():
    """Sec. 3.2.1 / Fig. 1b: tied and untied agree where c* = 1 (mu_b = -3) and part deep in chaos (mu_b = 4).

    Measured at N = 256 (tied: 16 networks, se of c about 0.005): at mu_b = 4 the tied c^T is above 0.75 while the
    untied one stays at the theory's c* = 0.53 (at N = 512 x 64 networks: 0.90 against 0.54).
    """
    sched = [0.0] * 9 + [1.0] * 41
    out = {}
    for mu_b in (-3.0, 4.0):
        Q = minimal.Q_star(mu_b=mu_b, sigma_b=0.0, **FIG1).Q_star
        kw = dict(Q_star=Q, mu_b=mu_b, sigma_b=0.0, sigma12=sched, hidden=256, seed=4, **FIG1)
        out[mu_b] = (simulate_minimal(networks=64, **kw).c_mean()[-5:].mean(),
                     simulate_minimal(networks=16, tied=True, **kw).c_mean()[-5:].mean())
    untied, tied = out[-3.0]
    assert abs(tied - untied) < 0.01 and untied > 0.99
    untied, tied = out[4.0]
    c_star = minimal.c_star(mu_b=4.0, sigma_b=0.0, sigma12=1.0, **FIG1)
    assert abs(untied - c_star) < 0.03
    assert tied - untied > 0.2


# ---------------------------------------------------------------------------------- against the theory
def _assert_within(mc, theory, tol_se=4.5, floor=1e-3):
    """|mean - theory| <= 4.5 standard errors at every step (about 25 correlated steps: a z of 4.5 is a 1e-5 tail
    per step), plus 1e-3 for float32 rounding where c -> 1 and the standard error vanishes."""
    dev = np.abs(mc.c_mean() - theory)
    bound = tol_se * mc.c_se() + floor
    assert np.all(dev <= bound), (dev.max(), (dev / np.maximum(mc.c_se(), 1e-12)).max())


@pytest.mark.parametrize("mu_b,sigma_b,dtype", [(-2.0, 0.0, "float32"), (3.0, 0.0, "float32"),
                                                (3.0, 0.5, "float32"), (1.0, 0.5, "float64")])
def test_untied_minimal_matches_theory_trajectory(mu_b, sigma_b, dtype):
    """Fig. 1 schedule (Sigma12 = 0, then 1) at N = 256, 256 networks against minimal.c_trajectory (C^0 = 1)."""
    sched = np.array([0.0] * 7 + [1.0] * 18)
    Q = minimal.Q_star(mu_b=mu_b, sigma_b=sigma_b, **FIG1)
    theory = minimal.c_trajectory(sched, mu_b=mu_b, sigma_b=sigma_b, C0=1.0, **FIG1)
    mc = simulate_minimal(Q_star=Q.Q_star, mu_b=mu_b, sigma_b=sigma_b, sigma12=sched, hidden=256, networks=256,
                          seed=5, dtype=dtype, **FIG1)
    _assert_within(mc, theory)
    assert abs(mc.q_mean().mean() / Q.q_star - 1) < 0.01  # started at Q*, q stays at q*


def test_untied_minimal_from_another_initial_cosine():
    """C0 = 0 at constant Sigma12 = 0.99 (the timescale runs' start) against c_trajectory(C0=0)."""
    sched = np.full(20, 0.99)
    Q = minimal.Q_star(mu_b=2.0, **FIG1).Q_star
    theory = minimal.c_trajectory(sched, mu_b=2.0, C0=0.0, **FIG1)
    mc = simulate_minimal(Q_star=Q, mu_b=2.0, sigma_b=0.0, sigma12=sched, C0=0.0, hidden=256, networks=256, seed=9,
                          **FIG1)
    _assert_within(mc, theory)


@pytest.mark.parametrize("sigma_w,sigma_b,mu_b", [(1.5, 0.3, 0.0), (0.8, 0.5, 0.2)])
def test_untied_vanilla_matches_theory_trajectory(sigma_w, sigma_b, mu_b):
    sched = np.array([0.2] * 5 + [1.0] * 15)
    kw = dict(sigma_w=sigma_w, sigma_v=0.8, R=1.0, sigma_b=sigma_b, mu_b=mu_b)
    q = vanilla.q_star(**kw)
    theory = vanilla.c_trajectory(sched, c0=1.0, **kw)
    mc = simulate_vanilla(q_star=q, sigma12=sched, hidden=256, networks=256, seed=2, **kw)
    _assert_within(mc, theory)
    assert abs(mc.q_mean().mean() / q - 1) < 0.01


def test_shared_bias_enters_the_off_diagonal():
    """The Monte Carlo decides DESIGN.md's question: with a bias shared by both inputs, sigma_b^2 is in q_12.

    Vanilla RNN, independent inputs (Sigma12 = 0), sigma_b = 1: the shared-bias theory's c^t fits within the stated
    tolerance, the sigma_b^2 I reading (c lower by sigma_b^2 / q*, eq. 2 as printed) is off by many standard errors.
    """
    kw = dict(sigma_w=0.5, sigma_v=0.8, R=1.0, sigma_b=1.0, mu_b=0.0)
    sched = np.zeros(10)
    q = vanilla.q_star(**kw)
    theory = vanilla.c_trajectory(sched, c0=1.0, **kw)
    mc = simulate_vanilla(q_star=q, sigma12=sched, hidden=256, networks=64, seed=6, **kw)
    _assert_within(mc, theory)
    printed = theory - kw["sigma_b"] ** 2 / q
    assert np.all(np.abs(mc.c_mean() - printed) > 20 * mc.c_se())


def test_bad_arguments_are_one_line_errors():
    base = dict(sigma_w=1.0, sigma_v=1.0, sigma_b=0.0, mu_b=0.0, R=1.0, sigma12=[0.0], h0_var=1.0, hidden=8,
                networks=2)
    for bad, fragment in (({"cell": "lstm"}, "valid: minimal, vanilla"), ({"hidden": 0}, "hidden=0"),
                          ({"sigma12": [1.5]}, "sigma12"), ({"dtype": "float16"}, "float32"),
                          ({"chunk": 0}, "chunk=0"), ({"C0": 2.0}, "C0=2.0")):
        args = {"cell": "minimal", **base, **bad}
        with pytest.raises(RnnmfError, match=fragment):
            simulate(args.pop("cell"), **args)


# ----------------------------------------------------------------------------------- timescale fitting
def test_fit_timescale_recovers_tau_from_noisy_exponential():
    rng = np.random.default_rng(0)
    t = np.arange(1.0, 61.0)
    se = np.full(t.size, 0.002)
    mean = 0.7 + 0.5 * np.exp(-t / 8.0) + se * rng.standard_normal(t.size)
    fit = fit_timescale(t, mean, se, 0.7, np.ones(t.size, bool), noise=5.0, min_points=3)
    assert abs(fit["tau"] - 8.0) < 4 * fit["tau_se"] and fit["tau_se"] < 0.5
    # the window stops where the distance falls below 5 standard errors: 0.5 e^{-t/8} = 0.01 at t = 31.3
    assert fit["t_from"] == 1 and 27 <= fit["t_to"] <= 34
    linear = t >= 10
    assert fit_timescale(t, mean, se, 0.7, linear)["t_from"] == 10
    assert math.isnan(fit_timescale(t, mean, se, 0.7, t <= 2)["tau"])  # two points < min_points
    rising = 0.7 - 0.5 * np.exp(-t / 8.0)[::-1]
    assert fit_timescale(t, rising, se, 0.7, np.ones(t.size, bool))["tau"] == math.inf


def test_linear_regime_marks_geometric_decay():
    chi = 0.8
    eps = 0.3 * chi ** np.arange(30)
    assert linear_regime(eps, chi).all()
    bent = eps * (1 + 2.0 * 0.5 ** np.arange(30))  # a transient that dies out
    mask = linear_regime(bent, chi, tol=0.1)
    assert not mask[:3].any() and mask[-10:].all()
    assert not linear_regime(eps, 1.0).any()  # tau infinite: no linear exponential regime
