"""VanillaRNN (eq. 1, tanh): torch's kernel with a zero second bias against a plain loop, forward and gradients."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from rnnmf.errors import RnnmfError
from rnnmf.nn import UntiedVanillaRNN, VanillaRNN

DT = torch.float64


def _model(cls, *args, seed=0, **kw):
    torch.manual_seed(seed)
    m = cls(*args, **kw).to(DT)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, 0.8)
    return m


def _loop(m: VanillaRNN, x, h0):
    """eq. 1 term by term: hᵗ = tanh(W hᵗ⁻¹ + V xᵗ + b), layer after layer; x is (T, B, I)."""
    h_n = []
    for k, c in enumerate(m.cells()):
        h, hs = h0[k], []
        for t in range(x.shape[0]):
            h = torch.tanh(h @ c.W.t() + x[t] @ c.V.t() + c.b)
            hs.append(h)
        x = torch.stack(hs)
        h_n.append(h)
    return x, torch.stack(h_n)


@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("batch_first", [False, True])
def test_matches_plain_loop_forward_and_backward(layers, batch_first):
    m = _model(VanillaRNN, 3, 4, num_layers=layers, batch_first=batch_first)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 2, 3, generator=g, dtype=DT, requires_grad=True)
    h0 = torch.randn(layers, 2, 4, generator=g, dtype=DT, requires_grad=True)
    out, h_n = m(x.transpose(0, 1) if batch_first else x, h0)
    if batch_first:
        out = out.transpose(0, 1)
    ref_out, ref_n = _loop(m, x, h0)
    torch.testing.assert_close(out, ref_out, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(h_n, ref_n, rtol=1e-13, atol=1e-13)
    go, gn = torch.randn(out.shape, generator=g, dtype=DT), torch.randn(h_n.shape, generator=g, dtype=DT)
    wrt = [x, h0, *m.parameters()]
    d1 = torch.autograd.grad((out * go).sum() + (h_n * gn).sum(), wrt)
    d2 = torch.autograd.grad((ref_out * go).sum() + (ref_n * gn).sum(), wrt)
    for a, b in zip(d1, d2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_gradcheck_two_layers():
    m = _model(VanillaRNN, 2, 3, num_layers=2)
    names = [n for n, _ in m.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in m.parameters()]
    x = torch.randn(4, 2, 2, dtype=DT, requires_grad=True)

    def f(x, *ps):
        return functional_call(m, dict(zip(names, ps, strict=True)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params))


def test_one_bias_per_layer_and_names():
    m = VanillaRNN(3, 5, num_layers=2)
    assert {n for n, _ in m.named_parameters()} == {
        f"{w}_l{k}" for w in ("weight_ih", "weight_hh", "bias") for k in (0, 1)
    }
    assert "_zero_bias" not in m.state_dict()  # the kernel's second bias is not a parameter and not saved
    out, h_n = m(torch.randn(4, 2, 3))
    assert out.shape == (4, 2, 5) and h_n.shape == (2, 2, 5)


def test_dropout_only_in_training():
    m = _model(VanillaRNN, 3, 4, num_layers=2, dropout=0.5)
    ref = _model(VanillaRNN, 3, 4, num_layers=2)
    x = torch.randn(5, 2, 3, dtype=DT)
    assert not torch.allclose(m(x)[0], ref(x)[0])
    m.eval()
    torch.testing.assert_close(m(x)[0], ref(x)[0], rtol=0, atol=0)


def test_untied_with_equal_steps_is_tied_and_gradcheck():
    tied = _model(VanillaRNN, 3, 4)
    untied = UntiedVanillaRNN(3, 4, T=5).to(DT)
    with torch.no_grad():
        untied.weight_ih.copy_(tied.weight_ih_l0.expand(5, 4, 3))
        untied.weight_hh.copy_(tied.weight_hh_l0.expand(5, 4, 4))
        untied.bias.copy_(tied.bias_l0.expand(5, 4))
    x = torch.randn(5, 2, 3, dtype=DT, requires_grad=True)
    h0 = torch.randn(1, 2, 4, dtype=DT)
    (o1, n1), (o2, n2) = tied(x, h0), untied(x, h0)
    torch.testing.assert_close(o1, o2, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(n1, n2, rtol=1e-13, atol=1e-13)

    names = [n for n, _ in untied.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in untied.parameters()]

    def f(x, *ps):
        return functional_call(untied, dict(zip(names, ps, strict=True)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params))
    with pytest.raises(RnnmfError, match="T=5"):
        untied(torch.randn(6, 2, 3, dtype=DT))
