"""bench_rnns on toy sizes: the rows and their ratios (never the timings themselves, which drift)."""

from __future__ import annotations

import pytest

from rnnmf.bench.rnn import MODELS, bench_rnns
from rnnmf.errors import RnnmfError

COLUMNS = {
    "model",
    "batch",
    "hidden",
    "T",
    "input",
    "threads",
    "seconds",
    "ratio_to_gru",
    "ratio_to_rnn",
    "gflops_floor",
    "floor_seconds",
    "efficiency",
}


def test_rows_for_every_model_and_shape():
    rows = bench_rnns(shapes=((2, 8, 5, 3), (3, 4, 2, 4)), repeats=1, warmup=0, threads=1)
    assert len(rows) == 2 * len(MODELS)
    for row in rows:
        assert set(row) == COLUMNS
        assert row["threads"] == 1
        assert row["seconds"] > 0 and row["floor_seconds"] > 0 and row["gflops_floor"] > 0
    by = {(r["model"], r["hidden"]): r for r in rows}
    assert by["torch_gru", 8]["ratio_to_gru"] == 1.0 and by["torch_rnn", 8]["ratio_to_rnn"] == 1.0
    # the FLOP floor follows the gate count: GRU 3x, LSTM 4x the vanilla RNN's matrix products
    assert by["torch_gru", 8]["gflops_floor"] == pytest.approx(3 * by["torch_rnn", 8]["gflops_floor"])
    assert by["torch_lstm", 8]["gflops_floor"] == pytest.approx(4 * by["torch_rnn", 8]["gflops_floor"])
    assert by["vanilla", 8]["gflops_floor"] == by["torch_rnn", 8]["gflops_floor"]


def test_bad_arguments():
    with pytest.raises(RnnmfError, match="unknown bench model.*minimal_fused"):
        bench_rnns(models=("transformer",))
    with pytest.raises(RnnmfError, match="repeats=0"):
        bench_rnns(repeats=0)
