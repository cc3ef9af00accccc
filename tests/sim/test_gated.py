"""rnnmf.sim.gated: torch's gate equations, the exact untied sampler against the theory, exact Jacobians against
autograd and against chi_1, and torch modules. Tolerances are stated in standard errors; every draw is seeded."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnmf.errors import RnnmfError
from rnnmf.sim.gated import (
    _gru_jacobian_step,
    _lstm_jacobian_step,
    _tangent_step,
    _TiedNets,
    gru_step_msv,
    jacobian_norms,
    lstm_step_msv,
    module_chi_1,
    module_growth,
    module_one_step,
    simulate_gated,
    untied_one_step,
)
from rnnmf.theory import gru, lstm
from rnnmf.theory.gated import as_float_dict, resolve

GRU = dict(R=0.7, sigma_w=2.0, sigma_v=1.0, sigma_b=0.2, mu_z=1.0, mu_n=0.3, mu_hn=0.4, mu_r=0.5)
LSTM = dict(R=0.5, sigma_w=2.0, sigma_v=1.0, sigma_b=0.1, mu_f=3.0, mu_g=0.2)


def _p(cell, kw):
    return as_float_dict(resolve(cell, **kw)[0])


@pytest.mark.parametrize("cell,Mod,kw", [("gru", torch.nn.GRU, GRU), ("lstm", torch.nn.LSTM, LSTM)])
def test_tied_step_is_torchs_own_cell(cell, Mod, kw):
    """One step of the batched tied networks equals torch's nn.GRU / nn.LSTM with the same weights (float64)."""
    n = 16
    nets = _TiedNets(cell, _p(cell, kw), n, 0, 1, 0, torch.float64, torch.device("cpu"))
    m = Mod(n, n).double()
    with torch.no_grad():
        m.weight_hh_l0.copy_(nets.W[0])
        m.weight_ih_l0.copy_(nets.V[0])
        m.bias_ih_l0.copy_(nets.b[0, 0])
        m.bias_hh_l0.zero_()
        if cell == "gru":
            m.bias_hh_l0[2 * n:].copy_(nets.b_hn[0, 0])
    g = torch.Generator().manual_seed(0)
    H, C, X = (torch.randn((1, 2, n), generator=g, dtype=torch.float64) for _ in range(3))
    with torch.no_grad():
        Hn, _ = nets.step(H, C if cell == "lstm" else None, X)
        out = m(X[0].unsqueeze(0), (H[0].unsqueeze(0), C[0].unsqueeze(0)) if cell == "lstm" else H[0].unsqueeze(0))
    h_torch = out[1][0][0] if cell == "lstm" else out[1][0]
    torch.testing.assert_close(Hn[0], h_torch, rtol=0, atol=1e-14)


@pytest.mark.parametrize("cell,kw", [("gru", GRU), ("lstm", LSTM)])
def test_untied_monte_carlo_follows_the_theory(cell, kw):
    """c^t over a Sigma12 = 0 then 1 schedule: |theory - MC| within 5 standard errors + 3e-3 (width 512, 24 networks;
    the LSTM theory is a population of 2^15 pairs, itself good to ~3e-3)."""
    sched = np.r_[np.zeros(6), np.ones(10)]
    th = gru.c_trajectory(sched, **kw) if cell == "gru" else lstm.c_trajectory(sched, population=1 << 15, **kw)
    sim = simulate_gated(cell, _p(cell, kw), sigma12=sched, hidden=512, networks=24, seed=3, dtype="float64")
    assert np.all(np.abs(th - sim.c_mean()) <= 5 * sim.c_se() + 3e-3)
    Q = gru.fixed_point(**kw).Q_star if cell == "gru" else lstm.fixed_point(**kw).Q_star
    assert sim.q_mean()[-1] == pytest.approx(Q, rel=0.05)


