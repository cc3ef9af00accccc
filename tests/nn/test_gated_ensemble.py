"""GatedEnsemble: K torch-parameterised GRUs/LSTMs; tied members equal torch's own nn.GRU/nn.LSTM, gradients pass
gradcheck, untied members draw fresh recurrent weights per step, and a member does not depend on its ensemble."""

from __future__ import annotations

import math

import pytest
import torch

from experiments.settings.trainability import member_params
from rnnmf.errors import RnnmfError
from rnnmf.nn.gated_ensemble import GatedEnsemble, GatedInit

M, N, C, B, S, K = 7, 5, 4, 3, 6, 3
INITS = [GatedInit(1.3, 0.9, mu=1.0, sigma_b=0.3, seed=10), GatedInit(0.7, 1.5, mu=-1.0, sigma_b=0.2, seed=11,
                                                                         weights="orthogonal"),
         GatedInit(2.5, 0.4, mu=3.0, seed=12)]
EPS = torch.finfo(torch.float64).eps


def _ensemble(cell, tied):
    return GatedEnsemble(cell, K, M, N, C, steps=None if tied else S).double().init_members(INITS)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_tied_members_equal_torchs_own_module_forward_and_backward(cell):
    """Same weights -> the same logits as torch.nn.GRU/LSTM + nn.Linear within 64 eps (float64; measured about 1
    eps), and the same gradients of every parameter within 1e-10 relative (the ensemble sums b_ih + b_hh into one
    bias)."""
    torch.manual_seed(0)
    ens = _ensemble(cell, tied=True)
    x = torch.randn(S, B, M, dtype=torch.float64)
    y = torch.randint(C, (B,))
    logits = ens(x)
    ens.member_loss(logits, y).sum().backward()
    for k in range(K):
        module, readout = ens.export_member(k)
        out, _ = module(x)
        ref = readout(out[-1])
        torch.nn.functional.cross_entropy(ref, y).backward()
        assert (logits[k] - ref).abs().max().item() <= 64 * EPS * max(1.0, ref.abs().max().item())
        pairs = [(ens.weight_hh.grad[k], module.weight_hh_l0.grad), (ens.weight_ih.grad[k], module.weight_ih_l0.grad),
                 (ens.bias.grad[k], module.bias_ih_l0.grad), (ens.readout_weight.grad[k], readout.weight.grad)]
        if cell == "gru":
            pairs.append((ens.bias_hn.grad[k], module.bias_hh_l0.grad[2 * N:]))
        for got, want in pairs:
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-13)
            assert want.abs().max() > 0


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_gradients_pass_gradcheck(cell, tied):
    ens = GatedEnsemble(cell, 2, 3, 2, 2, steps=None if tied else 3).double().init_members(INITS[:2])
    x = torch.randn(3, 2, 3, dtype=torch.float64)
    params = [p for p in ens.parameters()]
    names = [n for n, _ in ens.named_parameters()]

    def f(*ps):
        return torch.func.functional_call(ens, dict(zip(names, ps, strict=True)), (x,))

    assert torch.autograd.gradcheck(f, tuple(p.detach().requires_grad_() for p in params), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_untied_members_get_fresh_weights_per_step_and_equal_tied_ones_when_the_steps_agree(cell):
    ens = _ensemble(cell, tied=False)
    assert not torch.equal(ens.weight_hh[0], ens.weight_hh[1]) and not torch.equal(ens.bias[0], ens.bias[1])
    tied = _ensemble(cell, tied=True)
    with torch.no_grad():  # copy the tied weights into every step: the untied loop must give the tied result
        ens.weight_hh.copy_(tied.weight_hh.expand_as(ens.weight_hh))
        ens.weight_ih.copy_(tied.weight_ih)
        ens.bias.copy_(tied.bias.expand_as(ens.bias))
        if cell == "gru":
            ens.bias_hn.copy_(tied.bias_hn.expand_as(ens.bias_hn))
        ens.readout_weight.copy_(tied.readout_weight)
    x = torch.randn(S, B, M, dtype=torch.float64)
    torch.testing.assert_close(ens(x), tied(x), rtol=0, atol=0)  # the same operations in the same order


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_a_member_depends_only_on_its_seed_and_follows_the_statistics(cell):
    alone = GatedEnsemble(cell, 1, M, N, C).double().init_members(INITS[2:])
    assert torch.equal(alone.weight_hh[0], _ensemble(cell, True).weight_hh[2])
    big = GatedEnsemble(cell, 1, 400, 200).init_members([GatedInit(2.0, 0.5, mu=3.0, sigma_b=0.25, seed=1)])
    G = 3 if cell == "gru" else 4
    W, V, b = big.weight_hh[0], big.weight_ih[0], big.bias[0]
    # sample standard deviations of 40,000-160,000 Gaussian entries: within 2% (~5 standard errors)
    assert W.std().item() == pytest.approx(2.0 / math.sqrt(200), rel=0.02)
    assert V.std().item() == pytest.approx(0.5 / math.sqrt(400), rel=0.02)
    memory = b[200:400]  # the memory gate is torch's second row block: GRU z, LSTM f
    others = torch.cat([b[:200], b[400:]])
    assert memory.mean().item() == pytest.approx(3.0, abs=0.1) and abs(others.mean().item()) < 0.1
    assert others.std().item() == pytest.approx(0.25, rel=0.15) and b.numel() == G * 200


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("steps", [None, 9])
def test_param_count_matches_the_parameters_and_the_settings_memory_estimate(cell, steps):
    ens = GatedEnsemble(cell, 2, M, N, C, steps=steps)
    per_member = sum(p.numel() for p in ens.parameters()) // 2
    assert GatedEnsemble.param_count(cell, M, N, C, steps) == per_member
    assert member_params(cell, 7, steps) == GatedEnsemble.param_count(cell, 784, 7, 10, steps)


def test_bad_input_is_one_clear_error():
    with pytest.raises(RnnmfError, match="cell='rnn' is invalid; valid: gru, lstm"):
        GatedEnsemble("rnn", 1, M, N)
    with pytest.raises(RnnmfError, match="sigma_w=-1.0 is invalid"):
        GatedEnsemble("gru", 1, M, N).init_members([GatedInit(-1.0, 1.0)])
    ens = GatedEnsemble("lstm", 1, M, N, steps=4)
    with pytest.raises(RnnmfError, match="sequence length 5 is invalid"):
        ens(torch.zeros(5, 2, M))
    with pytest.raises(RnnmfError, match="export_member needs a tied ensemble"):
        ens.export_member(0)


@pytest.mark.parametrize("cell", ["gru", "lstm", "minimal", "vanilla"])
def test_every_ensemble_refuses_a_bad_input_in_one_line(cell):
    """One input check (rnnmf.nn.ensemble.check_sequence) for the gated and the paper's ensembles: the shape must be
    (S, B, M) with S >= 1, and an untied ensemble takes at most its `steps` steps."""
    from rnnmf.nn.ensemble import RNNEnsemble

    make = GatedEnsemble if cell in ("gru", "lstm") else RNNEnsemble
    untied = make(cell, 1, 3, 2, 2, steps=2)
    with pytest.raises(RnnmfError, match=r"input of shape \(2, 3\) is invalid; valid: \(S, B, 3\), S >= 1"):
        untied.final_hidden(torch.zeros(2, 3))
    with pytest.raises(RnnmfError, match="sequence length 3 is invalid for this untied ensemble; valid: 1 to 2"):
        untied.final_hidden(torch.zeros(3, 1, 3))
    assert untied.final_hidden(torch.zeros(2, 1, 3)).shape == (1, 1, 2)
    assert make(cell, 1, 3, 2, 2, steps=None).final_hidden(torch.zeros(5, 1, 3)).shape == (1, 1, 2)


@pytest.mark.parametrize("cell", ["gru", "lstm", "minimal", "vanilla"])
def test_every_ensemble_checks_its_sizes_and_reads_out_through_one_base(cell):
    """rnnmf.nn.ensemble.Ensemble: the cell and the sizes refused in one line each, the same repr, the same read-out
    and per-member loss for the gated and the paper's ensembles."""
    from rnnmf.nn.ensemble import Ensemble, RNNEnsemble

    make = GatedEnsemble if cell in ("gru", "lstm") else RNNEnsemble
    valid = "gru, lstm" if make is GatedEnsemble else "vanilla, minimal"
    with pytest.raises(RnnmfError, match=f"^cell='tanh' is invalid; valid: {valid}$"):
        make("tanh", 1, 3, 2)
    for name, args in (("members", (0, 3, 2)), ("input_size", (1, 0, 2)), ("hidden_size", (1, 3, -1))):
        with pytest.raises(RnnmfError, match=f"^{name}=.* is invalid; valid: an integer >= 1$"):
            make(cell, *args)
    ens = make(cell, 2, 3, 4, 5, steps=6)
    assert isinstance(ens, Ensemble) and not ens.tied and make(cell, 2, 3, 4).tied
    assert repr(ens).endswith(f"({cell}, members=2, 3, 4, classes=5, untied steps=6)")
    with torch.no_grad():
        ens.readout_bias.copy_(torch.tensor([[0.0, 1, 2, 3, 4], [4, 3, 2, 1, 0]]))
    logits = ens(torch.ones(2, 7, 3))  # zero weights: the read-out's bias alone
    assert logits.shape == (2, 7, 5) and torch.equal(logits[0, 3], ens.readout_bias[0].detach())
    y = torch.full((7,), 4)
    assert ens.member_accuracy(logits, y).tolist() == [1.0, 0.0]
