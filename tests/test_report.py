"""`rnnmf report`: reads only the CSVs, marks what is missing, never invents a number."""

from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app
from experiments.report import write_report
from experiments.runner import execute
from rnnmf.io import append_rows


def test_empty_results_are_all_missing(tmp_path):
    path = write_report(tmp_path / "results")
    text = path.read_text()
    assert "0 PASS, 0 FAIL" in text and "MISSING" in text
    assert "| **PASS** |" not in text and "| **FAIL** |" not in text


def test_report_reads_a_real_fig1_run_and_a_table1_row(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    execute("mf_vs_mc", ["profile=smoke", "run.quiet=true"])
    # a Table 1 row written by hand, as the lm job would: the report must quote it, not recompute it
    lm = tmp_path / "results" / "lm" / "paper-test"
    append_rows(lm / "summary.csv", [{"cell": "minimal", "size": "small", "epochs": 13, "test_ppl": 105.0,
                                      "valid_ppl": 109.0}], ["cell", "size", "epochs", "test_ppl", "valid_ppl"])
    (lm / "meta.json").write_text('{"status": "done", "profile": "paper", "end_time": "2026-01-01T00:00:00+00:00",'
                                  ' "command": "/x/.venv/bin/rnnmf lm --cell minimal profile=paper"}')
    result = CliRunner().invoke(app, ["report", "--results", str(tmp_path / "results")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "results" / "REPORT.md").read_text()
    fig1a = next(line for line in text.splitlines() if line.startswith("| Fig. 1a"))
    assert "max \\|Δc\\| =" in fig1a and ("**PASS**" in fig1a or "**FAIL**" in fig1a)
    row = next(line for line in text.splitlines() if "minimal small (5M) test perplexity" in line)
    assert "| 105.0 (13 epochs) | +3.6 |" in row and "**PASS**" in row  # within 10% of 101.4
    assert "`rnnmf lm --cell minimal profile=paper`" in row
    lstm = next(line for line in text.splitlines() if "lstm small (5M)" in line)
    assert "**MISSING**" in lstm
    assert "![fig1.png](mf_vs_mc/" in text
