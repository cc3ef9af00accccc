"""K torch-parameterised GRUs or LSTMs trained at once: the gated sibling of ``rnnmf.nn.ensemble.RNNEnsemble``.

Fig. 2's trainability task for the gated cells (beyond the paper, issue 19) trains many small networks that differ
only in their initialisation statistics. As for the vanilla and minimal ensembles, the K members read one shared
input x (S, B, M): the input path of every member and every step is ONE matrix product
x @ [W_ih,1; ...; W_ih,K]ᵀ, and each time step is one batched product over the members. The gate equations are
torch's own (``nn.GRU``, ``nn.LSTM``; docs/gated-mean-field.md eq. 1-2), so the mean-field theory of
``rnnmf.theory.gru`` / ``lstm`` applies as it is:

    GRU   r = σ(W_ir x + W_hr h + b_r),  z = σ(W_iz x + W_hz h + b_z),
          n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h
    LSTM  i, f, o = σ(W_k x + U_k h + b_k),  g = tanh(W_g x + U_g h + b_g),  c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')

(h⁰ = c⁰ = 0). torch keeps two biases per gate, b_ih + b_hh; only their sum enters, except the GRU's b_hn inside
r ⊙ (·), so a member has one bias per gate row (``bias``, torch's row order r, z, n / i, f, g, o) and, for the GRU,
``bias_hn``. Tied weights use one W_hh for every step; untied (``steps=S``) draw a fresh W_hh and bias for each of
the S steps, as the untied mean field assumes. The input weights W_ih are shared over time in both forms: every
noise step's input is fresh, so W_ih xᵗ is independent over t either way and the mean field is the same (as the
vanilla ensemble's ``input_steps`` argues), while S copies of the 4N × 784 matrix would dominate the cost.

The time loop runs through plain autograd (each step ~8 small ops; unbound once, so no step's backward writes a
full-size zero gradient). ``export_member(k)`` returns a tied member as torch's own ``nn.GRU`` / ``nn.LSTM`` with a
``nn.Linear`` read-out, which the tests compare against.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from rnnmf.draws import check_statistics, gaussian, recurrent_matrix
from rnnmf.errors import RnnmfError
from rnnmf.nn.ensemble import Ensemble, check_sequence

GATED_CELLS = ("gru", "lstm")
N_GATES = {"gru": 3, "lstm": 4}
#: the row block of the memory gate in torch's order: GRU z (r, z, n), LSTM f (i, f, g, o)
MEMORY_ROW = {"gru": 1, "lstm": 1}


@dataclass(frozen=True)
class GatedInit:
    """One member's statistics (docs/gated-mean-field.md eq. 3, every gate alike): each gate's W_hh block σ_w times
    a Haar-orthogonal matrix or N(0, σ_w²/N) entries, W_ih entries N(0, σ_v²/M), biases N(μ, σ_b²) with μ = ``mu``
    for the memory gate (GRU update z, LSTM forget f) and 0 elsewhere (the GRU's b_hn included); read-out N(0, 1/N),
    zero bias. ``seed`` alone decides the member's weights, whichever ensemble it is trained in."""

    sigma_w: float
    sigma_v: float
    mu: float = 0.0
    sigma_b: float = 0.0
    seed: int = 0
    weights: str = "gaussian"

    def check(self) -> GatedInit:
        return check_statistics(self, ("sigma_w", "sigma_v", "sigma_b"), "mu")


class GatedEnsemble(Ensemble):
    """K single-layer GRUs or LSTMs plus read-outs on one shared input: ``logits = ens(x)``, x (S, B, M) -> (K, B, C).

    ``steps=None``: tied weights, any length; ``steps=S``: untied weights for sequences of at most S steps.
    Parameters start at zero; call :meth:`init_members` with one :class:`GatedInit` per member. ``member_loss``,
    ``member_accuracy`` and the read-out are every :class:`~rnnmf.nn.ensemble.Ensemble`'s."""

    def __init__(self, cell: str, members: int, input_size: int, hidden_size: int, num_classes: int = 10,
                 steps: int | None = None):
        super().__init__(cell, GATED_CELLS, members, input_size, hidden_size, num_classes, steps)
        K, M, N, C = self.members, self.input_size, self.hidden_size, self.num_classes
        G = N_GATES[cell]
        lead = () if steps is None else (self.steps,)
        self.weight_hh = nn.Parameter(torch.zeros(*lead, K, G * N, N))
        self.weight_ih = nn.Parameter(torch.zeros(K, G * N, M))
        self.bias = nn.Parameter(torch.zeros(*lead, K, G * N))
        self.bias_hn = nn.Parameter(torch.zeros(*lead, K, N)) if cell == "gru" else None
        self.readout_weight = nn.Parameter(torch.zeros(K, C, N))
        self.readout_bias = nn.Parameter(torch.zeros(K, C))

    @staticmethod
    def param_count(cell: str, input_size: int, hidden_size: int, num_classes: int = 10,
                    steps: int | None = None) -> int:
        """Parameters of ONE member (to size ensembles by memory): untied ones count S times."""
        M, N, C, S, G = input_size, hidden_size, num_classes, steps or 1, N_GATES[cell]
        return S * (G * N * N + G * N + (N if cell == "gru" else 0)) + G * N * M + C * N + C

    # ------------------------------------------------------------------------------------------------------ init
    @torch.no_grad()
    def init_members(self, inits: Sequence[GatedInit]) -> GatedEnsemble:
        """Draw every member's weights from its statistics and seed (see :class:`GatedInit`)."""
        if len(inits) != self.members:
            raise RnnmfError(f"{len(inits)} member inits for an ensemble of {self.members}; valid: one per member")
        M, N, C, G = self.input_size, self.hidden_size, self.num_classes, N_GATES[self.cell]
        lead = () if self.tied else (self.steps,)
        for k, m in enumerate(inits):
            m.check()
            g = torch.Generator().manual_seed(int(m.seed))
            # a fixed draw order per member, independent of K and of the other members
            for j in range(G):
                self.weight_hh[..., k, j * N:(j + 1) * N, :] = recurrent_matrix((*lead, N, N), m.sigma_w, m.weights, g)
            self.weight_ih[k] = gaussian((G * N, M), m.sigma_v / math.sqrt(M), generator=g)
            b = gaussian((*lead, G * N), m.sigma_b, generator=g)
            row = MEMORY_ROW[self.cell]
            b[..., row * N:(row + 1) * N] += m.mu
            self.bias[..., k, :] = b
            if self.bias_hn is not None:
                self.bias_hn[..., k, :] = gaussian((*lead, N), m.sigma_b, generator=g)
            self.readout_weight[k] = gaussian((C, N), generator=g) / math.sqrt(N)
            self.readout_bias[k] = 0.0
        return self

    # --------------------------------------------------------------------------------------------------- forward
    def final_hidden(self, x: torch.Tensor) -> torch.Tensor:
        """h^S of every member, (K, B, N), for inputs x (S, B, M) shared by all members (h⁰ = c⁰ = 0)."""
        S, B, M = check_sequence(x, self.input_size, None if self.tied else self.steps)
        K, N = self.members, self.hidden_size
        GN = N_GATES[self.cell] * N
        # the input path of every member at every step, one GEMM: (S·B, M) @ (M, K·G·N), laid out (S, K, B, G·N)
        proj = (x.reshape(S * B, M) @ self.weight_ih.reshape(K * GN, M).t()).view(S, B, K, GN).transpose(1, 2)
        if self.tied:
            a = (proj + self.bias.unsqueeze(-2)).unbind(0)
            w = [self.weight_hh.transpose(1, 2)] * S
            bhn = [self.bias_hn.unsqueeze(-2)] * S if self.bias_hn is not None else None
        else:
            a = (proj + self.bias[:S].unsqueeze(-2)).unbind(0)
            w = [wt.transpose(1, 2) for wt in self.weight_hh[:S].unbind(0)]
            bhn = [b.unsqueeze(-2) for b in self.bias_hn[:S].unbind(0)] if self.bias_hn is not None else None
        h = x.new_zeros(K, B, N)
        if self.cell == "gru":
            for t in range(S):
                gh = torch.bmm(h, w[t])  # (K, B, 3N): W_hr h, W_hz h, W_hn h
                rz = torch.sigmoid(a[t][..., :2 * N] + gh[..., :2 * N])
                n = torch.tanh(a[t][..., 2 * N:] + rz[..., :N] * (gh[..., 2 * N:] + bhn[t]))
                h = torch.lerp(n, h, rz[..., N:])  # (1 − z) n + z h
            return h
        c = x.new_zeros(K, B, N)
        for t in range(S):
            pre = a[t] + torch.bmm(h, w[t])  # (K, B, 4N): i, f, g, o
            sig = torch.sigmoid(pre)
            c = sig[..., N:2 * N] * c + sig[..., :N] * torch.tanh(pre[..., 2 * N:3 * N])
            h = sig[..., 3 * N:] * torch.tanh(c)
        return h

    # ------------------------------------------------------------------------------------------------ one member
    @torch.no_grad()
    def export_member(self, k: int) -> tuple[nn.Module, nn.Linear]:
        """Tied member k as torch's own ``nn.GRU`` / ``nn.LSTM`` (b_ih carries the bias, b_hh is zero but the GRU's
        b_hn) and a ``nn.Linear`` read-out, same dtype and device."""
        if not self.tied:
            raise RnnmfError("export_member needs a tied ensemble; torch's modules have one W_hh for every step")
        if not 0 <= k < self.members:
            raise RnnmfError(f"member {k} is invalid; valid: 0 to {self.members - 1}")
        M, N, p = self.input_size, self.hidden_size, self.weight_hh
        module = (nn.GRU if self.cell == "gru" else nn.LSTM)(M, N).to(dtype=p.dtype, device=p.device)
        module.weight_hh_l0.copy_(self.weight_hh[k])
        module.weight_ih_l0.copy_(self.weight_ih[k])
        module.bias_ih_l0.copy_(self.bias[k])
        module.bias_hh_l0.zero_()
        if self.bias_hn is not None:
            module.bias_hh_l0[2 * N:].copy_(self.bias_hn[k])
        readout = nn.Linear(N, self.num_classes).to(dtype=p.dtype, device=p.device)
        readout.weight.copy_(self.readout_weight[k])
        readout.bias.copy_(self.readout_bias[k])
        return module, readout
