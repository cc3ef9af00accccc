"""GRU mean field (docs/gated-mean-field.md, sec. 2) vs adaptive quadrature, finer lattices, finite differences and a
large population of scalar units (the untied network at N -> infinity, sampled).

Monte-Carlo tolerances are stated in standard errors; every draw is seeded, so the tests are deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import rnnmf.theory.gru as G
from rnnmf.errors import RnnmfError
from rnnmf.theory.gated import resolve, torch_default
from rnnmf.theory.gaussian import gauss_hermite

BASE = dict(R=0.7, sigma_w=2.0, sigma_v=1.0, sigma_b_r=0.1, sigma_b_z=0.2, sigma_b_n=0.3, sigma_b_hn=0.2, mu_r=0.5,
            mu_z=1.0, mu_n=0.3, mu_hn=0.4)


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def _population(kw, P=60_000, T=60, seed=0):
    """One input, N -> infinity: P units whose gates are drawn from their exact Gaussian laws given E[h^2], plus a
    tangent dh propagated with fresh weights (W_k dh)_i ~ N(0, sigma_w_k^2 E[dh^2]); returns Q, m and the last 40
    per-step ratios E[dh'^2]/E[dh^2] (chi_1)."""
    p = {k: float(v[0]) for k, v in resolve("gru", **kw)[0].items()}
    rng = np.random.default_rng(seed)
    h, dh, ratios = np.zeros(P), rng.standard_normal(P), []
    for _ in range(T):
        Q, Pd = np.mean(h * h), np.mean(dh * dh)

        def pre(g, rec=True, inp=True, mu=None, sb=None, Q=Q):
            var = (p[f"sigma_w_{g}"] ** 2 * Q if rec else 0) + (p[f"sigma_v_{g}"] ** 2 * p["R"] if inp else 0)
            var += p[f"sigma_b_{g}"] ** 2 if sb is None else sb**2
            return (p[f"mu_{g}"] if mu is None else mu) + math.sqrt(var) * rng.standard_normal(P)

        r, z = _sig(pre("r")), _sig(pre("z"))
        B = pre("n", inp=False, mu=p["mu_hn"], sb=p["sigma_b_hn"])
        n = np.tanh(pre("n", rec=False) + r * B)
        e = {g: math.sqrt(Pd) * p[f"sigma_w_{g}"] * rng.standard_normal(P) for g in "rzn"}
        dn = (1 - n * n) * (r * (1 - r) * e["r"] * B + r * e["n"])
        dh_new = (1 - z) * dn + z * (1 - z) * e["z"] * (h - n) + z * dh
        ratios.append(np.mean(dh_new**2) / Pd)
        dh = dh_new / math.sqrt(np.mean(dh_new**2))
        h = (1 - z) * n + z * h
    return np.mean(h * h), np.mean(h), np.array(ratios[-40:])


SLOW_CASES = [pytest.param({**BASE, "sigma_w": 3.0, "mu_z": 2.0, "mu_hn": 0.0}, 200_000, marks=pytest.mark.slow),
              pytest.param({**BASE, "sigma_w": 1.0, "mu_z": -0.5, "mu_r": -1.0}, 200_000, marks=pytest.mark.slow)]


@pytest.mark.parametrize("kw,P", [(BASE, 60_000), *SLOW_CASES])
def test_fixed_point_and_chi_1_match_a_large_population(kw, P):
    """Q*, m* to 4 standard errors of the population's moments (SE over P units ~ sd/sqrt(P)), chi_1 to 4 SE of the
    mean of its per-step ratios (eq. 9, 14): the closure on (m, Q) is exact in the untied limit."""
    Q_pop, m_pop, ratios = _population(kw, P=P)
    Q, m = G.fixed_point(**kw)
    assert abs(Q - Q_pop) < 4 * math.sqrt(2 * Q * Q / P) + 1e-4
    assert abs(m - m_pop) < 4 * math.sqrt(Q / P)
    se = ratios.std(ddof=1) / math.sqrt(ratios.size)
    assert abs(G.chi_1(**kw) - ratios.mean()) < 4 * se + 1e-4


def test_candidate_moments_match_an_independent_rule():
    """E[n^2], E[r^2 tanh'(p)^2] and E[sigma'(a_r)^2 tanh'(p)^2 B^2] (eq. 8, 14) against a 3-D Gauss-Hermite product
    rule over (a_r, A, B) directly (no conditioning on r, no E[B^2 | p] formula): agreement to 1e-9."""
    p, _, _ = resolve("gru", **BASE)
    Q = 0.2
    d = G._moments(np.array([Q]), p)
    z, w = gauss_hermite(121)
    sr = math.sqrt(G.gate_var(p, "r", Q)[0])
    sA, sB = math.sqrt(G.gate_var(p, "n", Q)[0]), math.sqrt(G._recurrent_var_n(p, Q)[0])
    a = float(p["mu_r"][0]) + sr * z[:, None, None]
    A = float(p["mu_n"][0]) + sA * z[None, :, None]
    B = float(p["mu_hn"][0]) + sB * z[None, None, :]
    r = _sig(a)
    n = np.tanh(A + r * B)
    W = w[:, None, None] * w[None, :, None] * w[None, None, :]
    tp2 = (1 - n * n) ** 2
    assert d["En2"][0] == pytest.approx(float((W * n * n).sum()), rel=1e-9)
    assert d["Er2t2"][0] == pytest.approx(float((W * r * r * tp2).sum()), rel=1e-9)
    assert d["Esp2t2B2"][0] == pytest.approx(float((W * (r * (1 - r)) ** 2 * tp2 * B * B).sum()), rel=1e-9)


def test_lattices_are_converged():
    """Halving the lattice spacing changes the diagonal moments by < 1e-12 and E[n_a n_b] by < 1e-8 (measured: 1e-9
    worst, at sigma_w = 4, c = 1)."""
    p, _, _ = resolve("gru", sigma12=np.array([0.3]), **BASE)
    Q = np.array([0.21])
    fine = G._moments(Q, p, k=0.2)
    for key, val in G._moments(Q, p).items():
        assert val[0] == pytest.approx(fine[key][0], rel=1e-12, abs=1e-15), key
    coarse = G._nn_pair(Q, 0.4 * Q, p["sigma12"], p)
    k, hw = G.K_PAIR, G.HALF_WIDTH_PAIR
    try:
        G.K_PAIR, G.HALF_WIDTH_PAIR = 0.4, 9.0
        fine_pair = G._nn_pair(Q, 0.4 * Q, p["sigma12"], p)
    finally:
        G.K_PAIR, G.HALF_WIDTH_PAIR = k, hw
    assert abs(coarse[0] - fine_pair[0]) < 1e-8


def test_the_c_map_slope_at_one_is_chi_1():
    """Eq. 15: at Sigma12 = 1, c = 1 is a fixed point and dc'/dc there is chi_1 (backward difference, h = 1e-5)."""
    for kw in (BASE, {**BASE, "sigma_w": 4.0, "mu_z": 0.0}):
        assert G.c_map(1.0, sigma12=1.0, **kw) == pytest.approx(1.0, abs=1e-8)  # the pair rule's accuracy
        h = 1e-5
        slope = (G.c_map(1.0, sigma12=1.0, **kw) - G.c_map(1.0 - h, sigma12=1.0, **kw)) / h
        assert slope == pytest.approx(G.chi_1(**kw), abs=5e-5)


@pytest.mark.parametrize("S", [0.0, 0.6])
def test_c_star_is_the_fixed_point_and_chi_is_its_slope(S):
    s = G.summary(sigma12=S, **BASE)
    c = s["c_star"]
    assert G.c_map(c, sigma12=S, **BASE) == pytest.approx(c, abs=1e-9)
    h = 1e-4
    fd = (G.c_map(c + h, sigma12=S, **BASE) - G.c_map(c - h, sigma12=S, **BASE)) / (2 * h)
    assert s["chi_c_star"] == pytest.approx(fd, abs=1e-6)
    assert s["tau"] == pytest.approx(-1 / math.log(s["chi_c_star"]), rel=1e-12)
    traj = G.c_trajectory(np.full(80, S), **BASE)
    assert traj[-1] == pytest.approx(c, abs=1e-6)  # iterating the map from c^0 = 1 lands on c*


def test_ordered_and_chaotic_phases_at_sigma12_one():
    ordered = G.summary(sigma12=1.0, **BASE)
    assert ordered["chi_1"] < 1 and ordered["c_star"] == 1.0 and ordered["chi_c_star"] == ordered["chi_1"]
    assert ordered["tau"] == pytest.approx(-1 / math.log(ordered["chi_1"]), rel=1e-12)
    chaotic = G.summary(sigma12=1.0, **{**BASE, "sigma_w": 4.0, "mu_z": -1.0})
    assert chaotic["chi_1"] > 1 and chaotic["c_star"] < 0.99 and chaotic["chi_c_star"] < 1


def test_pair_map_matches_a_population_of_unit_pairs():
    """c^t of eq. 10 against P = 200,000 unit pairs with exact gate pairs (2x2 Cholesky on the population's Gram
    matrix): within 8e-3 (the population's c has standard error ~3e-3) over a Sigma12 = 0 then 1 schedule."""
    sched = np.r_[np.zeros(8), np.ones(12)]
    th = G.c_trajectory(sched, **BASE)
    p = {k: float(v[0]) for k, v in resolve("gru", **BASE)[0].items()}
    Q, m = G.fixed_point(**BASE)
    rng = np.random.default_rng(1)
    P = 60_000
    h = m + math.sqrt(Q - m * m) * rng.standard_normal(P)
    ha, hb = h.copy(), h.copy()
    out = []
    for S in sched:
        Qa, Qb, Q12 = np.mean(ha * ha), np.mean(hb * hb), np.mean(ha * hb)

        def pair(sw, sv, sb, mu, Qa=Qa, Qb=Qb, Q12=Q12, S=S):
            caa, cbb = sw**2 * Qa + sv**2 * p["R"] + sb**2, sw**2 * Qb + sv**2 * p["R"] + sb**2
            cab = sw**2 * Q12 + sv**2 * p["R"] * S + sb**2
            z1, z2 = rng.standard_normal(P), rng.standard_normal(P)
            l11 = math.sqrt(caa)
            l21 = cab / l11
            return mu + l11 * z1, mu + l21 * z1 + math.sqrt(max(cbb - l21 * l21, 0)) * z2

        ra, rb = pair(p["sigma_w_r"], p["sigma_v_r"], p["sigma_b_r"], p["mu_r"])
        za, zb = pair(p["sigma_w_z"], p["sigma_v_z"], p["sigma_b_z"], p["mu_z"])
        Aa, Ab = pair(0.0, p["sigma_v_n"], p["sigma_b_n"], p["mu_n"])
        Ba, Bb = pair(p["sigma_w_n"], 0.0, p["sigma_b_hn"], p["mu_hn"])
        na, nb = np.tanh(Aa + _sig(ra) * Ba), np.tanh(Ab + _sig(rb) * Bb)
        ha, hb = (1 - _sig(za)) * na + _sig(za) * ha, (1 - _sig(zb)) * nb + _sig(zb) * hb
        out.append(np.mean(ha * hb) / math.sqrt(np.mean(ha * ha) * np.mean(hb * hb)))
    assert np.max(np.abs(th - np.array(out))) < 8e-3


def test_broadcasting_and_scalars():
    sw = np.array([1.0, 2.0, 3.0])
    d = G.diagonal(**{**BASE, "sigma_w": sw})
    assert d["chi_1"].shape == (3,) and np.all(np.diff(d["chi_1"]) > 0)
    for i, s in enumerate(sw):
        assert G.chi_1(**{**BASE, "sigma_w": float(s)}) == pytest.approx(d["chi_1"][i], rel=1e-12)
    assert isinstance(G.chi_1(**BASE), float)


def test_no_input_no_bias_gives_the_dead_fixed_point():
    Q, m = G.fixed_point(R=1.0, sigma_w=0.5, sigma_v=0.0)
    assert Q == 0.0 and m == 0.0


@pytest.mark.parametrize("kw,fragment", [
    (dict(R=1.0, sigma_v=1.0), "sigma_w_r is not set"),
    (dict(R=1.0, sigma_w=1.0, sigma_v=1.0, mu_f=1.0), "unknown gru hyper-parameter(s) mu_f"),
    (dict(R=1.0, sigma_w=-1.0, sigma_v=1.0), "sigma_w_r must be a standard deviation >= 0"),
    (dict(R=0.0, sigma_w=1.0, sigma_v=1.0), "R must be an input second moment > 0"),
    (dict(R=1.0, sigma_w=1.0, sigma_v=1.0, mu_z=float("nan")), "mu_z must be any finite bias mean"),
])
def test_bad_input_names_the_value(kw, fragment):
    with pytest.raises(RnnmfError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        G.chi_1(**kw)


def test_torch_default_statistics():
    """torch's U(-1/sqrt(H), 1/sqrt(H)) init: sigma_w = 1/sqrt(3), sigma_v = sqrt(M/(3H)), summed biases 2/(3H)."""
    d = torch_default("gru", input_size=32, hidden_size=128)
    assert d["sigma_w_z"] == pytest.approx(1 / math.sqrt(3)) and d["sigma_v_n"] == pytest.approx(math.sqrt(32 / 384))
    assert d["sigma_b_z"] == pytest.approx(math.sqrt(2 / 384)) and d["sigma_b_hn"] == pytest.approx(math.sqrt(1 / 384))
    assert 0 < G.chi_1(R=1.0, **d) < 1  # torch's default GRU is ordered
