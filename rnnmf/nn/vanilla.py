"""The vanilla RNN (eq. 1 with φ = tanh) as torch modules: stacked layers with tied weights, and one untied layer.

    hᵗ = tanh(W hᵗ⁻¹ + V xᵗ + b)

Parameter names follow torch.nn.RNN, except that there is one bias `bias_l{k}` per layer (torch has two, b_ih and
b_hh, whose sum is the paper's b); one bias lets the initialisers set its mean μ_b and variance σ_b² exactly.
"""

from __future__ import annotations

import warnings

import torch
from torch import _VF, nn

from rnnmf.errors import RnnmfError
from rnnmf.nn.base import CellParams, RecurrentBase, check_positive_int, uniform_default_


class VanillaRNN(RecurrentBase):
    """Stacked tanh RNN with the torch.nn.GRU call convention: `output, h_n = rnn(x, h_0=None)`.

    It runs torch's own RNN kernel (`_VF.rnn_tanh`, cuDNN on GPUs) with a zero second bias, so it costs what
    torch.nn.RNN costs; tests check it against a plain loop over eq. 1.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, batch_first=False, dropout=0.0):
        super().__init__(input_size, hidden_size, num_layers, batch_first, dropout)
        H = self.hidden_size
        for k in range(self.num_layers):
            fan_in = self.input_size if k == 0 else H
            setattr(self, f"weight_ih_l{k}", nn.Parameter(torch.empty(H, fan_in)))
            setattr(self, f"weight_hh_l{k}", nn.Parameter(torch.empty(H, H)))
            setattr(self, f"bias_l{k}", nn.Parameter(torch.empty(H)))
        # torch's kernel wants (b_ih, b_hh); the paper's single b goes in b_ih and this buffer in b_hh.
        self.register_buffer("_zero_bias", torch.zeros(H), persistent=False)
        uniform_default_(self.parameters(), H)

    def cells(self) -> list[CellParams]:
        return [
            CellParams(
                W=getattr(self, f"weight_hh_l{k}"),
                V=getattr(self, f"weight_ih_l{k}"),
                b=getattr(self, f"bias_l{k}"),
                W_x=None,
            )
            for k in range(self.num_layers)
        ]

    def _run(self, x, h_0):
        flat = [t for c in self.cells() for t in (c.V, c.W, c.b, self._zero_bias)]
        args = (x, h_0, flat, True, self.num_layers, self.dropout, self.training, False, False)
        if not x.is_cuda:
            return _VF.rnn_tanh(*args)
        # cuDNN wants all weights in one buffer (torch.nn.RNN.flatten_parameters); ours are separate Parameters, so it
        # copies them per call (microseconds at these sizes) and warns each time. The copy is the accepted cost.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous chunk")
            return _VF.rnn_tanh(*args)


class UntiedVanillaRNN(RecurrentBase):
    """One tanh RNN layer with fresh W_t, V_t, b_t at every step t < T (Fig. 2 (a), top row).

    Parameters are stacked along time: `weight_ih` (T, H, input), `weight_hh` (T, H, H), `bias` (T, H). Sequences may
    be shorter than T; they then use the first steps' weights.
    """

    def __init__(self, input_size, hidden_size, T, batch_first=False):
        super().__init__(input_size, hidden_size, 1, batch_first, 0.0)
        self.T = check_positive_int("T", T)
        H = self.hidden_size
        self.weight_ih = nn.Parameter(torch.empty(self.T, H, self.input_size))
        self.weight_hh = nn.Parameter(torch.empty(self.T, H, H))
        self.bias = nn.Parameter(torch.empty(self.T, H))
        uniform_default_(self.parameters(), H)

    def cells(self) -> list[CellParams]:
        return [CellParams(W=self.weight_hh, V=self.weight_ih, b=self.bias, W_x=None)]

    def _run(self, x, h_0):
        T = x.shape[0]
        if T > self.T:
            raise RnnmfError(f"sequence length {T} is invalid for this untied RNN; valid: 1 to T={self.T}")
        a = torch.baddbmm(self.bias[:T].unsqueeze(1), x, self.weight_ih[:T].transpose(1, 2))  # V_t xᵗ + b_t, all t
        h, hs = h_0[0], []
        # unbind once: indexing W[t] per step makes each step's backward write a zero-filled (T, H, H) gradient
        for a_t, w_t in zip(a.unbind(0), self.weight_hh[:T].unbind(0), strict=True):
            h = torch.tanh(torch.addmm(a_t, h, w_t.t()))
            hs.append(h)
        out = torch.stack(hs)
        return out, out[-1:]

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, T={self.T}" + (", batch_first=True" if self.batch_first else "")
