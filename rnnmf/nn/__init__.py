"""Recurrent models of the paper: the minimalRNN (eq. 5) and the vanilla RNN (eq. 1), tied and untied, with the
torch.nn.GRU call convention, plus the paper's initialisers (Sec. 4.2, Algorithm 1) and, beyond the paper, critical
initialisation of torch's own nn.GRU and nn.LSTM (`init_critical(torch.nn.GRU(...), R=..., mu_z=...)`).

    from rnnmf.nn import MinimalRNN, init_critical
    rnn = MinimalRNN(input_size, hidden_size)
    res = init_critical(rnn, q_star=..., R=..., mu_b=...)
    output, h_n = rnn(x)
"""

from __future__ import annotations

from torch import nn

from rnnmf.errors import RnnmfError
from rnnmf.nn.base import CellParams
from rnnmf.nn.gated import init_critical_gated, init_gated, init_heuristic
from rnnmf.nn.init import estimate_R, init_critical, init_explicit, init_off_critical
from rnnmf.nn.minimal import MinimalRNN, UntiedMinimalRNN
from rnnmf.nn.vanilla import UntiedVanillaRNN, VanillaRNN

CELLS = ("minimal", "vanilla", "gru", "lstm")


def make_rnn(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    batch_first: bool = False,
    dropout: float = 0.0,
    **kwargs,
) -> nn.Module:
    """A recurrent module by name; minimal and vanilla are `rnnmf.nn`'s, gru and lstm are torch's own.

    kwargs go to the constructor (e.g. fused=False for the minimalRNN); a keyword a cell does not take is an error.
    The one place that builds a cell by name (`rnnmf.lm.RNNLM`, the jobs).
    """
    classes = {"minimal": MinimalRNN, "vanilla": VanillaRNN, "gru": nn.GRU, "lstm": nn.LSTM}
    if cell not in classes:
        raise RnnmfError(f"unknown cell {cell!r}; valid: {', '.join(CELLS)}")
    try:
        return classes[cell](
            input_size, hidden_size, num_layers=num_layers, batch_first=batch_first, dropout=dropout, **kwargs
        )
    except TypeError as e:  # an unknown keyword for this cell
        raise RnnmfError(f"bad arguments for cell {cell!r}: {e}") from None


__all__ = [
    "CELLS",
    "CellParams",
    "MinimalRNN",
    "UntiedMinimalRNN",
    "UntiedVanillaRNN",
    "VanillaRNN",
    "estimate_R",
    "init_critical",
    "init_critical_gated",
    "init_gated",
    "init_heuristic",
    "init_explicit",
    "init_off_critical",
    "make_rnn",
]
