"""`rnnmf bench` at profile smoke: every suite runs, writes its CSV and table, and the headline ratios are reported.

Only the plumbing is tested here; speed is measured by running `rnnmf bench`, never asserted in tests.
"""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from cli.main import app


def test_bench_smoke_writes_every_suite(tmp_path):
    result = CliRunner().invoke(app, ["bench", "profile=smoke", "--suite", "theory,rnn,sim", "--out",
                                      str(tmp_path / "b"), "-q"])
    assert result.exit_code == 0, result.output
    for suite in ("theory", "rnn", "sim"):
        df = pd.read_csv(tmp_path / "b" / f"bench_{suite}.csv")
        assert len(df) >= 2
    rnn = pd.read_csv(tmp_path / "b" / "bench_rnn.csv")
    assert set(rnn.model) >= {"minimal_fused", "torch_gru", "torch_rnn"}
    assert (rnn.loc[rnn.model == "torch_gru", "ratio_to_gru"] == 1).all()
    assert "minimal_vs_gru_4x16x8x4" in result.stdout and "## rnn" in result.stdout
    assert "theory_tau_map_speedup" in result.stdout and "sim_untied_speedup" in result.stdout


def test_bench_unknown_suite_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["bench", "--suite", "theory,warp"])
    assert result.exit_code == 2 and "suites=['theory', 'warp'] is invalid ('warp' is not)" in result.stderr


def test_bench_resumed_through_the_runner_keeps_each_suite_once_and_the_cli_measures_afresh(tmp_path):
    """make reproduce-all resumes (a finished suite's rows are not appended twice); `rnnmf bench` starts over."""
    from experiments.runner import execute

    ovs = ["profile=smoke", "suites=[theory,lm]", "run.quiet=true"]
    first, out = execute("bench", ovs, out=tmp_path / "b")
    rows = {s: pd.read_csv(out / f"bench_{s}.csv") for s in ("theory", "lm")}
    assert "lm_minimal_fraction_of_matmul_peak" in first and "lm_seconds" in first
    again, _ = execute("bench", ovs, out=tmp_path / "b")
    for suite, df in rows.items():
        pd.testing.assert_frame_equal(pd.read_csv(out / f"bench_{suite}.csv"), df)  # read back, not re-measured
    assert "lm_seconds" not in again and again["lm_minimal_fraction_of_matmul_peak"] == \
        first["lm_minimal_fraction_of_matmul_peak"]
    result = CliRunner().invoke(app, ["bench", "profile=smoke", "--suite", "theory", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out / "bench_theory.csv")) == len(rows["theory"]) and "theory_seconds" in result.stdout
