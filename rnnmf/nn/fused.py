"""One minimalRNN layer, forward and backward-through-time, as a single autograd Function.

The cell (eq. 5, with Φ from Sec. 3.2.1):

    x̃ᵗ = tanh(W_x xᵗ)        eᵗ = W hᵗ⁻¹ + V x̃ᵗ + b        uᵗ = σ(eᵗ)        hᵗ = uᵗ ⊙ hᵗ⁻¹ + (1 − uᵗ) ⊙ x̃ᵗ

Why a Function: through plain autograd each step records ~5 graph nodes and its backward runs one small dW matmul per
step. Here only the W hᵗ⁻¹ product is sequential; everything that does not depend on h (x̃, V x̃ + b, and in backward
dW, dV, db, dW_x, dx) is one large matmul over all T·B rows, and the loops run three in-place ops per step each way.

Untied weights (Fig. 2): W, V of shape (T, H, H) and b of shape (T, H) give each step its own parameters; the big
matmuls become batched (bmm) over t. W_x stays shared.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable


def _input_path(xt: torch.Tensor, v: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """V x̃ᵗ + b for all t at once, (T, B, H)."""
    T, B, H = xt.shape
    if v.dim() == 3:  # untied: V_t, b_t
        return torch.baddbmm(b.unsqueeze(1), xt, v.transpose(1, 2))
    return torch.addmm(b, xt.view(T * B, H), v.t()).view(T, B, H)


class MinimalRNNFunction(torch.autograd.Function):
    """`MinimalRNNFunction.apply(x, h0, w_x, w, v, b) -> h` with x (T, B, I), h0 (B, H), h = (h¹ … hᵀ) as (T, B, H)."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda", cast_inputs=torch.float32)  # under autocast: a float32 recurrence
    def forward(ctx, x, h0, w_x, w, v, b):
        T, B, I = x.shape
        x = x.contiguous()
        xt = torch.mm(x.view(T * B, I), w_x.t()).tanh_().view(T, B, -1)  # x̃ = Φ(x)
        u = _input_path(xt, v, b)  # holds V x̃ + b, becomes eᵗ then uᵗ in place, step by step
        h = torch.empty_like(u)
        w_T = w.transpose(-2, -1)
        w_steps = w_T.unbind(0) if w.dim() == 3 else [w_T] * T
        h_prev = h0
        # unbind: one call for all T views, cheaper than T·4 indexing calls in the loop
        for u_t, xt_t, h_t, w_step in zip(u.unbind(0), xt.unbind(0), h.unbind(0), w_steps, strict=True):
            u_t.addmm_(h_prev, w_step)  # eᵗ
            u_t.sigmoid_()  # uᵗ
            torch.lerp(xt_t, h_prev, u_t, out=h_t)  # x̃ + u ⊙ (h − x̃) = u ⊙ h + (1 − u) ⊙ x̃
            h_prev = h_t
        ctx.save_for_backward(x, h0, w_x, w, v, xt, u, h)
        return h

    @staticmethod
    @once_differentiable
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, grad_h):
        x, h0, w_x, w, v, xt, u, h = ctx.saved_tensors
        T, B, H = u.shape
        untied = w.dim() == 3

        # ∂hᵗ/∂eᵗ = (hᵗ⁻¹ − x̃ᵗ) ⊙ uᵗ ⊙ (1 − uᵗ) does not depend on the incoming gradient: compute it in bulk, then the
        # loop turns it into dL/deᵗ in place (s[t] *= g[t]), so the loop writes no fresh memory.
        s = torch.empty_like(u)
        torch.sub(h0, xt[0], out=s[0])
        torch.sub(h[:-1], xt[1:], out=s[1:])
        s.mul_(u)
        s.addcmul_(s, u, value=-1.0)

        # g[t] accumulates dL/dhᵗ: the gradient of output t plus what flows back from step t+1.
        g = grad_h.clone(memory_format=torch.contiguous_format)
        g_, s_, u_ = g.unbind(0), s.unbind(0), u.unbind(0)
        w_steps = w.unbind(0) if untied else [w] * T
        for t in range(T - 1, 0, -1):
            de_t = s_[t].mul_(g_[t])
            g_[t - 1].addcmul_(g_[t], u_[t]).addmm_(de_t, w_steps[t])
        de = s
        de[0].mul_(g[0])

        d_x = d_h0 = d_wx = d_w = d_v = d_b = None
        if ctx.needs_input_grad[1]:
            d_h0 = torch.addmm(g[0] * u[0], de[0], w_steps[0])
        if untied:
            de_T = de.transpose(1, 2)  # (T, H, B)
            if ctx.needs_input_grad[3]:
                d_w = torch.empty_like(w)
                torch.mm(de_T[0], h0, out=d_w[0])
                torch.bmm(de_T[1:], h[:-1], out=d_w[1:])
            if ctx.needs_input_grad[4]:
                d_v = torch.bmm(de_T, xt)
            if ctx.needs_input_grad[5]:
                d_b = de.sum(1)
        else:
            de2 = de.view(T * B, H)
            if ctx.needs_input_grad[3]:  # Σ_t deᵗ hᵗ⁻¹ᵀ, with h⁰ kept apart rather than copying a shifted h
                d_w = torch.addmm(de[0].t().mm(h0), de2[B:].t(), h[:-1].reshape((T - 1) * B, H))
            if ctx.needs_input_grad[4]:
                d_v = de2.t().mm(xt.view(T * B, H))
            if ctx.needs_input_grad[5]:
                d_b = de2.sum(0)
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[2]:
            # dL/dx̃ = g ⊙ (1 − u) + Vᵀ de, then through tanh: dL/dz = dL/dx̃ ⊙ (1 − x̃²) with z = W_x x.
            # g and de are spent after this, so they are overwritten instead of allocating (saved tensors never are:
            # a retained graph may run backward again).
            d_xt = g.addcmul_(g, u, value=-1.0)
            if untied:
                d_xt.baddbmm_(de, v)
            else:
                d_xt.view(T * B, H).addmm_(de2, v)
            one_minus_xt_sq = torch.addcmul(xt.new_ones(()), xt, xt, value=-1.0, out=de)
            d_z = d_xt.mul_(one_minus_xt_sq).view(T * B, -1)
            x2 = x.view(T * B, -1)
            if ctx.needs_input_grad[0]:
                d_x = d_z.mm(w_x).view_as(x)
            if ctx.needs_input_grad[2]:
                d_wx = x2.t().mm(d_z).t().contiguous()  # (xᵀ dz)ᵀ: MKL was ~5x slower at dzᵀ x with 4 columns
        return d_x, d_h0, d_wx, d_w, d_v, d_b


def minimal_rnn_layer(x, h0, w_x, w, v, b):
    """Fused minimalRNN layer (eq. 5): x (T, B, I), h0 (B, H) -> (h¹ … hᵀ) as (T, B, H)."""
    return MinimalRNNFunction.apply(x, h0, w_x, w, v, b)


def minimal_rnn_layer_autograd(x, h0, w_x, w, v, b):
    """The same layer written with plain autograd ops, eq. 5 term by term: the reference for tests and benchmarks."""
    xt = torch.tanh(x @ w_x.t())
    a = _input_path(xt, v, b)
    T = x.shape[0]
    # Unbind once: indexing a[t] or W[t] per step makes each step's backward write a zero-filled (T, ...) gradient.
    w_steps = w[:T].unbind(0) if w.dim() == 3 else [w] * T
    h, hs = h0, []
    for a_t, xt_t, w_t in zip(a.unbind(0), xt.unbind(0), w_steps, strict=True):
        u = torch.sigmoid(h @ w_t.t() + a_t)
        h = u * h + (1 - u) * xt_t
        hs.append(h)
    return torch.stack(hs)
