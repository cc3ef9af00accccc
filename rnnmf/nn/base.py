"""What every recurrent module in `rnnmf.nn` shares: the `torch.nn.GRU` call convention and a paper-notation view of
the parameters that the initialisers in `rnnmf.nn.init` work on.

Subclasses implement `_run(x, h_0)` on time-major input, (T, B, input) and (layers, B, H) -> (T, B, H), (layers, B, H),
and `cells()`. The base class handles `batch_first`, unbatched (2-D) input, a missing h_0 and input validation.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from rnnmf.errors import RnnmfError


class CellParams(NamedTuple):
    """One layer's parameters in the paper's notation, eq. 1 (vanilla) and eq. 5 (minimalRNN).

    Untied forms carry a leading time axis: W and V are (T, H, ·) and b is (T, H). W_x is the weight of the minimalRNN's
    input map x̃ = Φ(x) = tanh(W_x x), None for the vanilla RNN.
    """

    W: nn.Parameter
    V: nn.Parameter
    b: nn.Parameter
    W_x: nn.Parameter | None


def check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RnnmfError(f"{name}={value!r} is invalid; valid: an integer >= 1")
    return value


def check_dropout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise RnnmfError(f"dropout={value!r} is invalid; valid: a number in [0, 1)")
    return float(value)


def uniform_default_(params, hidden_size: int) -> None:
    """torch.nn.RNN's default, U(-1/sqrt(H), 1/sqrt(H)); experiments overwrite it with `rnnmf.nn.init`."""
    bound = 1.0 / math.sqrt(hidden_size)
    with torch.no_grad():
        for p in params:
            p.uniform_(-bound, bound)


class RecurrentBase(nn.Module):
    """`output, h_n = rnn(x, h_0=None)` with output (T, B, H) or (B, T, H) and h_n (layers, B, H), as torch.nn.GRU."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, batch_first: bool, dropout: float):
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.batch_first = bool(batch_first)
        self.dropout = check_dropout(dropout)

    def _run(self, x: torch.Tensor, h_0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def cells(self) -> list[CellParams]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, h_0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() not in (2, 3) or x.shape[-1] != self.input_size:
            raise RnnmfError(
                f"input of shape {tuple(x.shape)} is invalid; valid: (T, B, {self.input_size}), "
                f"(B, T, {self.input_size}) with batch_first, or unbatched (T, {self.input_size})"
            )
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(1)
            h_0 = None if h_0 is None else h_0.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        T, B = x.shape[0], x.shape[1]
        if T == 0:
            raise RnnmfError("input has 0 time steps; valid: at least 1")
        want = (self.num_layers, B, self.hidden_size)
        if h_0 is None:
            h_0 = x.new_zeros(want)
        elif tuple(h_0.shape) != want:
            got = tuple(h_0.shape[:1] + h_0.shape[2:]) if unbatched else tuple(h_0.shape)
            valid = want[:1] + want[2:] if unbatched else want
            raise RnnmfError(f"h_0 of shape {got} is invalid; valid: {valid}")
        out, h_n = self._run(x, h_0)
        if unbatched:
            return out.squeeze(1), h_n.squeeze(1)
        if self.batch_first:
            out = out.transpose(0, 1)
        return out, h_n

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        return s
