"""An ensemble of K small RNNs equals K separate `rnnmf.nn` models with the same weights, forward and backward."""

from __future__ import annotations

import math

import pytest
import torch

from rnnmf.errors import RnnmfError
from rnnmf.nn.ensemble import MemberInit, RNNEnsemble

M, N, C, B, S, K = 12, 6, 4, 5, 7, 3
INITS = [MemberInit(sigma_w=1.2, sigma_v=0.9, mu_b=0.5, sigma_b=0.3, sigma_wx=1.1, seed=10),
         MemberInit(sigma_w=0.7, sigma_v=1.5, mu_b=-1.0, sigma_b=0.1, sigma_wx=0.8, seed=11, weights="orthogonal"),
         MemberInit(sigma_w=2.0, sigma_v=0.3, mu_b=2.0, seed=12)]


def _ensemble(cell, tied, input_steps=None, fused=True):
    ens = RNNEnsemble(cell, K, M, N, C, steps=None if tied else S, input_steps=input_steps, fused=fused).double()
    return ens.init_members(INITS)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "autograd"])
@pytest.mark.parametrize("cell, tied, input_steps", [("vanilla", True, None), ("vanilla", False, None),
                                                     ("vanilla", False, 2), ("vanilla", False, 4),
                                                     ("minimal", True, None), ("minimal", False, None)])
