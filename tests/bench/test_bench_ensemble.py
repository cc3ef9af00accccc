"""bench_ensemble on toy sizes: both ways of training and the weighted headline (timings never asserted)."""

import pytest

from rnnmf.bench.ensemble import bench_ensemble


def test_bench_ensemble_reports_both_ways_and_a_headline_ratio():
    rows = bench_ensemble(members={"vanilla": 2, "minimal": 2}, T=3, hidden=4, batch=4,
                          steps={"vanilla": 1, "minimal": 1}, eval_examples=0, repeats=1)
    assert [r["family"] for r in rows] == ["vanilla-untied", "vanilla-tied", "minimal-untied", "minimal-tied",
                                           "quick sweep (weighted)"]
    for r in rows:
        assert r["ensemble_s"] > 0 and r["one_by_one_s"] > 0
        # timings never asserted; the ratio is rounded to 2 decimals
        assert r["ratio"] == pytest.approx(r["one_by_one_s"] / r["ensemble_s"], rel=0.02, abs=0.0051)
    assert rows[-1]["headline"] == "ensemble_speedup"
    assert rows[0]["one_by_one_as"] == "ensemble K=1"  # untied vanilla: rnnmf.nn's V_t per step is another model
