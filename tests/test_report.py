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


def test_fig3_rows_mark_unreached_runs_and_state_the_settings(tmp_path):
    from experiments import seqmnist
    from experiments.config import compose_config, to_yaml

    run = tmp_path / "results" / "seqmnist" / "quick-test"
    rows = [{"cell": cell, "T": 196, "init": init, "weights": w, "seed": 0, "steps_to_90": steps,
             "reached": steps < 6000, "budget": 6000}
            for cell, crit in (("vanilla", (1400, 4800)), ("minimal", (3100, 2500)))
            for init, pair in (("critical", crit), ("off_critical", (6000, 6000)))
            for w, steps in zip(("orthogonal", "gaussian"), pair, strict=True)]
    append_rows(run / "summary.csv", rows, [c for c in seqmnist.SUMMARY_COLUMNS if c in rows[0]])
    (run / "config.yaml").write_text(to_yaml(compose_config("seqmnist", [])))
    (run / "meta.json").write_text('{"status": "done", "profile": "quick", "end_time": "2026-01-01T00:00:00+00:00"}')
    text = write_report(tmp_path / "results").read_text()
    line = next(x for x in text.splitlines() if "critical init reaches 90%" in x)
    assert "vanilla T=196: critical/gaussian 4800, critical/orthogonal 1400, off_critical/gaussian > 6000" in line
    assert "**PASS**" in line
    gap = next(x for x in text.splitlines() if "orthogonal vs Gaussian" in x)
    assert "vanilla 3400, minimal 600" in gap and "**PASS**" in gap
    settings = next(x for x in text.splitlines() if x.startswith("Settings:"))
    assert "critical vanilla q* = 0.1, μ_b = 0" in settings and "q* = 5, μ_b = 4" in settings
    assert "optimiser sgd (lr vanilla 0.003, minimal 0.1)" in settings and "each weight on its own" in settings


def test_fig2_row_states_k_and_r2_per_panel_with_the_profile_and_fails_below_r2_0_8(tmp_path):
    from experiments import trainability as tr
    from experiments.config import compose_config, to_yaml

    run = tmp_path / "results" / "trainability" / "quick-test"
    fits = {"a": (2.5, 0.91, 0.9), "c": (3.1, 0.85, 1.0), "e": (1.8, 0.62, 0.7), "g": (2.2, float("nan"), 1.0),
            "b": (1.5, 0.4, 0.5)}
    rows = [{"panel": p, "value": v, "k": k, "r2": r2, "rho": 0.8, "within_1p5": w, "n_fit": 3, "censored": "none"}
            for p, (k, r2, w) in fits.items() for v in (1.0, 2.0)]
    append_rows(run / "boundary.csv", rows, [c for c in tr.BOUNDARY_COLUMNS if c in rows[0]])
    (run / "config.yaml").write_text(to_yaml(compose_config("trainability", ["profile=quick"])))
    (run / "meta.json").write_text('{"status": "done", "profile": "quick", "end_time": "2026-01-01T00:00:00+00:00"}')
    text = write_report(tmp_path / "results").read_text()
    line = next(x for x in text.splitlines() if "the trainable depth follows τ" in x)
    assert "profile quick: (a) k=2.5, R²=0.91, 90% within 1.5×, 3 fitted" in line
    assert "(e) k=1.8, R²=0.62" in line and "(g) k=2.2, R²=—" in line
    assert "R² below 0.8: e, g" in line and "**FAIL**" in line and "R² ≥ 0.8" in line
    settings = next(x for x in text.splitlines() if x.startswith("Settings: N = 32"))
    assert "minimalRNN" in settings and "T_max by bisection on vanilla T 10–640 in 27 geometric steps" in settings