def test_tied_results_do_not_depend_on_the_chunk():
    p = _p("gru", GRU)
    a = simulate_gated("gru", p, sigma12=[0.0, 1.0], hidden=32, networks=3, tied=True, chunk=1, seed=2)
    b = simulate_gated("gru", p, sigma12=[0.0, 1.0], hidden=32, networks=3, tied=True, chunk=3, seed=2)
    np.testing.assert_allclose(a.c, b.c, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cell,kw", [("gru", GRU), ("lstm", LSTM)])
def test_jacobian_step_matches_autograd(cell, kw):
    """The accumulated J_t of one step equals autograd's Jacobian of the same step (float64, N = 6)."""
    torch.manual_seed(0)
    n = 6
    names = ["r", "z", "n", "hn"] if cell == "gru" else list("ifgo")
    W = {k: torch.randn(1, n, n, dtype=torch.float64) for k in names}
    extra = {k: torch.randn(1, n, dtype=torch.float64) for k in names}
    if cell == "gru":
        h0 = torch.randn(1, n, dtype=torch.float64)

        def step(h):
            pre = {k: (W[k] @ h.reshape(1, n, 1)).reshape(1, n) + extra[k] for k in names}
            pre["n"] = extra["n"]  # the candidate's input part A has no recurrent term; W_n acts through B
            return _gru_jacobian_step({**pre, "hn": (W["n"] @ h.reshape(1, n, 1)).reshape(1, n) + extra["hn"]},
                                      {"r": W["r"], "z": W["z"], "hn": W["n"]}, h, torch.eye(n).double()[None])
        J_auto = torch.autograd.functional.jacobian(lambda h: step(h)[0], h0)[0, :, 0, :]
        J_ours = step(h0)[1][0]
    else:
        c0, h0 = torch.randn(1, n, dtype=torch.float64), torch.randn(1, n, dtype=torch.float64)

        def step(state):
            c, h = state[:, :n], state[:, n:]
            pre = {k: (W[k] @ h.reshape(1, n, 1)).reshape(1, n) + extra[k] for k in names}
            h_new, c_new, J = _lstm_jacobian_step(pre, W, c, torch.eye(2 * n).double()[None], n)
            return torch.cat([c_new, h_new], dim=1), J
        s0 = torch.cat([c0, h0], dim=1)
        J_auto = torch.autograd.functional.jacobian(lambda s: step(s)[0], s0)[0, :, 0, :]
        J_ours = step(s0)[1][0]
    torch.testing.assert_close(J_ours, J_auto, rtol=1e-12, atol=1e-12)


CHAOTIC_GRU = dict(R=1.0, sigma_w=4.0, sigma_v=1.0, sigma_b=0.1, mu_z=-1.0)  # chi_1 = 1.48


@pytest.mark.parametrize("cell,kw,T", [("gru", GRU, 3), ("gru", CHAOTIC_GRU, 1), ("gru", CHAOTIC_GRU, 3),
                                       ("lstm", LSTM, 3)])
def test_mean_jacobian_eigenvalue_matches_the_theory(cell, kw, T):
    """Mean eigenvalue of J J^T of untied networks (N = 96, 16 networks) within 3 SE + 2% of chi_1^T (GRU, eq. 14) or
    of the LSTM's tangent recursion (eq. 24). The chaotic GRU would expose a candidate that wrongly saw W h in its
    input part (torch's W_in x + b_in has none): that gave 0.78 chi_1 at T = 1."""
    norms = jacobian_norms(cell, _p(cell, kw), hidden=96, networks=16, steps=T, seed=5)[T - 1]
    theory = gru.chi_1(**kw) ** T if cell == "gru" else lstm.jacobian_mean(T, **kw)[T]
    se = norms.std(ddof=1) / math.sqrt(norms.size)
    assert abs(norms.mean() - theory) <= 3 * se + 0.02 * theory


def test_module_growth_runs_on_torch_modules_and_refuses_others():
    torch.manual_seed(0)
    g = module_growth(torch.nn.GRU(4, 16).double(), 1.0, batch=2, burn_in=3, steps=4)
    assert g["growth"] > 0 and g["per_step"].shape == (4,)
    g = module_growth(torch.nn.LSTM(4, 16, num_layers=2), 1.0, batch=2, burn_in=3, steps=4)
    assert g["growth"] > 0
    with pytest.raises(RnnmfError, match="valid: a unidirectional torch.nn.GRU or torch.nn.LSTM"):
        module_growth(torch.nn.RNN(4, 16), 1.0)


def _autograd_step_jacobian(module, state, x):
    """Autograd's Jacobian of one step of a one-layer module per sample: GRU dh'/dh, LSTM d(c', h')/d(c, h)."""
    n = module.hidden_size
    out = []
    for k in range(x.shape[1]):
        if isinstance(module, torch.nn.LSTM):
            def step(s, k=k):
                _, (h, c) = module(x[:, k:k + 1], (s[n:].reshape(1, 1, n), s[:n].reshape(1, 1, n)))
                return torch.cat([c.reshape(n), h.reshape(n)])
        else:
            def step(s, k=k):
                return module(x[:, k:k + 1], s.reshape(1, 1, n))[1].reshape(n)
        out.append(torch.autograd.functional.jacobian(step, state[k]))
    return torch.stack(out)


@pytest.mark.parametrize("Mod", [torch.nn.GRU, torch.nn.LSTM])
def test_one_step_msv_is_autograds_frobenius_norm(Mod):
    """gru_step_msv / lstm_step_msv (eq. 13, 21) against ||J||_F^2 / dim of autograd's Jacobian through torch's own
    module (float64, N = 7, 3 samples): equal to 1e-12; with an LSTM metric, against the explicitly weighted
    W'^(1/2) J W^(-1/2) of eq. 27."""
    torch.manual_seed(1)
    n, m, b = 7, 3, 3
    mod = Mod(m, n).double()
    x = torch.randn(1, b, m, dtype=torch.float64)
    h, c = torch.randn(b, n, dtype=torch.float64), torch.randn(b, n, dtype=torch.float64)
    W, V = mod.weight_hh_l0.detach(), mod.weight_ih_l0.detach()
    gi, gh = x[0] @ V.T + mod.bias_ih_l0.detach(), h @ W.T + mod.bias_hh_l0.detach()
    part = lambda T, k: T[:, k * n:(k + 1) * n]  # noqa: E731
    if Mod is torch.nn.GRU:
        J = _autograd_step_jacobian(mod, h, x)
        pre = {"r": part(gi, 0) + part(gh, 0), "z": part(gi, 1) + part(gh, 1), "n": part(gi, 2), "hn": part(gh, 2)}
        ours = gru_step_msv({"r": W[:n], "z": W[n:2 * n], "hn": W[2 * n:]}, h, pre)
        torch.testing.assert_close(ours, J.pow(2).sum(dim=(1, 2)) / n, rtol=1e-12, atol=0)
        return
    J = _autograd_step_jacobian(mod, torch.cat([c, h], dim=1), x)
    pre = {g: part(gi, k) + part(gh, k) for k, g in enumerate("ifgo")}
    mats = {g: W[k * n:(k + 1) * n] for k, g in enumerate("ifgo")}
    torch.testing.assert_close(lstm_step_msv(mats, c, pre), J.pow(2).sum(dim=(1, 2)) / (2 * n), rtol=1e-12, atol=0)

    class Metric:  # any positive weight function: the formula must be W'^(1/2) J W^(-1/2)
        w_h = 0.7

        @staticmethod
        def w(v):
            return 1.0 + 0.5 * np.tanh(v) ** 2

    c_new = torch.sigmoid(pre["f"]) * c + torch.sigmoid(pre["i"]) * torch.tanh(pre["g"])
    w_h = torch.full((b, n), Metric.w_h, dtype=torch.float64)
    before = torch.cat([torch.as_tensor(Metric.w(c.numpy())), w_h], dim=1)
    after = torch.cat([torch.as_tensor(Metric.w(c_new.numpy())), w_h], dim=1)
    Jw = after.sqrt().unsqueeze(-1) * J / before.sqrt().unsqueeze(1)
    torch.testing.assert_close(lstm_step_msv(mats, c, pre, Metric), Jw.pow(2).sum(dim=(1, 2)) / (2 * n),
                               rtol=1e-12, atol=0)


@pytest.mark.parametrize("cell,kw", [("gru", CHAOTIC_GRU), ("lstm", LSTM)])
def test_untied_one_step_is_chi_1(cell, kw):
    """The exact one-step mean squared singular value of untied networks at width 256 (8 networks, 60 steps to
    stationarity): within 4 SE + 1% of chi_1, the GRU's plain (eq. 14), the LSTM's in its metric (eq. 27); the
    LSTM's plain value is eq. 24 at t = 1, not chi_1."""
    metric = lstm.one_step_metric(**kw) if cell == "lstm" else None
    chi = gru.chi_1(**kw) if cell == "gru" else metric.chi_1
    r = untied_one_step(cell, _p(cell, kw), hidden=256, batch=8, steps=60, seed=3, metric=metric)
    assert abs(r["one_step"] - chi) <= 4 * r["one_step_se"] + 0.01 * chi
    if cell == "lstm":
        assert abs(r["one_step_plain"] - metric.plain) <= 4 * r["one_step_plain_se"] + 0.01 * metric.plain
        assert abs(metric.plain - chi) > 0.05
    else:
        assert r["one_step_plain"] == r["one_step"]


def test_module_one_step_measures_torchs_module_and_refuses_others():
    torch.manual_seed(0)
    r = module_one_step(torch.nn.GRU(4, 16), 1.0, batch=3, burn_in=5)
    assert r["one_step"] > 0 and r["one_step_se"] > 0 and 0 < r["Q"] < 1
    with pytest.raises(RnnmfError, match="valid: a one-layer unidirectional"):
        module_one_step(torch.nn.LSTM(4, 16, num_layers=2), 1.0)


@pytest.mark.parametrize("kw,fragment", [
    (dict(cell="rnn"), "unknown gated cell 'rnn'"),
    (dict(start="both"), "start='both' is invalid"),
    (dict(hidden=0), "hidden=0 is invalid"),
    (dict(sigma12=[1.5]), "sigma12=[1.5] is invalid"),
])
def test_bad_arguments(kw, fragment):
    args = dict(cell="gru", sigma12=[1.0], hidden=8, networks=2)
    args.update(kw)
    cell = args.pop("cell")
    with pytest.raises(RnnmfError, match=fragment.replace("[", r"\[")):
        simulate_gated(cell, _p("gru", GRU), **args)


@pytest.mark.parametrize("Mod", [torch.nn.GRU, torch.nn.LSTM])
def test_tangent_step_is_autograds_jacobian_of_torchs_module(Mod):
    """module_chi_1's tangent step (eq. 13, 21 from torch's weights) equals the Jacobian of torch's own forward
    (autograd, float64) applied to the tangents, and its state is the module's next state."""
    torch.manual_seed(0)
    H, M, B, K = 12, 5, 3, 2
    m = Mod(M, H).double()
    lstm_ = Mod is torch.nn.LSTM
    x = torch.randn(B, M, dtype=torch.float64)
    state = tuple(torch.randn(B, H, dtype=torch.float64) for _ in range(2 if lstm_ else 1))
    tan = tuple(torch.randn(B, K, H, dtype=torch.float64) for _ in state)

    def f(*s):
        out = m(x[None], tuple(t[None] for t in s) if lstm_ else s[0][None])[1]
        return torch.cat([out[0][0], out[1][0]], dim=-1) if lstm_ else out[0]

    J = torch.autograd.functional.jacobian(f, state)  # per input: (B, dim_out, B, H)
    gi = x @ m.weight_ih_l0.T + m.bias_ih_l0
    new, new_tan = _tangent_step("lstm" if lstm_ else "gru", m.weight_hh_l0.detach(), gi.detach(), state, tan,
                                 m.bias_hh_l0.detach())
    got = torch.cat(new_tan, dim=-1)  # (h, c) order, as f's output
    want = sum(torch.einsum("boc,bkc->bko", torch.diagonal(Jk, dim1=0, dim2=2).permute(2, 0, 1), t)
               for Jk, t in zip(J, tan, strict=True))
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.cat(new, dim=-1), f(*state).detach(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("Mod", [torch.nn.GRU, torch.nn.LSTM])
def test_module_chi_1_is_exact_for_constant_gates(Mod):
    """With weight_hh = 0 and the gates' input weights 0, every gate is its bias's sigmoid: the GRU's Jacobian is
    sigma(b_z) I (chi_1 = sigma(b_z)^2 at every step) and the LSTM's tangent is carried by dc' = f dc, dh' = a f dc,
    with a = o tanh'(c') constant once c is stationary, so its growth is f^2 = sigma(b_f)^2 from the second step on."""
    H = 16
    m = Mod(4, H).double().requires_grad_(False)
    m.weight_hh_l0.zero_()
    m.weight_ih_l0.zero_()
    if Mod is torch.nn.GRU:
        m.weight_ih_l0[2 * H:].normal_()  # the candidate may see the input: it does not enter dh'/dh
        m.bias_ih_l0[H:2 * H] = 0.8
        want = torch.sigmoid(torch.tensor(0.8 + float(m.bias_hh_l0[H]), dtype=torch.float64))
        m.bias_hh_l0[H:2 * H] = float(m.bias_hh_l0[H])
    else:
        m.bias_hh_l0.zero_()  # c -> i g / (1 - f) geometrically: stationary to rounding after 400 steps
        m.bias_ih_l0[H:2 * H] = 1.5
        want = torch.sigmoid(torch.tensor(1.5, dtype=torch.float64))
    res = module_chi_1(m, 1.0, batch=3, tangents=2, burn_in=400, steps=6)
    assert math.isclose(res["chi_1"], float(want) ** 2, rel_tol=1e-12)
    assert res["chi_1_se"] < 1e-12
    if Mod is torch.nn.GRU:
        assert math.isclose(res["one_step"], float(want) ** 2, rel_tol=1e-12)


def test_module_chi_1_refuses_what_it_cannot_measure():
    with pytest.raises(RnnmfError, match="one-layer unidirectional"):
        module_chi_1(torch.nn.LSTM(4, 8, num_layers=2), 1.0)
    with pytest.raises(RnnmfError, match="steps=1"):
        module_chi_1(torch.nn.GRU(4, 8), 1.0, steps=1)
