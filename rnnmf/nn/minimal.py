"""The minimalRNN (eq. 5) as torch modules: stacked layers with tied weights, and one layer with untied weights.

Per layer k:  x̃ = Φ(x) = tanh(W_x x),  u = σ(W h + V x̃ + b),  h ← u ⊙ h + (1 − u) ⊙ x̃.
Parameter names follow torch.nn.GRU: `weight_ih_l{k}` is W_x (hidden × input; "ih" = input to hidden),
`weight_hh_l{k}` is W, `weight_zh_l{k}` is V (it acts on x̃, which the appendix calls z), `bias_l{k}` is b.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rnnmf.errors import RnnmfError
from rnnmf.nn.base import CellParams, RecurrentBase, check_positive_int, uniform_default_
from rnnmf.nn.fused import minimal_rnn_layer, minimal_rnn_layer_autograd


class MinimalRNN(RecurrentBase):
    """Stacked minimalRNN with the torch.nn.GRU call convention: `output, h_n = rnn(x, h_0=None)`.

    fused=True runs each layer as one autograd Function (`rnnmf.nn.fused`); fused=False runs the same maths through
    plain autograd. Dropout (p=`dropout`) acts on the outputs of every layer but the last, in training mode only,
    as in torch.nn.GRU.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, batch_first=False, dropout=0.0, fused=True):
        super().__init__(input_size, hidden_size, num_layers, batch_first, dropout)
        self.fused = bool(fused)
        H = self.hidden_size
        for k in range(self.num_layers):
            fan_in = self.input_size if k == 0 else H
            setattr(self, f"weight_ih_l{k}", nn.Parameter(torch.empty(H, fan_in)))
            setattr(self, f"weight_hh_l{k}", nn.Parameter(torch.empty(H, H)))
            setattr(self, f"weight_zh_l{k}", nn.Parameter(torch.empty(H, H)))
            setattr(self, f"bias_l{k}", nn.Parameter(torch.empty(H)))
        uniform_default_(self.parameters(), H)

    def cells(self) -> list[CellParams]:
        return [
            CellParams(
                W=getattr(self, f"weight_hh_l{k}"),
                V=getattr(self, f"weight_zh_l{k}"),
                b=getattr(self, f"bias_l{k}"),
                W_x=getattr(self, f"weight_ih_l{k}"),
            )
            for k in range(self.num_layers)
        ]

    def _run(self, x, h_0):
        layer = minimal_rnn_layer if self.fused else minimal_rnn_layer_autograd
        h_n = []
        for k, c in enumerate(self.cells()):
            if k > 0 and self.dropout and self.training:
                x = F.dropout(x, self.dropout, training=True)
            x = layer(x, h_0[k], c.W_x, c.W, c.V, c.b)
            h_n.append(x[-1])
        return x, torch.stack(h_n)

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.fused else ", fused=False")


class UntiedMinimalRNN(RecurrentBase):
    """One minimalRNN layer with fresh W_t, V_t, b_t at every step t < T (Fig. 2, top row); Φ's W_x is shared.

    Parameters are stacked along time: `weight_hh` (T, H, H), `weight_zh` (T, H, H), `bias` (T, H), and
    `weight_ih` (H, input). Sequences may be shorter than T; they then use the first steps' weights.
    """

    def __init__(self, input_size, hidden_size, T, batch_first=False, fused=True):
        super().__init__(input_size, hidden_size, 1, batch_first, 0.0)
        self.T = check_positive_int("T", T)
        self.fused = bool(fused)
        H = self.hidden_size
        self.weight_ih = nn.Parameter(torch.empty(H, self.input_size))
        self.weight_hh = nn.Parameter(torch.empty(self.T, H, H))
        self.weight_zh = nn.Parameter(torch.empty(self.T, H, H))
        self.bias = nn.Parameter(torch.empty(self.T, H))
        uniform_default_(self.parameters(), H)

    def cells(self) -> list[CellParams]:
        return [CellParams(W=self.weight_hh, V=self.weight_zh, b=self.bias, W_x=self.weight_ih)]

    def _run(self, x, h_0):
        T = x.shape[0]
        if T > self.T:
            raise RnnmfError(f"sequence length {T} is invalid for this untied RNN; valid: 1 to T={self.T}")
        layer = minimal_rnn_layer if self.fused else minimal_rnn_layer_autograd
        w, v, b = (p if T == self.T else p[:T] for p in (self.weight_hh, self.weight_zh, self.bias))
        out = layer(x, h_0[0], self.weight_ih, w, v, b)
        return out, out[-1:]

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, T={self.T}" + (", batch_first=True" if self.batch_first else "")
