"""MinimalRNN (eq. 5): the call convention, the cell against a hand-written step, and the fused Function against
plain autograd: forward equality and `torch.autograd.gradcheck` in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call

from rnnmf.errors import RnnmfError
from rnnmf.nn import MinimalRNN, UntiedMinimalRNN
from rnnmf.nn.fused import MinimalRNNFunction, minimal_rnn_layer, minimal_rnn_layer_autograd

DT = torch.float64


def _model(cls=MinimalRNN, *args, seed=0, **kw):
    torch.manual_seed(seed)
    m = cls(*args, **kw).to(DT)
    with torch.no_grad():  # larger than the default init, so gates are not all near 1/2 and errors would show
        for p in m.parameters():
            p.normal_(0.0, 0.8)
    return m


def _inputs(T, B, I, layers, H, batch_first=False, with_h0=True, seed=1):
    g = torch.Generator().manual_seed(seed)
    shape = (B, T, I) if batch_first else (T, B, I)
    x = torch.randn(shape, generator=g, dtype=DT, requires_grad=True)
    h0 = torch.randn(layers, B, H, generator=g, dtype=DT, requires_grad=True) if with_h0 else None
    return x, h0


def _as_function(m):
    """The module as a function of (x, h0, *params), so gradcheck perturbs the parameters too."""
    names = [n for n, _ in m.named_parameters()]

    def f(x, h0, *params):
        return functional_call(m, dict(zip(names, params, strict=True)), (x, h0))

    def f_no_h0(x, *params):
        return functional_call(m, dict(zip(names, params, strict=True)), (x,))

    return f, f_no_h0, [p.detach().clone().requires_grad_() for p in m.parameters()]


def test_shapes_follow_torch_gru():
    m = MinimalRNN(3, 5, num_layers=2)
    out, h_n = m(torch.randn(7, 4, 3))
    assert out.shape == (7, 4, 5) and h_n.shape == (2, 4, 5)
    assert torch.equal(h_n[-1], out[-1])
    mb = MinimalRNN(3, 5, num_layers=2, batch_first=True)
    out, h_n = mb(torch.randn(4, 7, 3))
    assert out.shape == (4, 7, 5) and h_n.shape == (2, 4, 5)
    out, h_n = m(torch.randn(7, 3))  # unbatched, as torch.nn.GRU accepts
    assert out.shape == (7, 5) and h_n.shape == (2, 5)
    names = {n for n, _ in m.named_parameters()}
    assert names == {f"{w}_l{k}" for w in ("weight_ih", "weight_hh", "weight_zh", "bias") for k in (0, 1)}
    assert m.weight_ih_l0.shape == (5, 3) and m.weight_ih_l1.shape == (5, 5) and m.weight_zh_l0.shape == (5, 5)


def test_one_step_is_eq5():
    """h¹ = u ⊙ h⁰ + (1 − u) ⊙ x̃ with x̃ = tanh(W_x x), u = σ(W h⁰ + V x̃ + b), in numpy."""
    for fused in (True, False):
        m = _model(MinimalRNN, 3, 4, fused=fused)
        x, h0 = _inputs(1, 2, 3, 1, 4)
        out, _ = m(x, h0)
        P = {n: p.detach().numpy() for n, p in m.named_parameters()}
        xn, hn = x.detach().numpy()[0], h0.detach().numpy()[0]
        xt = np.tanh(xn @ P["weight_ih_l0"].T)
        u = 1 / (1 + np.exp(-(hn @ P["weight_hh_l0"].T + xt @ P["weight_zh_l0"].T + P["bias_l0"])))
        np.testing.assert_allclose(out.detach().numpy()[0], u * hn + (1 - u) * xt, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
def test_fused_equals_autograd_forward_and_backward(layers, batch_first, with_h0):
    fused = _model(MinimalRNN, 3, 4, num_layers=layers, batch_first=batch_first)
    plain = _model(MinimalRNN, 3, 4, num_layers=layers, batch_first=batch_first, fused=False)
    x, h0 = _inputs(6, 2, 3, layers, 4, batch_first, with_h0)
    (o1, n1), (o2, n2) = fused(x, h0), plain(x, h0)
    torch.testing.assert_close(o1, o2, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(n1, n2, rtol=1e-13, atol=1e-13)
    g = torch.Generator().manual_seed(2)
    go, gn = torch.randn(o1.shape, generator=g, dtype=DT), torch.randn(n1.shape, generator=g, dtype=DT)
    wrt = [x] + ([h0] if with_h0 else [])
    d1 = torch.autograd.grad((o1 * go).sum() + (n1 * gn).sum(), wrt + list(fused.parameters()))
    d2 = torch.autograd.grad((o2 * go).sum() + (n2 * gn).sum(), wrt + list(plain.parameters()))
    for a, b in zip(d1, d2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
def test_gradcheck_fused_module(layers, batch_first, with_h0):
    m = _model(MinimalRNN, 2, 3, num_layers=layers, batch_first=batch_first)
    x, h0 = _inputs(4, 2, 2, layers, 3, batch_first, with_h0)
    f, f_no_h0, params = _as_function(m)
    if with_h0:
        assert torch.autograd.gradcheck(f, (x, h0, *params))
    else:
        assert torch.autograd.gradcheck(f_no_h0, (x, *params))


@pytest.mark.parametrize("untied", [False, True])
@pytest.mark.parametrize("T", [1, 5])
def test_gradcheck_function_directly(untied, T):
    """The Function alone, with every input requiring a gradient (and with only some: needs_input_grad paths)."""
    B, I, H = 3, 2, 4
    g = torch.Generator().manual_seed(3)
    lead = (T,) if untied else ()
    args = [
        torch.randn(T, B, I, generator=g, dtype=DT),
        torch.randn(B, H, generator=g, dtype=DT),
        torch.randn(H, I, generator=g, dtype=DT),
        torch.randn(*lead, H, H, generator=g, dtype=DT),
        torch.randn(*lead, H, H, generator=g, dtype=DT),
        torch.randn(*lead, H, generator=g, dtype=DT),
    ]
    assert torch.autograd.gradcheck(minimal_rnn_layer, [a.clone().requires_grad_() for a in args])
    some = [a.clone().requires_grad_(i in (3, 5)) for i, a in enumerate(args)]  # only W and b
    assert torch.autograd.gradcheck(minimal_rnn_layer, some)
    ref = minimal_rnn_layer_autograd(*args)
    torch.testing.assert_close(minimal_rnn_layer(*args), ref, rtol=1e-13, atol=1e-13)


def test_backward_twice_with_retained_graph():
    """The backward must not overwrite what it saved: a retained graph gives the same gradient twice."""
    m = _model(MinimalRNN, 2, 3)
    x, h0 = _inputs(5, 2, 2, 1, 3)
    out, _ = m(x, h0)
    (g1,) = torch.autograd.grad(out.sum(), x, retain_graph=True)
    (g2,) = torch.autograd.grad(out.sum(), x)
    torch.testing.assert_close(g1, g2, rtol=0, atol=0)


def test_double_backward_is_refused():
    m = _model(MinimalRNN, 2, 3)
    x, _ = _inputs(4, 2, 2, 1, 3)
    # square(): the incoming gradient then depends on the graph, so a second derivative is really asked for
    (gx,) = torch.autograd.grad(m(x)[0].square().sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        gx.sum().backward()


def test_dropout_between_layers_as_torch_gru():
    fused = _model(MinimalRNN, 3, 4, num_layers=3, dropout=0.5)
    plain = _model(MinimalRNN, 3, 4, num_layers=3, dropout=0.5, fused=False)
    x, _ = _inputs(5, 2, 3, 3, 4)
    torch.manual_seed(7)
    o1, _ = fused(x)
    torch.manual_seed(7)
    o2, _ = plain(x)
    torch.testing.assert_close(o1, o2, rtol=1e-13, atol=1e-13)  # same masks, same result
    no_drop = _model(MinimalRNN, 3, 4, num_layers=3, dropout=0.0)
    assert not torch.allclose(o1, no_drop(x)[0])
    fused.eval()
    torch.testing.assert_close(fused(x)[0], no_drop(x)[0], rtol=0, atol=0)
    one_layer = _model(MinimalRNN, 3, 4, num_layers=1, dropout=0.5)  # nothing between layers: no dropout
    torch.testing.assert_close(one_layer(x)[0], _model(MinimalRNN, 3, 4)(x)[0], rtol=0, atol=0)


def test_float32_fused_matches_autograd():
    torch.manual_seed(0)
    fused, plain = MinimalRNN(4, 16), MinimalRNN(4, 16, fused=False)
    plain.load_state_dict(fused.state_dict())
    x = torch.randn(50, 8, 4, requires_grad=True)
    (o1, _), (o2, _) = fused(x), plain(x)
    torch.testing.assert_close(o1, o2, rtol=1e-5, atol=1e-6)
    g1 = torch.autograd.grad(o1.square().sum(), [x, *fused.parameters()])
    g2 = torch.autograd.grad(o2.square().sum(), [x, *plain.parameters()])
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------------------------------ untied
@pytest.mark.parametrize("with_h0", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_untied_gradcheck_and_equality(with_h0, batch_first):
    fused = _model(UntiedMinimalRNN, 2, 3, 5, batch_first=batch_first)
    plain = _model(UntiedMinimalRNN, 2, 3, 5, batch_first=batch_first, fused=False)
    x, h0 = _inputs(5, 2, 2, 1, 3, batch_first, with_h0)
    (o1, n1), (o2, n2) = fused(x, h0), plain(x, h0)
    torch.testing.assert_close(o1, o2, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(n1, n2, rtol=1e-13, atol=1e-13)
    assert n1.shape == (1, 2, 3)
    f, f_no_h0, params = _as_function(fused)
    assert torch.autograd.gradcheck(f, (x, h0, *params)) if with_h0 else torch.autograd.gradcheck(f_no_h0, (x, *params))


def test_untied_with_equal_steps_is_tied():
    tied = _model(MinimalRNN, 3, 4)
    untied = UntiedMinimalRNN(3, 4, T=6).to(DT)
    with torch.no_grad():
        untied.weight_ih.copy_(tied.weight_ih_l0)
        untied.weight_hh.copy_(tied.weight_hh_l0.expand(6, 4, 4))
        untied.weight_zh.copy_(tied.weight_zh_l0.expand(6, 4, 4))
        untied.bias.copy_(tied.bias_l0.expand(6, 4))
    x, h0 = _inputs(6, 2, 3, 1, 4)
    (o1, n1), (o2, n2) = tied(x, h0), untied(x, h0)
    torch.testing.assert_close(o1, o2, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(n1, n2, rtol=1e-13, atol=1e-13)
    o1.sum().backward()
    o2.sum().backward()
    torch.testing.assert_close(untied.weight_hh.grad.sum(0), tied.weight_hh_l0.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(untied.weight_ih.grad, tied.weight_ih_l0.grad, rtol=1e-12, atol=1e-12)


def test_untied_shorter_sequence_uses_first_steps_and_gets_zero_gradient_after():
    m = _model(UntiedMinimalRNN, 2, 3, 8)
    x, _ = _inputs(5, 2, 2, 1, 3)
    out, _ = m(x)
    out.sum().backward()
    assert out.shape == (5, 2, 3)
    assert m.weight_hh.grad[5:].abs().max() == 0 and m.weight_hh.grad[:5].abs().max() > 0
    with pytest.raises(RnnmfError, match="T=8"):
        m(torch.randn(9, 2, 2, dtype=DT))


# ------------------------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(input_size=0, hidden_size=3), "input_size=0"),
        (dict(input_size=2, hidden_size=-1), "hidden_size=-1"),
        (dict(input_size=2, hidden_size=3, num_layers=0), "num_layers=0"),
        (dict(input_size=2, hidden_size=3, dropout=1.0), r"dropout=1.0.*\[0, 1\)"),
    ],
)
def test_bad_construction_raises_rnnmf_error(kwargs, match):
    with pytest.raises(RnnmfError, match=match):
        MinimalRNN(**kwargs)


def test_bad_input_raises_rnnmf_error():
    m = MinimalRNN(3, 4, num_layers=2)
    with pytest.raises(RnnmfError, match=r"\(T, B, 3\)"):
        m(torch.randn(5, 2, 7))
    with pytest.raises(RnnmfError, match=r"h_0 of shape \(1, 2, 4\).*\(2, 2, 4\)"):
        m(torch.randn(5, 2, 3), torch.zeros(1, 2, 4))


def test_function_saves_only_what_backward_needs():
    x = torch.randn(4, 2, 3, requires_grad=True)
    args = [x, torch.zeros(2, 5), torch.randn(5, 3), torch.randn(5, 5), torch.randn(5, 5), torch.randn(5)]
    out = MinimalRNNFunction.apply(*[a.requires_grad_() for a in args])
    saved = out.grad_fn.saved_tensors
    assert len(saved) == 8  # x, h0, W_x, W, V, x̃, u, h: three (T, B, H) buffers
    assert sum(t.numel() for t in saved if t.dim() == 3 and t.shape[-1] == 5) == 3 * 4 * 2 * 5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fused_matches_autograd():
    fused = _model(MinimalRNN, 3, 8, num_layers=2).cuda()
    plain = _model(MinimalRNN, 3, 8, num_layers=2, fused=False).cuda()
    x = torch.randn(20, 4, 3, dtype=DT, device="cuda", requires_grad=True)
    (o1, _), (o2, _) = fused(x), plain(x)
    torch.testing.assert_close(o1, o2)
    g1 = torch.autograd.grad(o1.sum(), [x, *fused.parameters()])
    g2 = torch.autograd.grad(o2.sum(), [x, *plain.parameters()])
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b)