def test_ensemble_equals_separate_models_forward_and_backward(cell, tied, input_steps, fused):
    torch.manual_seed(0)
    ens = _ensemble(cell, tied, input_steps, fused)
    x = torch.randn(S, B, M, dtype=torch.float64)
    y = torch.randint(C, (B,))
    logits = ens(x)
    losses = ens.member_loss(logits, y)
    assert logits.shape == (K, B, C) and losses.shape == (K,)
    losses.sum().backward()
    for k in range(K):
        model, readout = ens.export_member(k)
        out, h_n = model(x)
        ref_logits = readout(out[-1])
        ref_loss = torch.nn.functional.cross_entropy(ref_logits, y)
        ref_loss.backward()
        torch.testing.assert_close(logits[k], ref_logits, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(losses[k], ref_loss, rtol=1e-10, atol=1e-12)
        (c,) = model.cells()
        pairs = [(ens.weight_hh.grad[..., k, :, :], c.W.grad), (ens.bias.grad[..., k, :], c.b.grad),
                 (ens.readout_weight.grad[k], readout.weight.grad), (ens.readout_bias.grad[k], readout.bias.grad)]
        if cell == "vanilla" and tied:
            pairs.append((ens.weight_ih.grad[k], c.V.grad))
        elif cell == "vanilla":  # V_t shared from step P-1 on: the reference's gradients summed over those steps
            P = input_steps or S
            want = torch.cat([c.V.grad[:P - 1], c.V.grad[P - 1:].sum(0, keepdim=True)])
            pairs.append((ens.weight_ih.grad[:, k], want))
        else:
            pairs += [(ens.weight_ih.grad[k], c.W_x.grad), (ens.weight_zh.grad[..., k, :, :], c.V.grad)]
        for got, want in pairs:
            torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
            assert want.abs().max() > 0  # a gradient that is zero everywhere would make the comparison empty


@pytest.mark.parametrize("cell, tied", [("vanilla", True), ("vanilla", False), ("minimal", True),
                                        ("minimal", False)])
def test_fused_recurrence_passes_gradcheck(cell, tied):
    from rnnmf.nn.ensemble import EnsembleRecurrence

    g = torch.Generator().manual_seed(1)
    Sg, Kg, Bg, Ng = 4, 2, 3, 3
    a = torch.randn(Sg, Kg, Bg, Ng, generator=g, dtype=torch.float64, requires_grad=True)
    xt = None
    if cell == "minimal":
        xt = torch.randn(Sg, Kg, Bg, Ng, generator=g, dtype=torch.float64, requires_grad=True)
    w = (0.7 * torch.randn(*(() if tied else (Sg,)), Kg, Ng, Ng, generator=g, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda *args: EnsembleRecurrence.apply(*args), (a, xt, w))


def test_member_weights_depend_only_on_their_seed_and_follow_the_statistics():
    a = RNNEnsemble("minimal", 2, 784, 64, steps=None).init_members(
        [MemberInit(6.88, 1.39, 4.0, seed=1), MemberInit(1.0, 1.0, seed=2)])
    b = RNNEnsemble("minimal", 1, 784, 64, steps=None).init_members([MemberInit(1.0, 1.0, seed=2)])
    torch.testing.assert_close(a.weight_hh[1], b.weight_hh[0], rtol=0, atol=0)
    torch.testing.assert_close(a.weight_ih[1], b.weight_ih[0], rtol=0, atol=0)
    # Empirical std of 64*64 (W, V) and 64*784 (W_x) Gaussian entries: within 5% (4096 samples: sd of estimate 1.1%).
    assert a.weight_hh[0].std().item() == pytest.approx(6.88 / 8, rel=0.05)
    assert a.weight_zh[0].std().item() == pytest.approx(1.39 / 8, rel=0.05)
    assert a.weight_ih[0].std().item() == pytest.approx(1 / math.sqrt(784), rel=0.05)
    assert a.bias[0].tolist() == pytest.approx([4.0] * 64)
    v = RNNEnsemble("vanilla", 1, 784, 64).init_members([MemberInit(1.0, 0.025, weights="orthogonal", seed=3)])
    w = v.weight_hh[0].double()
    torch.testing.assert_close(w @ w.t(), torch.eye(64, dtype=torch.float64), rtol=0, atol=1e-5)
    assert v.weight_ih[0].std().item() == pytest.approx(0.025 / 28, rel=0.05)


def test_untied_members_get_fresh_weights_per_step():
    ens = RNNEnsemble("vanilla", 2, 8, 16, steps=4).init_members([MemberInit(1.0, 1.0, seed=1)] * 2)
    assert ens.weight_hh.shape == (4, 2, 16, 16)
    assert not torch.allclose(ens.weight_hh[0, 0], ens.weight_hh[1, 0])
    torch.testing.assert_close(ens.weight_hh[:, 0], ens.weight_hh[:, 1], rtol=0, atol=0)  # same seed, same member


def test_param_count_matches_the_parameters():
    for cell, steps, input_steps in [("vanilla", None, None), ("vanilla", 5, None), ("vanilla", 5, 2),
                                     ("minimal", None, None), ("minimal", 5, None)]:
        ens = RNNEnsemble(cell, 3, 7, 4, 10, steps=steps, input_steps=input_steps)
        count = RNNEnsemble.param_count(cell, 7, 4, 10, steps, input_steps)
        assert 3 * count == sum(p.numel() for p in ens.parameters())


def test_bad_input_is_one_clear_error():
    with pytest.raises(RnnmfError, match="cell='gru'"):
        RNNEnsemble("gru", 2, 3, 4)
    ens = RNNEnsemble("vanilla", 2, 3, 4, steps=5)
    with pytest.raises(RnnmfError, match="one per member"):
        ens.init_members([MemberInit(1.0, 1.0)])
    with pytest.raises(RnnmfError, match="sigma_w=-1"):
        ens.init_members([MemberInit(-1.0, 1.0)] * 2)
    with pytest.raises(RnnmfError, match="input_steps=2 is invalid for a minimal"):
        RNNEnsemble("minimal", 2, 3, 4, steps=5, input_steps=2)
    with pytest.raises(RnnmfError, match="sequence length 6"):
        ens(torch.zeros(6, 2, 3))
    with pytest.raises(RnnmfError, match="input of shape"):
        ens(torch.zeros(5, 2, 4))


@pytest.mark.parametrize("cell", ["vanilla", "minimal"])
def test_member_statistics_follow_rnnmf_nn_init_conventions(cell):
    """Each parameter's scale equals what `rnnmf.nn.init.init_explicit` gives the same model (within 5%)."""
    from rnnmf.nn import init
    from rnnmf.nn.minimal import MinimalRNN
    from rnnmf.nn.vanilla import VanillaRNN

    Mi, Ni = 400, 64
    m = MemberInit(sigma_w=1.7, sigma_v=0.6, mu_b=1.5, sigma_b=0.2, sigma_wx=1.3, seed=4)
    ens = RNNEnsemble(cell, 1, Mi, Ni).init_members([m])
    model, _ = ens.export_member(0)
    ref = MinimalRNN(Mi, Ni) if cell == "minimal" else VanillaRNN(Mi, Ni)
    with torch.no_grad():
        init.init_explicit(ref, m.sigma_w, m.sigma_v, m.sigma_b, m.mu_b, weights="gaussian", sigma_x=m.sigma_wx,
                           generator=torch.Generator().manual_seed(0))
    for got, want in zip(model.cells(), ref.cells(), strict=True):
        for name in ("W", "V", "W_x"):
            if getattr(want, name) is not None:
                assert getattr(got, name).std().item() == pytest.approx(getattr(want, name).std().item(), rel=0.05)
        assert got.b.mean().item() == pytest.approx(want.b.mean().item(), abs=0.1)  # both N(1.5, 0.2^2), 64 entries
        assert got.b.std().item() == pytest.approx(0.2, rel=0.3)
