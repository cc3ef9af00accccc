"""Many small RNNs trained at once: K independent single-layer networks with stacked weights and batched products.

Fig. 2 trains hundreds of small networks that differ only in their initialisation statistics (σ_w, σ_v, μ_b) and all
read the same kind of input. Run one at a time, each pays for its own noise draw, its own Python loop over T steps and
its own narrow input product. An ensemble of K members shares the first two and widens the third:

* one input batch x (S, B, M) for every member: the noise is drawn once, and the input path of all members is ONE
  matrix product x @ [V_1; ...; V_K]ᵀ (vanilla) or x @ [W_x,1; ...; W_x,K]ᵀ (minimalRNN). Its FLOPs are still K
  networks' worth (it is about half the ensemble's time on a CPU, which bounds the speed-up near 3-4x there);
* one loop over time whose step is a batched product (``torch.baddbmm`` over the K members) of eq. 1 or eq. 5, run
  as one autograd Function (:class:`EnsembleRecurrence`) with one ``baddbmm`` and a few in-place ops per step;
* a read-out per member, so ``member_loss`` returns one loss per member. Members share no parameter: the gradient of
  the summed loss with respect to member k's weights is exactly the gradient of member k's own loss, so an ensemble
  trains like K separate networks (``rnnmf.train.fit`` sums the finite member losses and drops diverged members).

Cells (h⁰ = 0, the final hidden state feeds a linear read-out to ``num_classes`` logits):

    vanilla  (eq. 1):  hᵗ = tanh(W hᵗ⁻¹ + V xᵗ + b)
    minimal  (eq. 5):  x̃ᵗ = tanh(W_x xᵗ),  uᵗ = σ(W hᵗ⁻¹ + V x̃ᵗ + b),  hᵗ = uᵗ ⊙ hᵗ⁻¹ + (1 − uᵗ) ⊙ x̃ᵗ

Tied weights use one W for every step. Untied weights (``steps=S``) draw a fresh W_t, V_t and b_t for each of the S
steps, as ``rnnmf.nn.UntiedVanillaRNN`` and ``UntiedMinimalRNN`` do; the minimalRNN's input map W_x stays shared, as
there. The vanilla RNN's V_t are N × M each (M = 784): S·N·M parameters per member, and on a CPU their gradients and
optimiser updates cost more than the network itself. ``input_steps=P`` keeps P input matrices instead: V_0 ... V_{P-2}
for the first steps and one V_{P-1} shared by all later ones (``input_steps=2``: the image step and the noise steps).
Untied weights are Gaussian and independent in both forms; only what training can do to the inputs' weights differs.
``export_member(k)`` returns member k as the equivalent ``rnnmf.nn`` model (V_t repeated where shared), which the tests
compare against, forward and backward.

Layout: member-major (K, B, N) hidden states; untied parameters are time-major, (S, K, N, N), so each step's weights
are one contiguous (K, N, N) slice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from rnnmf.draws import check_statistics, gaussian, recurrent_matrix
from rnnmf.errors import RnnmfError
from rnnmf.nn.base import check_positive_int
from rnnmf.nn.minimal import MinimalRNN, UntiedMinimalRNN
from rnnmf.nn.vanilla import UntiedVanillaRNN, VanillaRNN

CELLS = ("vanilla", "minimal")


@dataclass(frozen=True)
class MemberInit:
    """The initialisation statistics of one member (Sec. 3): W_ij ~ N(0, σ_w²/N) (or σ_w times a Haar-orthogonal
    matrix), b_i ~ N(μ_b, σ_b²); V_ij ~ N(0, σ_v²/M) for the vanilla RNN (V acts on the M-dim input, eq. 1) and
    V_ij ~ N(0, σ_v²/N) for the minimalRNN (V acts on x̃ ∈ R^N, Sec. 3.2.1), whose input map Φ has
    (W_x)_ij ~ N(0, σ_x̃²/M) with σ_x̃ = ``sigma_wx``. The read-out is N(0, 1/N) with zero bias.

    ``seed`` alone decides member k's weights (its own ``torch.Generator``), so a member is the same network whichever
    ensemble it is trained in: a resumed sweep that batches the remaining points differently reproduces them.
    """

    sigma_w: float
    sigma_v: float
    mu_b: float = 0.0
    sigma_b: float = 0.0
    sigma_wx: float = 1.0
    seed: int = 0
    weights: str = "gaussian"

    def check(self) -> MemberInit:
        return check_statistics(self, ("sigma_w", "sigma_v", "sigma_b", "sigma_wx"), "mu_b")


class EnsembleRecurrence(torch.autograd.Function):
    """The time loop of K members as one autograd Function: ``apply(a, xt, w) -> h^S`` of shape (K, B, N).

    ``a`` (S, K, B, N) is each step's input path (V xᵗ + b, or V x̃ᵗ + b); ``xt`` the minimalRNN's x̃ (S, K, B, N),
    None for the vanilla RNN; ``w`` (K, N, N) tied or (S, K, N, N) untied. Any strides will do. As in
    ``rnnmf.nn.fused``: through plain autograd every step records ~4 graph nodes, and unbinding the inputs makes
    backward stack S gradient slices; here each step is one ``baddbmm`` and one or two in-place ops each way, and
    dW is one batched product over all steps after the loop. Checked against the plain-autograd loop in the tests.
    """

    @staticmethod
    def forward(ctx, a, xt, w):
        S, K, B, N = a.shape
        untied = w.dim() == 4
        w_t = w.transpose(-1, -2)
        hs = a.new_empty(S, K, B, N)
        us = a.new_empty(S, K, B, N) if xt is not None else None
        h = a.new_zeros(K, B, N)
        for t in range(S):
            e = torch.baddbmm(a[t], h, w_t[t] if untied else w_t)  # eᵗ = W hᵗ⁻¹ + (input path)
            if xt is None:
                torch.tanh(e, out=hs[t])  # eq. 1
            else:
                torch.sigmoid(e, out=us[t])  # uᵗ, eq. 5
                torch.lerp(xt[t], h, us[t], out=hs[t])  # x̃ + u ⊙ (h − x̃) = u ⊙ h + (1 − u) ⊙ x̃
            h = hs[t]
        ctx.save_for_backward(xt, w, hs, us)
        return hs[S - 1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h):
        xt, w, hs, us = ctx.saved_tensors
        S, K, B, N = hs.shape
        untied = w.dim() == 4
        de = torch.empty_like(hs)  # dL/deᵗ, which is also dL/d(input path)ᵗ
        d_xt = torch.empty_like(hs) if xt is not None else None
        zero = hs.new_zeros(K, B, N)
        g = grad_h.contiguous()  # dL/dhᵗ
        for t in range(S - 1, -1, -1):
            h_prev = hs[t - 1] if t else zero
            de_t = de[t]
            if xt is None:  # deᵗ = g ⊙ (1 − hᵗ²)
                torch.mul(hs[t], hs[t], out=de_t)
                de_t.neg_().add_(1.0).mul_(g)
            else:  # deᵗ = g ⊙ (hᵗ⁻¹ − x̃ᵗ) ⊙ u(1 − u);  dx̃ᵗ = g ⊙ (1 − u)
                u = us[t]
                torch.sub(h_prev, xt[t], out=de_t)
                de_t.mul_(u)
                de_t.addcmul_(de_t, u, value=-1.0)
                de_t.mul_(g)
                torch.addcmul(g, g, u, value=-1.0, out=d_xt[t])
            if t:
                w_s = w[t] if untied else w
                g = torch.baddbmm(g * u, de_t, w_s) if xt is not None else torch.bmm(de_t, w_s)
        d_w = None
        if ctx.needs_input_grad[2]:
            # Σ_t deᵗᵀ hᵗ⁻¹ (tied) or deᵗᵀ hᵗ⁻¹ per step (untied); h⁰ = 0 contributes nothing.
            d_w = torch.zeros_like(w)
            if S > 1:
                prod = torch.matmul(de[1:].transpose(-1, -2), hs[:-1])  # (S-1, K, N, N)
                if untied:
                    d_w[1:S] = prod
                else:
                    d_w = prod.sum(0)
        return de, d_xt, d_w


def check_sequence(x: torch.Tensor, input_size: int, steps: int | None) -> tuple[int, int, int]:
    """(S, B, M) of an ensemble's input x, refused in one line unless it is (S, B, input_size) with S >= 1 and, for
    an untied ensemble (``steps`` not None), S <= steps. Shared by every batched ensemble (vanilla, minimal, gated)."""
    if x.dim() != 3 or x.shape[-1] != input_size or x.shape[0] < 1:
        raise RnnmfError(f"input of shape {tuple(x.shape)} is invalid; valid: (S, B, {input_size}), S >= 1")
    if steps is not None and x.shape[0] > steps:
        raise RnnmfError(f"sequence length {x.shape[0]} is invalid for this untied ensemble; valid: 1 to {steps}")
    return tuple(x.shape)


class Ensemble(nn.Module):
    """What every batched ensemble shares (:class:`RNNEnsemble`, ``rnnmf.nn.gated_ensemble.GatedEnsemble``): K
    members of one ``cell`` from ``cells``, their sizes checked in one line each, tied (``steps=None``) or untied
    over ``steps`` steps; a read-out per member on the final state; one loss and one accuracy per member."""

    def __init__(self, cell: str, cells: Sequence[str], members: int, input_size: int, hidden_size: int,
                 num_classes: int, steps: int | None):
        super().__init__()
        if cell not in cells:
            raise RnnmfError(f"cell={cell!r} is invalid; valid: {', '.join(cells)}")
        self.cell = cell
        self.members = check_positive_int("members", members)
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.steps = None if steps is None else check_positive_int("steps", steps)

    @property
    def tied(self) -> bool:
        return self.steps is None

    def extra_repr(self) -> str:
        return (f"{self.cell}, members={self.members}, {self.input_size}, {self.hidden_size}, "
                f"classes={self.num_classes}, " + ("tied" if self.tied else self._untied_repr()))

    def _untied_repr(self) -> str:
        return f"untied steps={self.steps}"

    def final_hidden(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (K, B, C) of every member for inputs x (S, B, M)."""
        h = self.final_hidden(x)
        return torch.baddbmm(self.readout_bias.unsqueeze(1), h, self.readout_weight.transpose(1, 2))

    @staticmethod
    def member_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of each member over the batch: a (K,) vector for ``rnnmf.train.fit``."""
        K, B, C = logits.shape
        return F.cross_entropy(logits.reshape(K * B, C), y.repeat(K), reduction="none").view(K, B).mean(1)

    @staticmethod
    def member_accuracy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Fraction of correct argmax predictions per member, (K,)."""
        return (logits.argmax(-1) == y).to(logits.dtype).mean(1)


