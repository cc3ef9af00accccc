"""bench_untied on a toy size: the rows and their ratio (timings never asserted)."""

import math

from rnnmf.bench.sim import bench_untied


def test_bench_untied_rows():
    rows = bench_untied(N=64, networks=2, naive_steps=2, fast_steps=5)
    assert [set(r) for r in rows] == [{"name", "seconds", "ratio"}, {"name", "seconds", "ratio", "headline"}]
    assert rows[1]["headline"] == "sim_untied_speedup"
    assert rows[0]["ratio"] == 1.0 and all(r["seconds"] > 0 for r in rows)
    assert math.isclose(rows[1]["ratio"], rows[0]["seconds"] / rows[1]["seconds"])
