"""bench_lm at one batch: the rows compare the minimalRNN with the GRU at the same budget (timings never asserted)."""

import pytest

from rnnmf.bench.lm import bench_lm
from rnnmf.errors import RnnmfError
from rnnmf.lm import train_flops_per_token


def test_bench_rows_compare_minimal_with_gru_at_the_same_budget():
    rows = bench_lm(batches=1, rounds=1, warmup=1, cells=("gru", "minimal"))
    assert [r["cell"] for r in rows] == ["gru", "minimal"]
    gru, minimal = rows
    assert gru["ratio"] == 1.0 and minimal["headline"] == "lm_minimal_vs_gru_tokens_per_s"
    assert abs(gru["params"] - minimal["params"]) < 0.01 * 5_000_000
    assert minimal["ratio"] == pytest.approx(minimal["tokens_per_s"] / gru["tokens_per_s"], rel=1e-2)
    for r in rows:  # the FLOP rate over the matmul peak measured in the same process
        flops = train_flops_per_token(r["cell"], 10_000, r["hidden"])
        assert r["gflops"] == pytest.approx(r["tokens_per_s"] * flops / 1e9, rel=1e-2)
        assert r["fraction_of_peak"] == pytest.approx(r["gflops"] / r["peak_gflops"], rel=1e-2)
        assert 0 < r["fraction_of_peak"] < 1.5  # a training step cannot beat the machine's own matmul by much
    with pytest.raises(RnnmfError, match="unknown size 'huge'"):
        bench_lm(size="huge")


