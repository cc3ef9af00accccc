"""make_rnn: cells by name, torch's GRU/LSTM for the gated baselines, and an error that lists the valid cells."""

from __future__ import annotations

import pytest
import torch

from rnnmf.errors import RnnmfError
from rnnmf.nn import MinimalRNN, VanillaRNN, make_rnn


@pytest.mark.parametrize(
    "cell, cls", [("minimal", MinimalRNN), ("vanilla", VanillaRNN), ("gru", torch.nn.GRU), ("lstm", torch.nn.LSTM)]
)
def test_cells_by_name_share_the_call_convention(cell, cls):
    m = make_rnn(cell, 3, 5, num_layers=2, batch_first=True)
    assert isinstance(m, cls)
    out, _ = m(torch.randn(4, 7, 3))
    assert out.shape == (4, 7, 5)


def test_keywords_reach_the_constructor():
    assert make_rnn("minimal", 3, 5, fused=False).fused is False


def test_unknown_cell_lists_the_valid_ones():
    with pytest.raises(RnnmfError, match="unknown cell 'tanh'; valid: minimal, vanilla, gru, lstm"):
        make_rnn("tanh", 3, 5)
    with pytest.raises(RnnmfError, match="'vanilla'.*fused"):
        make_rnn("vanilla", 3, 5, fused=True)
