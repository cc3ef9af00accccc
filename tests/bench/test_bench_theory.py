"""bench_tau_map on a 30 x 30 grid: the vectorised map against scipy, and its speed-up."""

import pytest

from rnnmf.bench.theory import bench_tau_map


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["minimal", "vanilla"])
def test_bench_rows_and_speedup(cell):
    rows = bench_tau_map(n=30, n_reference=1, cell=cell, sigma12=0.5)
    assert [r["points"] for r in rows] == [900, 900]
    assert rows[1]["max_rel_diff"] < 1e-8
    assert rows[1]["headline"] == "theory_tau_map_speedup"
    assert rows[1]["ratio"] > 100  # at n = 200 the measured ratio is in the report