class RNNEnsemble(Ensemble):
    """K single-layer RNNs plus read-outs on one shared input: ``logits = ens(x)`` with x (S, B, M) -> (K, B, C).

    ``steps=None``: tied weights, any sequence length. ``steps=S``: untied weights for sequences of at most S steps;
    ``input_steps`` (untied vanilla only): the number of distinct input matrices V_t (default S, one per step).
    ``fused=False`` runs the time loop through plain autograd (the reference for :class:`EnsembleRecurrence`).
    Parameters start at zero; call :meth:`init_members` with one :class:`MemberInit` per member.
    """

    def __init__(self, cell: str, members: int, input_size: int, hidden_size: int, num_classes: int = 10,
                 steps: int | None = None, input_steps: int | None = None, fused: bool = True):
        super().__init__(cell, CELLS, members, input_size, hidden_size, num_classes, steps)
        self.fused = bool(fused)
        K, M, N, C = self.members, self.input_size, self.hidden_size, self.num_classes
        if input_steps is not None and (cell != "vanilla" or steps is None):
            raise RnnmfError(f"input_steps={input_steps!r} is invalid for a {cell} ensemble with steps={steps}; "
                             "valid: None, or an integer >= 1 for an untied vanilla ensemble")
        self.input_steps = None if steps is None or cell != "vanilla" else min(
            self.steps, check_positive_int("input_steps", input_steps or self.steps))
        lead = () if steps is None else (self.steps,)  # untied parameters carry a leading time axis
        self.weight_hh = nn.Parameter(torch.zeros(*lead, K, N, N))  # W
        # V (vanilla: (P, K, N, M) when untied) or W_x (minimalRNN: shared over time, as in UntiedMinimalRNN)
        lead_in = () if self.input_steps is None else (self.input_steps,)
        self.weight_ih = nn.Parameter(torch.zeros(*lead_in, K, N, M))
        self.weight_zh = nn.Parameter(torch.zeros(*lead, K, N, N)) if cell == "minimal" else None  # V on x̃
        self.bias = nn.Parameter(torch.zeros(*lead, K, N))  # b
        self.readout_weight = nn.Parameter(torch.zeros(K, C, N))
        self.readout_bias = nn.Parameter(torch.zeros(K, C))

    @staticmethod
    def param_count(cell: str, input_size: int, hidden_size: int, num_classes: int = 10,
                    steps: int | None = None, input_steps: int | None = None) -> int:
        """Parameters of ONE member (to size ensembles by memory): untied ones count S (or P) times."""
        M, N, C, S = input_size, hidden_size, num_classes, steps or 1
        P = min(S, input_steps or S) if cell == "vanilla" else 1
        return S * (N * N + N + (N * N if cell == "minimal" else 0)) + P * N * M + C * N + C

    def _untied_repr(self) -> str:
        return super()._untied_repr() + (f", input_steps={self.input_steps}"
                                         if self.input_steps not in (None, self.steps) else "")

    # ------------------------------------------------------------------------------------------------------ init
    @torch.no_grad()
    def init_members(self, inits: Sequence[MemberInit]) -> RNNEnsemble:
        """Draw every member's weights from its statistics and seed (see :class:`MemberInit`)."""
        if len(inits) != self.members:
            raise RnnmfError(f"{len(inits)} member inits for an ensemble of {self.members}; valid: one per member")
        M, N, C = self.input_size, self.hidden_size, self.num_classes
        lead = () if self.tied else (self.steps,)
        for k, m in enumerate(inits):
            m.check()
            g = torch.Generator().manual_seed(int(m.seed))
            # A fixed draw order per member, independent of K and of the other members.
            w = recurrent_matrix((*lead, N, N), m.sigma_w, m.weights, g)
            in_std = (m.sigma_v if self.cell == "vanilla" else m.sigma_wx) / math.sqrt(M)  # V, or the minimal's W_x
            w_in = gaussian((*self.weight_ih.shape[:-3], N, M), in_std, generator=g)
            v = gaussian((*lead, N, N), m.sigma_v / math.sqrt(N), generator=g) if self.cell == "minimal" else None
            b = gaussian((*lead, N), m.sigma_b, m.mu_b, g)
            r = gaussian((C, N), generator=g) / math.sqrt(N)
            self.weight_hh[..., k, :, :] = w
            if self.cell == "vanilla":
                self.weight_ih[..., k, :, :] = w_in
            else:
                self.weight_ih[k] = w_in
                self.weight_zh[..., k, :, :] = v
            self.bias[..., k, :] = b
            self.readout_weight[k] = r
            self.readout_bias[k] = 0.0
        return self

    # --------------------------------------------------------------------------------------------------- forward
    def final_hidden(self, x: torch.Tensor) -> torch.Tensor:
        """h^S of every member, (K, B, N), for inputs x (S, B, M) shared by all members (h⁰ = 0)."""
        S, B, M = check_sequence(x, self.input_size, None if self.tied else self.steps)
        K, N = self.members, self.hidden_size
        proj = self._input_projection(x)  # (S, B, K·N)
        b = self.bias if self.tied else self.bias[:S]
        xt = None
        if self.cell == "vanilla":  # V xᵗ + b, laid out (S, K, B, N) so that each step is one contiguous slice
            a = proj.view(S, B, K, N).transpose(1, 2) + b.unsqueeze(-2)
        elif self.tied:  # x̃ = Φ(x) laid out (K, S·B, N): V x̃ + b for all steps is one bmm over the K members
            xt = proj.view(S * B, K, N).transpose(0, 1).contiguous().tanh_()
            a = torch.baddbmm(b.unsqueeze(1), xt, self.weight_zh.transpose(1, 2))
            a, xt = a.view(K, S, B, N).transpose(0, 1), xt.view(K, S, B, N).transpose(0, 1)  # (S, K, B, N) views
        else:  # untied V_t: one bmm over the S·K (step, member) pairs
            xt = proj.view(S, B, K, N).transpose(1, 2).contiguous().tanh_()  # (S, K, B, N)
            v = self.weight_zh[:S].reshape(S * K, N, N).transpose(1, 2)
            a = torch.baddbmm(b.reshape(S * K, 1, N), xt.view(S * K, B, N), v).view(S, K, B, N)
        w = self.weight_hh if self.tied else self.weight_hh[:S]
        if self.fused:
            return EnsembleRecurrence.apply(a, xt, w)
        # Plain autograd, step by step. Unbind once: indexing a[t] or W[t] per step makes each step's backward
        # write a zero-filled full-size gradient (quadratic in S).
        a_steps = a.unbind(0)
        xt_steps = xt.unbind(0) if xt is not None else None
        w_steps = [w.transpose(1, 2)] * S if self.tied else [wt.transpose(1, 2) for wt in w.unbind(0)]
        h = x.new_zeros(K, B, N)
        for t in range(S):
            e = torch.baddbmm(a_steps[t], h, w_steps[t])
            h = torch.tanh(e) if xt is None else torch.lerp(xt_steps[t], h, torch.sigmoid(e))
        return h

    def _input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """V xᵗ (vanilla) or W_x xᵗ (minimalRNN) of every member at every step, (S, B, K·N).

        A shared matrix serves all steps in ONE GEMM, (S·B, M) @ (M, K·N), large enough to run at full speed; the
        first P − 1 steps of an untied vanilla ensemble use their own V_t (one GEMM per step, batched over steps).
        """
        S, B, M = x.shape
        KN = self.members * self.hidden_size
        w = self.weight_ih
        if w.dim() == 3:
            return (x.reshape(S * B, M) @ w.reshape(KN, M).t()).view(S, B, KN)
        P = w.shape[0]
        own = min(S, P - 1 if P < self.steps else P)  # steps with a matrix of their own
        parts = [torch.bmm(x[:own], w[:own].reshape(own, KN, M).transpose(1, 2))] if own else []
        if own < S:
            parts.append((x[own:].reshape((S - own) * B, M) @ w[P - 1].reshape(KN, M).t()).view(S - own, B, KN))
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    @torch.no_grad()
    def states_at(self, first: torch.Tensor, depths: Sequence[int], sigma_x: float,
                  generator: torch.Generator) -> torch.Tensor:
        """Hidden states (D, K, B, N) after the input ``first`` (B, M) and t steps of N(0, σ_x² I_M) noise, for each
        t in ``depths``: the states of the noise-padded task (Sec. 4.1) at every depth from ONE pass, as the
        recurrence is causal. Streamed step by step without a graph: memory is the output plus O(K·B·N).

        The noise is drawn in each member's input space rather than in R^M: for x ~ N(0, σ_x² I_M) the product
        V x (vanilla) or W_x x (minimalRNN) is N(0, σ_x² A Aᵀ) with A = V or W_x, so it is drawn as σ_x L ε with
        L Lᵀ = A Aᵀ (Cholesky, float64) and ε ~ N(0, I_N) from ``generator``: exact in distribution, N² instead
        of N·M per example and step, and the same ε stream whatever the longest depth, so a shorter pass is a
        prefix of a longer one. ε is drawn for all K members at once, so a member's noise depends on its place in
        the ensemble (its statistics do not)."""
        if first.dim() != 2 or first.shape[-1] != self.input_size:
            raise RnnmfError(f"first input of shape {tuple(first.shape)} is invalid; valid: (B, {self.input_size})")
        depths = sorted({int(t) for t in depths})
        if not depths or depths[0] < 0:
            raise RnnmfError(f"depths={depths} is invalid; valid: a non-empty list of integers >= 0")
        S = depths[-1] + 1
        if not self.tied and S > self.steps:
            raise RnnmfError(f"depth {depths[-1]} is invalid for this untied ensemble; valid: 0 to {self.steps - 1}")
        K, B, N = self.members, first.shape[0], self.hidden_size
        if N > self.input_size:
            raise RnnmfError(f"hidden_size={N} is invalid for states_at with input_size={self.input_size}; valid: "
                             "hidden_size <= input_size (the noise's projection A Aᵀ must be positive definite)")
        w_in = self.weight_ih  # (K, N, M), or (P, K, N, M) for an untied vanilla ensemble
        chol = torch.linalg.cholesky(w_in.double() @ w_in.double().transpose(-1, -2)).to(w_in.dtype)
        chol_t = (float(sigma_x) * chol).transpose(-1, -2)
        first_proj = self._input_projection(first.unsqueeze(0))[0].view(B, K, N).transpose(0, 1)  # (K, B, N)
        out = first.new_empty(len(depths), K, B, N)
        h = first.new_zeros(K, B, N)
        eps = first.new_empty(K, B, N)
        slot = 0
        for t in range(S):
            if t == 0:
                proj = first_proj
            else:
                eps.normal_(generator=generator)
                if chol_t.dim() == 3:
                    proj = torch.bmm(eps, chol_t)
                else:  # the untied vanilla ensemble's V_t: own matrices for the first P - 1 steps, then V_{P-1}
                    P = chol_t.shape[0]
                    proj = torch.bmm(eps, chol_t[min(t, P - 1) if P < self.steps else t])
            w = self.weight_hh if self.tied else self.weight_hh[t]
            b = (self.bias if self.tied else self.bias[t]).unsqueeze(1)
            if self.cell == "vanilla":
                h = torch.tanh(torch.baddbmm(proj + b, h, w.transpose(1, 2)))  # eq. 1
            else:
                xt = proj.tanh()
                v = self.weight_zh if self.tied else self.weight_zh[t]
                u = torch.sigmoid(torch.baddbmm(torch.baddbmm(b, xt, v.transpose(1, 2)), h, w.transpose(1, 2)))
                h = torch.lerp(xt, h, u)  # eq. 5
            if t == depths[slot]:
                out[slot] = h
                slot += 1
        return out

    # ------------------------------------------------------------------------------------------------ one member
    @torch.no_grad()
    def export_member(self, k: int) -> tuple[nn.Module, nn.Linear]:
        """Member k as the equivalent ``rnnmf.nn`` model and a ``torch.nn.Linear`` read-out (same dtype and device).

        """
        if not 0 <= k < self.members:
            raise RnnmfError(f"member {k} is invalid; valid: 0 to {self.members - 1}")
        M, N = self.input_size, self.hidden_size
        p = self.weight_hh
        if self.cell == "vanilla":
            model = VanillaRNN(M, N) if self.tied else UntiedVanillaRNN(M, N, self.steps)
        else:
            model = MinimalRNN(M, N) if self.tied else UntiedMinimalRNN(M, N, self.steps)
        model = model.to(dtype=p.dtype, device=p.device)
        (c,) = model.cells()
        c.W.copy_(self.weight_hh[..., k, :, :])
        c.b.copy_(self.bias[..., k, :])
        if self.cell == "vanilla" and self.tied:
            c.V.copy_(self.weight_ih[k])
        elif self.cell == "vanilla":
            P = self.input_steps
            c.V[:P].copy_(self.weight_ih[:, k])
            c.V[P:].copy_(self.weight_ih[P - 1, k].expand_as(c.V[P:]))  # the shared V_{P-1}, repeated
        else:
            c.W_x.copy_(self.weight_ih[k])
            c.V.copy_(self.weight_zh[..., k, :, :])
        readout = nn.Linear(N, self.num_classes).to(dtype=p.dtype, device=p.device)
        readout.weight.copy_(self.readout_weight[k])
        readout.bias.copy_(self.readout_bias[k])
        return model, readout
