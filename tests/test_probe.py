"""The linear probe of a frozen network's memory (rnnmf.probe) and the streamed states it reads
(RNNEnsemble.states_at): hand-checkable networks, the one-pass/prefix property, and the crossing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnmf.errors import RnnmfError
from rnnmf.nn.ensemble import MemberInit, RNNEnsemble
from rnnmf.probe import depth_grid, features, memory_depth, probe_accuracy, t_max

M, N = 12, 6


def _one(cell, tied, steps=9, input_steps=None, dtype=torch.float64, seed=3):
    shape = {"steps": None} if tied else {"steps": steps, "input_steps": input_steps}
    ens = RNNEnsemble(cell, 1, M, N, 4, **shape).to(dtype)
    return ens.init_members([MemberInit(1.3, 0.9, mu_b=0.5, sigma_b=0.4, sigma_wx=1.1, seed=seed)])


@pytest.mark.parametrize("cell, tied, input_steps", [("vanilla", True, None), ("vanilla", False, None),
                                                     ("vanilla", False, 2), ("minimal", True, None),
                                                     ("minimal", False, None)])
def test_states_at_equal_final_hidden_on_inputs_with_the_same_projection(cell, tied, input_steps):
    """states_at draws the noise's projection A x as σ_x L ε (L Lᵀ = A Aᵀ); the raw inputs x = σ_x A⁺ L ε have
    exactly that projection, so final_hidden on them (the training path) must give the same states at every depth,
    float64, to 1e3 eps (the pseudo-inverse is not exact)."""
    ens = _one(cell, tied, input_steps=input_steps)
    B, sigma_x, depths = 5, 0.8, [0, 1, 3, 8]
    first = torch.randn(B, M, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    got = ens.states_at(first, depths, sigma_x, torch.Generator().manual_seed(7))[:, 0]
    g = torch.Generator().manual_seed(7)
    w_in = ens.weight_ih.detach()
    xs = [first]
    for t in range(1, depths[-1] + 1):
        eps = torch.empty(1, B, N, dtype=torch.float64).normal_(generator=g)[0]
        a = w_in[0] if w_in.dim() == 3 else w_in[min(t, w_in.shape[0] - 1), 0]  # this step's V_t or W_x
        chol = torch.linalg.cholesky(a @ a.T)
        xs.append(sigma_x * eps @ chol.T @ torch.linalg.pinv(a).T)
    x = torch.stack(xs)
    for i, T in enumerate(depths):
        want = ens.final_hidden(x[:T + 1])[0]
        torch.testing.assert_close(got[i], want, rtol=0, atol=1e3 * torch.finfo(torch.float64).eps)


@pytest.mark.parametrize("cell, tied", [("vanilla", False), ("minimal", True), ("minimal", False)])
def test_states_at_depth_T_from_one_long_pass_equal_a_T_step_pass(cell, tied):
    ens = _one(cell, tied, steps=30, input_steps=2 if cell == "vanilla" and not tied else None,
               dtype=torch.float32)
    first = torch.randn(7, M, generator=torch.Generator().manual_seed(1))
    long = ens.states_at(first, range(30), 1.0, torch.Generator().manual_seed(5))
    for T in (0, 4, 17):
        short = ens.states_at(first, [T], 1.0, torch.Generator().manual_seed(5))[0]
        torch.testing.assert_close(long[T], short, rtol=0, atol=8 * torch.finfo(torch.float32).eps)


def test_states_at_noise_has_the_input_noise_statistics():
    """Exact in distribution: q = mean h² at depth 6 from states_at against final_hidden on raw N(0, σ_x² I_M)
    noise (the task's own NoisySequence), 4,000 examples each, within 5 standard errors."""
    from rnnmf.data import NoisySequence

    ens = RNNEnsemble("minimal", 1, 784, 8, steps=None).init_members([MemberInit(2.0, 1.39, mu_b=1.0, seed=2)])
    B, T = 4000, 6
    first = torch.randn(B, 784, generator=torch.Generator().manual_seed(3))
    h_fast = ens.states_at(first, [T], 1.0, torch.Generator().manual_seed(4))[0, 0]
    with torch.no_grad():
        h_raw = ens.final_hidden(NoisySequence(first, T, 1.0, seed=9).materialize())[0]
    a, b = h_fast.pow(2).mean(1).double(), h_raw.pow(2).mean(1).double()
    se = math.sqrt(a.var() / B + b.var() / B)
    assert abs(float(a.mean() - b.mean())) < 5 * se, (float(a.mean()), float(b.mean()), se)


def test_states_at_refuses_bad_depths():
    ens = _one("minimal", False, steps=5)
    first = torch.zeros(2, M, dtype=torch.float64)
    with pytest.raises(RnnmfError, match="valid: 0 to 4"):
        ens.states_at(first, [5], 1.0, torch.Generator())
    with pytest.raises(RnnmfError, match="depths"):
        ens.states_at(first, [-1], 1.0, torch.Generator())
    wide = RNNEnsemble("vanilla", 1, 3, 4, steps=None).init_members([MemberInit(1.0, 1.0, seed=0)])
    with pytest.raises(RnnmfError, match="hidden_size <= input_size"):
        wide.states_at(torch.zeros(2, 3), [1], 1.0, torch.Generator())


def test_t_max_interpolates_the_last_crossing_in_log_T_and_marks_censoring():
    # between T = 4 (0.3) and T = 8 (0.1) the threshold 0.2 is half-way: T_max = 4·√2
    assert t_max([1, 2, 4, 8], [0.9, 0.5, 0.3, 0.1], 0.2) == (pytest.approx(4 * math.sqrt(2), rel=1e-12), "none")
    assert t_max([1, 2, 4, 8], [0.9, 0.1, 0.3, 0.1], 0.2)[0] == pytest.approx(4 * math.sqrt(2))  # the LAST one
    assert t_max([1, 2, 4], [0.9, 0.5, 0.3], 0.2) == (4.0, "above")
    T, cens = t_max([1, 2, 4], [0.2, 0.1, 0.1], 0.2)
    assert math.isnan(T) and cens == "below"


def test_depth_grid_is_a_log_grid_of_integers():
    d = depth_grid(1, 1000, 1.07)
    r = np.diff(np.log(d))
    assert d[0] == 1 and d[-1] == 1000 and len(set(d)) == len(d)
    assert np.all(r[np.array(d[:-1]) >= 20] <= math.log(1.07) + math.log(1 + 1 / 20))
    with pytest.raises(RnnmfError, match="ratio"):
        depth_grid(1, 10, 1.0)


def _digits(n, seed):
    from rnnmf.data import load_mnist

    x, y = load_mnist(None, "train", download=False, standardize="global")
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
    return x[idx], y[idx]


@pytest.mark.parametrize("k", [3, 7])
def test_a_network_that_copies_the_image_for_k_steps_then_erases_it_has_t_max_between_k_and_k_plus_1(k):
    """An untied minimalRNN whose gate biases are set by hand: b_0 = −40 opens the gate (h¹ = x̃ of the image),
    b_t = +40 closes it for t = 1..k (h holds the image to within 1 − σ(40) ≈ 4e-18 per step), b_(k+1) = −40
    overwrites it with x̃ of pure noise, and the gate stays closed after. The probe must find the image at every
    depth ≤ k and chance after, so T_max lies in (k, k+1), for both probes."""
    steps = 15
    ens = RNNEnsemble("minimal", 1, 784, 16, steps=steps).init_members([MemberInit(1.0, 1.0, seed=4)])
    with torch.no_grad():
        ens.bias.fill_(40.0)
        ens.bias[0] = -40.0
        ens.bias[k + 1] = -40.0
    x, y = _digits(900, 0)
    depths = list(range(1, steps))
    f = features(ens, x, depths, 1.0, seed=1)
    (res,) = memory_depth(f, y[:600], y[600:], depths, threshold=0.2, window=3)
    assert res["acc"][:k].min() > 0.4 and res["acc"][k:].max() < 0.2  # the image, then chance (sd 0.017 at 0.1)
    assert res["censored"] == "none" and k < res["T_max"] < k + 1
    assert res["censored_logistic"] == "none" and k < res["T_max_logistic"] < k + 1


def test_a_network_that_keeps_the_image_is_censored_above():
    ens = RNNEnsemble("minimal", 1, 784, 16, steps=10).init_members([MemberInit(1.0, 1.0, seed=4)])
    with torch.no_grad():
        ens.bias.fill_(40.0)
        ens.bias[0] = -40.0
    x, y = _digits(900, 1)
    f = features(ens, x, range(1, 10), 1.0, seed=1)
    (res,) = memory_depth(f, y[:600], y[600:], list(range(1, 10)), threshold=0.2)
    assert res["censored"] == "above" and res["T_max"] == 9.0
    # the state is the image's x̃ at every depth, so the probe's accuracy is the same at every depth
    assert np.ptp(res["acc"]) == 0.0


def test_ridge_and_logistic_probes_agree_on_separable_and_on_pure_noise_features():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(10, (1500,), generator=g)
    centres = 3 * torch.randn(10, 8, generator=g)
    informative = centres[y] + torch.randn(1500, 8, generator=g)
    noise = torch.randn(1500, 8, generator=g)
    feats = torch.stack([informative, noise])  # two problems
    for method in ("ridge", "logistic"):
        acc = probe_accuracy(feats[:, :1000], y[:1000], feats[:, 1000:], y[1000:], method=method)
        assert acc[0] > 0.9 and abs(float(acc[1]) - 0.1) < 4 * math.sqrt(0.09 / 500)
    with pytest.raises(RnnmfError, match="valid: logistic, ridge"):
        probe_accuracy(feats[:, :10], y[:10], feats[:, 10:20], y[10:20], method="svm")
