"""`rnnmf report`: reads only the CSVs, marks what is missing, never invents a number."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app
from experiments.report import write_report
from experiments.runner import execute
from rnnmf.io import append_rows


def test_empty_results_are_all_missing_but_the_reference_runs(tmp_path, monkeypatch):
    from experiments import report

    monkeypatch.setattr(report, "REFERENCE_DIR", tmp_path / "no-reference")
    text = write_report(tmp_path / "results").read_text()
    assert "0 PASS, 0 FAIL" in text and "MISSING" in text
    assert "| **PASS** |" not in text and "| **FAIL** |" not in text
    # with the repository's reference runs, Table 1's rows are judged on ours even when the user has run nothing
    monkeypatch.undo()
    text = write_report(tmp_path / "results").read_text()
    gru = next(x for x in text.splitlines() if "gru small (5M) test perplexity" in x)
    assert "reference 100.5 (16 epochs)" in gru and "**PASS**" in gru


def test_report_reads_a_real_fig1_run_and_a_table1_row(tmp_path, monkeypatch):
    from experiments import report

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(report, "REFERENCE_DIR", tmp_path / "no-reference")  # the user's run alone
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
    assert "max \\|Δc\\| =" in fig1a and "**INFO**" in fig1a and "not graded" in fig1a  # a smoke run
    row = next(line for line in text.splitlines() if "minimal small (5M) test perplexity" in line)
    assert "| yours 105.0 (13 epochs, profile paper) | +3.6 |" in row and "**PASS**" in row  # ≤ 101.4 + 5%
    assert "`rnnmf lm --cell minimal profile=paper`" in row
    lstm = next(line for line in text.splitlines() if "lstm small (5M)" in line)
    assert "**MISSING**" in lstm
    assert "![fig1.png](mf_vs_mc/" in text


def test_table1_puts_a_users_run_beside_the_reference_and_judges_the_gru_claim(tmp_path, monkeypatch):
    from experiments import report

    columns = ["cell", "size", "init", "epochs", "test_ppl", "valid_ppl"]
    ref = tmp_path / "reference"
    for name, rows in (("gru-small", [("gru", "uniform", 99.0)]), ("minimal-small", [("minimal", "uniform", 108.0)]),
                       ("minimal-small-critical", [("minimal", "critical", 104.0)])):
        append_rows(ref / "lm" / name / "summary.csv", [dict(zip(columns, (c, "small", i, 16, t, t + 4),
                                                                 strict=True)) for c, i, t in rows], columns)
        curve = [dict(cell=c, size="small", init=i, epoch=e, valid_ppl=t + 4 + 16 - e)
                 for c, i, t in rows for e in range(1, 17)]
        append_rows(ref / "lm" / name / "epochs.csv", curve,
                    ["cell", "size", "init", "epoch", "valid_ppl"])
        (ref / "lm" / name / "meta.json").write_text('{"status": "done", "profile": "paper"}')
    # a critical GRU still training (3 epochs, no summary yet): compared with the uniform GRU at epoch 3
    append_rows(ref / "lm" / "gru-small-critical" / "epochs.csv",
                [dict(cell="gru", size="small", init="critical", epoch=e, valid_ppl=200.0 - e) for e in (1, 2, 3)],
                ["cell", "size", "init", "epoch", "valid_ppl"])
    (ref / "lm" / "gru-small-critical" / "meta.json").write_text('{"status": "running", "profile": "paper"}')
    monkeypatch.setattr(report, "REFERENCE_DIR", ref)
    mine = tmp_path / "results" / "lm" / "quick-x"
    append_rows(mine / "summary.csv", [dict(zip(columns, ("minimal", "small", "uniform", 1, 300.0, 310.0),
                                                strict=True))], columns)
    (mine / "meta.json").write_text('{"status": "done", "profile": "quick"}')
    text = write_report(tmp_path / "results").read_text()
    row = next(x for x in text.splitlines() if "minimal small (5M) test perplexity" in x)
    # a quick run is shown but not judged; the reference is judged: 108.0 > 101.4 + 5% = 106.5
    assert "yours 300.0 (1 epochs, profile quick); reference 108.0 (16 epochs)" in row
    assert "+6.6 (reference)" in row and "**FAIL**" in row
    assert "**PASS**" in next(x for x in text.splitlines() if "gru small (5M) test perplexity" in x)
    gap = next(x for x in text.splitlines() if "small: minimalRNN within 5% of the GRU" in x)
    assert "108.0 vs 99.0 (reference)" in gap and "+9.1%" in gap and "**FAIL**" in gap
    crit = next(x for x in text.splitlines() if "minimal small: critical initialisation (χ₁ = 1) vs U(±0.1)" in x)
    assert "at epoch 16: 108.0 critical vs 112.0 uniform; test 104.0 vs 108.0" in crit and "**INFO**" in crit
    assert "-3.6%" in crit
    gru = next(x for x in text.splitlines() if "gru small: critical initialisation (χ₁ = 1) vs U(±0.1)" in x)
    assert "at epoch 3: 197.0 critical vs 116.0 uniform" in gru and "; test" not in gru  # unfinished: no test ppl
    # a 20M run still training (no summary): its curve is shown, not graded; the other 20M cells stay MISSING
    append_rows(ref / "lm" / "minimal-medium" / "epochs.csv",
                [dict(cell="minimal", size="medium", init="uniform", epoch=e, valid_ppl=v)
                 for e, v in ((1, 190.54), (2, 156.96), (3, 142.66))], ["cell", "size", "init", "epoch", "valid_ppl"])
    (ref / "lm" / "minimal-medium" / "meta.json").write_text('{"status": "interrupted", "profile": "paper"}')
    text = write_report(tmp_path / "results").read_text()
    medium = next(x for x in text.splitlines() if "minimal medium (20M) test perplexity" in x)
    assert "reference, unfinished: validation ppl per epoch 190.5, 157.0, 142.7" in medium
    assert "not graded: no test ppl yet" in medium and "**INFO**" in medium
    assert "**MISSING**" in next(x for x in text.splitlines() if "gru medium (20M) test perplexity" in x)


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
    settings = next(x for x in text.splitlines() if x.startswith("Settings:") and "critical" in x)
    assert "critical vanilla q* = 0.1, μ_b = 0" in settings and "q* = 5, μ_b = 4" in settings
    assert "optimiser sgd (lr vanilla 0.003, minimal 0.1)" in settings and "each weight on its own" in settings


def test_gated_rows_are_beyond_the_paper_and_missing_without_a_run(tmp_path, monkeypatch):
    from experiments import report

    monkeypatch.setattr(report, "REFERENCE_DIR", tmp_path / "no-reference")  # no run at all, ours included
    text = write_report(tmp_path / "results").read_text()
    rows = [line for line in text.splitlines() if line.startswith(("| GRU (beyond the paper)",
                                                                    "| LSTM (beyond the paper)"))]
    assert "## Beyond the paper" in text and len(rows) == 18
    assert all("| — |" in r for r in rows) and sum("**MISSING**" in r for r in rows) == 14  # 4 INFO rows


def _gated_seqmnist_run(folder, steps: dict, budget=2000):
    from experiments import seqmnist
    from experiments.config import compose_config, to_yaml

    rows = [{"cell": cell, "T": 196, "init": init, "weights": "w", "seed": 0,
             "steps_to_90": budget if n is None else n, "reached": n is not None, "budget": budget,
             "best_acc": 0.95 if n is not None else 0.61} for (cell, init), n in steps.items()]
    append_rows(folder / "summary.csv", rows, [c for c in seqmnist.SUMMARY_COLUMNS if c in rows[0]])
    (folder / "config.yaml").write_text(to_yaml(compose_config("gated_seqmnist", [])))
    (folder / "meta.json").write_text('{"status": "done", "profile": "quick", "end_time": "2026-01-01T00:00:00+00:00"}')


def test_gated_fig3_rows_judge_critical_against_each_other_init(tmp_path, monkeypatch):
    from experiments import report

    monkeypatch.setattr(report, "REFERENCE_DIR", tmp_path / "no-reference")
    text = write_report(tmp_path / "results").read_text()
    rows = [x for x in text.splitlines() if x.startswith("| Fig. 3, nn.")]
    assert len(rows) == 4 and all("**MISSING**" in r for r in rows)
    _gated_seqmnist_run(tmp_path / "results" / "gated_seqmnist" / "quick-test", {
        ("gru", "critical"): 500, ("gru", "torch_default"): None, ("gru", "heuristic"): 400,
        ("lstm", "critical"): None, ("lstm", "torch_default"): None, ("lstm", "heuristic"): 1200})
    rows = [x for x in write_report(tmp_path / "results").read_text().splitlines() if x.startswith("| Fig. 3, nn.")]
    gru_default, gru_heuristic, lstm_default, lstm_heuristic = rows
    assert "critical 500 vs torch_default > 2000 (best 0.610)" in gru_default and "**PASS**" in gru_default
    assert "critical 500 vs heuristic 400" in gru_heuristic and "**FAIL**" in gru_heuristic
    assert "**FAIL**" in lstm_default  # both censored at the budget: a tie, not a win
    assert "| — (not in the paper) |" in lstm_heuristic and "**FAIL**" in lstm_heuristic
    # without a run of the user's, ours (results/reference/seqmnist/gated-quick) answers, and the command says so
    ref = tmp_path / "reference" / "seqmnist" / "gated-quick"
    _gated_seqmnist_run(ref, {("gru", "critical"): 300, ("gru", "heuristic"): 700})
    (ref / "fig3_gated.png").write_bytes(b"\x89PNG")  # a reference run's figure lies outside the results folder
    monkeypatch.setattr(report, "REFERENCE_DIR", tmp_path / "reference")
    text = write_report(tmp_path / "empty").read_text()
    rows = [x for x in text.splitlines() if x.startswith("| Fig. 3, nn.")]
    assert "critical 300 vs heuristic 700" in rows[1] and "**PASS**" in rows[1]
    assert "(ours: results/reference" in rows[1]
    assert "![fig3_gated.png](../reference/seqmnist/gated-quick/fig3_gated.png)" in text  # relative to REPORT.md


@pytest.mark.slow
def test_gated_rows_are_filled_from_the_job(tmp_path, monkeypatch):
    """A gated run's CSVs fill the rows (its critical check written by hand here, as the job would)."""
    import experiments.gated_mf_vs_mc as job

    monkeypatch.chdir(tmp_path)
    _, out = execute("gated_mf_vs_mc", ["profile=smoke", "run.quiet=true", "cell=gru", "jacobian.T=[1]",
                                        "timescales.sigma12=[]", "sigma_w=[1.5]",
                                        "bias.num=1"])
    append_rows(out / "critical.csv", [dict(bias=2.0, sigma_w=3.7, chi_1=1.0, roundtrip_error=1e-15, Q_star=0.12,
                                            hidden=1024, weights="orthogonal", one_step=0.987, one_step_untied=1.004,
                                            growth=1.04, theory_growth=1.0, chi_1_module=1.038, calibrated_scale=0.898,
                                            chi_1_calibrated=0.995, calibration_converged=True)], job.CRITICAL)
    text = write_report(tmp_path / "results").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| GRU (beyond the paper)")]
    assert len(rows) == 9 and all("| — |" in r for r in rows)
    assert "max \\|Δc\\| =" in rows[0] and "**INFO**" in rows[0]  # a smoke run is shown, never graded
    assert "**INFO**" in rows[4] and "1.0e-15" in rows[4]
    # what was measured: untied networks' one step, the tied module's own chi_1, the calibrated module
    assert "untied networks" in rows[5] and "max \\|one step − 1\\| = 0.004" in rows[5]
    assert "(tied) at init_critical's σ_w" in rows[6] and "bias 2: 1.038" in rows[6]
    assert "bias 2: 1.038 → 0.995 (weight_hh × 0.898)" in rows[7]


def test_fig2_row_states_k_and_r2_per_panel_with_the_profile_and_fails_below_r2_0_8(tmp_path, monkeypatch):
    from experiments import report
    from experiments.config import compose_config, to_yaml
    from experiments.depth_search import BOUNDARY_COLUMNS

    monkeypatch.setattr(report, "REFERENCE_DIR", tmp_path / "no-reference")  # the user's quick run is all there is

    run = tmp_path / "results" / "trainability" / "quick-test"
    fits = {"a": (2.5, 0.91, 0.9), "c": (3.1, 0.85, 1.0), "e": (1.8, 0.62, 0.7), "g": (2.2, float("nan"), 1.0),
            "b": (1.5, 0.4, 0.5)}
    rows = [{"panel": p, "value": v, "k": k, "r2": r2, "rho": 0.8, "within_1p5": w, "n_fit": 3, "censored": "none"}
            for p, (k, r2, w) in fits.items() for v in (1.0, 2.0)]
    append_rows(run / "boundary.csv", rows, [c for c in BOUNDARY_COLUMNS if c in rows[0]])
    (run / "config.yaml").write_text(to_yaml(compose_config("trainability", ["profile=quick"])))
    (run / "meta.json").write_text('{"status": "done", "profile": "quick", "end_time": "2026-01-01T00:00:00+00:00"}')
    text = write_report(tmp_path / "results").read_text()
    line = next(x for x in text.splitlines() if "the trainable depth follows τ" in x)
    assert "profile quick: (a) k=2.5, R²=0.91, 90% within 1.5×, 3 fitted" in line
    assert "(e) k=1.8, R²=0.62" in line and "(g) k=2.2, R²=—" in line
    assert "R² below 0.8: e, g" in line and "**FAIL**" in line and "R² ≥ 0.8" in line
    settings = next(x for x in text.splitlines() if x.startswith("Settings: N = 32"))
    assert "minimalRNN" in settings and "T_max by bisection on vanilla T 10–640 in 27 geometric steps" in settings


# ------------------------------------------------------------------------ Fig. 2 per panel, with measured reasons
def _panel_line(text: str, panel: str, profile: str = "") -> str:
    return next(x for x in text.splitlines() if x.startswith(f"- ({panel}) profile {profile}"))


def test_fig2_states_each_untied_panel_with_its_profile_verdict_and_measured_reason(tmp_path):
    """The reference quick run (its boundary.csv, meta.json and config.yaml): one line per untied panel with k, R²,
    ρ, the profile and the verdict, and the reason of experiments.claims.FIG2_REASONS where R² < 0.8."""
    import shutil

    from experiments.claims import FIG2_REASONS
    from experiments.report import REFERENCE_DIR

    run = tmp_path / "results" / "trainability" / "quick"
    run.mkdir(parents=True)
    for name in ("boundary.csv", "meta.json", "config.yaml"):
        shutil.copy(REFERENCE_DIR / "trainability" / "quick" / name, run / name)
    text = write_report(tmp_path / "results").read_text()
    a = _panel_line(text, "a", "quick")
    assert a.startswith("- (a) profile quick: k = 4.7, R² = -10.1 (-11.7 to -8.56 over the brackets), ρ = 0.8, 11 "
                        "columns fitted: **FAIL**. Reason")
    assert "(c) profile quick: k = 1.99, R² = 0.799 (0.758 to 0.833 over the brackets), ρ = 1, 3 columns fitted: " \
           "**FAIL**" in _panel_line(text, "c", "q")
    assert "(e) profile quick: k = 3.85, R² = 0.423 (" in _panel_line(text, "e", "quick")
    assert "(g) profile quick: k = 2.07, R² = 0.27 (" in _panel_line(text, "g", "quick")
    for p in "aceg":
        reason = FIG2_REASONS[(p, "quick")]
        line = _panel_line(text, p, "quick")
        assert line.endswith(reason.text) and all(f"`{m}`" in line for m in reason.measured_in)
    assert "- (b)" not in text  # tied panels: in the claim's row, not judged against R² ≥ 0.8


def test_fig2_panel_lines_pass_without_a_reason_and_say_when_none_was_measured(tmp_path):
    from experiments.depth_search import BOUNDARY_COLUMNS

    run = tmp_path / "results" / "trainability" / "paper-test"
    fits = {"a": (2.5, 0.91, 0.9), "e": (1.8, 0.62, 0.7)}
    rows = [{"panel": p, "value": v, "k": k, "r2": r2, "rho": rho, "within_1p5": 1.0, "n_fit": 20,
             "censored": "none"} for p, (k, r2, rho) in fits.items() for v in (1.0, 2.0)]
    append_rows(run / "boundary.csv", rows, [c for c in BOUNDARY_COLUMNS if c in rows[0]])
    (run / "meta.json").write_text('{"status": "done", "profile": "paper", "end_time": "2026-01-01T00:00:00+00:00"}')
    text = write_report(tmp_path / "results").read_text()
    assert _panel_line(text, "a") == "- (a) profile paper: k = 2.5, R² = 0.91, ρ = 0.9, 20 columns fitted: **PASS**"
    assert _panel_line(text, "e") == ("- (e) profile paper: k = 1.8, R² = 0.62, ρ = 0.7, 20 columns fitted: **FAIL**. "
                                      "Reason: none measured at profile paper")


def test_the_reasons_numbers_are_the_reference_folders(tmp_path):
    """Every number a reason of FIG2_REASONS quotes, read back from the reference folders it cites."""
    import numpy as np
    import pandas as pd

    from experiments.claims import FIG2_REASONS
    from experiments.memory_probe import versus_trained
    from experiments.report import REFERENCE_DIR
    from rnnmf.theory import minimal

    ref = REFERENCE_DIR / "trainability"
    for r in FIG2_REASONS.values():
        assert all((REFERENCE_DIR / m).exists() for m in r.measured_in), r
    text = {p: FIG2_REASONS[(p, "quick")].text for p in "aceg"}

    def quoted(panel, s):
        assert s in text[panel], (panel, s)

    b = pd.read_csv(ref / "quick" / "boundary.csv")
    probe = pd.read_csv(ref / "probe" / "paper-N128" / "fit.csv").set_index("panel")
    gate = pd.read_csv(ref / "probe" / "open-gate-N128-ce" / "fit.csv").set_index("panel")
    written = pd.read_csv(ref / "probe" / "open-gate-N32-64" / "tmax.csv")
    slope = {p: np.polyfit(np.log(g.tau), np.log(g.T_max), 1)[0] for p, g in b[b.censored == "none"].groupby("panel")}
    # (a) trained memory where tau is short, Adam's drift of W, the initial network's R²
    a = b[(b.panel == "a") & (b.tau <= 1.4)]
    quoted("a", f"T_max {a.T_max.min():.0f}–{a.T_max.max():.0f} ({(a.T_max / a.tau).min():.0f}–"
                f"{(a.T_max / a.tau).max():.0f} τ) where τ ≤ 1.4")
    drift = next(x for x in (ref / "weight_drift.txt").read_text().splitlines() if "panel a sigma_w 0.5" in x)
    quoted("a", f"W by {100 * float(drift.split('= ')[1].split(',')[0]):.0f} %")
    quoted("a", f"probe R² {probe.r2['a']:.2f}, N = 128")
    # (c) censored columns, the width check, dilution and the written image
    c = b[b.panel == "c"]
    below = c[c.censored == "below"]
    quoted("c", f"{c.n_fit.iloc[0]} columns fitted ({len(below)} of {len(c)} censored below: "
                f"τ ≤ {below.tau.max():.1f})")
    quoted("c", f"T_max {c[c.value == 6].T_max.iloc[0]:.0f}")
    wide = pd.read_csv(ref / "quick-c-N128-partial" / "points.csv")
    assert wide[(wide.mu_b == 6) & (wide["T"] == 621)].train_acc.mean() > 0.2
    quoted("c", f"probe R² {probe.r2['c']:.2g}, N = 128".replace("-", "−"))
    quoted("c", f"written whole it follows τ (R² {gate.r2['c']:.2f}, N = 128)")
    # (e) the shallow slope, the width-capped initial memory, the written image and training against it
    quoted("e", f"free slope {slope['e']:.2f}")
    quoted("e", f"probe R² {probe.r2['e']:.2g}, N = 128".replace("-", "−"))
    quoted("e", f"R² {gate.r2['e']:.2f}, slope {gate.slope['e']:.2f}, N = 128")
    ratio = versus_trained(written, b, 32).query("panel == 'e'").trained_over_probe
    quoted("e", f"{ratio.min():.2f}–{ratio.max():.2g}× of it (N = 32)")
    # (g) tau's span against T_max's precision, the fall, the written state's variance against Q*
    g = b[b.panel == "g"]
    quoted("g", f"τ spans {g.tau.min():.0f}–{g.tau.max():.0f} "
                f"(±{100 * (g.tau.max() - g.tau.min()) / (g.tau.max() + g.tau.min()):.0f} %)")
    assert (g.within_1p5 == 1.0).all() and "all 7 columns" in text["g"] and len(g) == 7
    quoted("g", f"×{g.T_max.max() / g.T_max.min():.1f} fall")
    w = written[(written.panel == "g") & (written.hidden == 32)].sort_values("value")
    q = minimal.Q_star(w.sigma_w.iloc[0], w.sigma_v.iloc[0], w.R.iloc[0], mu_b=6.0).Q_star
    quoted("g", f"state variance {w.R.iloc[0]:.2f} ≫ Q* = {q:.2g}")
    assert w.censored.iloc[0] == "above" and w.T_max.iloc[0] == 1000
    quoted("g", f"from ≥ 1,000 to {w.T_max.iloc[-1]:.0f} (N = 32)")


def test_the_cpu_reasons_numbers_are_the_reference_folders():
    """Issue 16: every number of the profile-cpu reasons (panels a, e, g miss R² ≥ 0.8 there, c passes), read back
    from the claim-making run and the checks beside it: read-out alone, Adam's drift, batch 600, the written network."""
    import numpy as np
    import pandas as pd

    from experiments.claims import FIG2_REASONS
    from experiments.depth_search import r2_bracket
    from experiments.report import REFERENCE_DIR

    ref = REFERENCE_DIR / "trainability"
    assert {p for p, profile in FIG2_REASONS if profile == "cpu"} == {"a", "e", "g"}
    text = {p: FIG2_REASONS[(p, "cpu")].text for p in "aeg"}

    def quoted(panel, s):
        assert s in text[panel], (panel, s)

    b = pd.read_csv(ref / "cpu" / "boundary.csv")
    assert b.groupby("panel").r2.first().ge(0.8).to_dict() == {"a": False, "c": True, "e": False, "g": False}
    col = {p: g.set_index("value") for p, g in b.groupby("panel")}
    # (a) read-out alone against every weight trained, Adam's drift at σ_w = 0.5, the free slope, the probe
    ro = pd.read_csv(ref / "cpu-profile" / "readout-a" / "boundary.csv").set_index("value")
    assert (ro.censored[0.5], ro.censored[1.0], ro.T_lo[1.5] < 10 or ro.censored[1.5]) == ("below", "below", "none")
    quoted("a", f"T_max is < 10, < 10, {ro.T_max[1.5]:.0f} at σ_w = 0.5, 1, 1.5 against "
                f"{col['a'].T_max[0.5]:.0f}, {col['a'].T_max[1.0]:.0f}, {col['a'].T_max[1.5]:.0f}")
    drift = next(x for x in (ref / "weight_drift.txt").read_text().splitlines()
                 if x.startswith("cpu N 128 panel a sigma_w 0.5 "))
    quoted("a", f"top singular value from {drift.split('top singular value ')[1].split(' -> ')[0]} to "
                f"{drift.split('top singular value ')[1].split(' -> ')[1].split(',')[0]}")
    quoted("a", f"×{float(drift.split('image input rms x')[1].split(',')[0]):.1f}")
    assert "sigma_w_eff 0.50 -> 0.51" in drift or "sigma_w_eff 0.50 -> 0.50" in drift
    fit = b[(b.panel == "a") & (b.censored == "none")]
    quoted("a", f"free slope {np.polyfit(np.log(fit.tau), np.log(fit.T_max), 1)[0]:.2f}")
    probe = pd.read_csv(ref / "probe" / "paper-N128" / "fit.csv").set_index("panel")
    quoted("a", f"probe R² {probe.r2['a']:.2f}, N = 128")
    # (e) R²'s range over the brackets, the early fall, the written network, batch 600 against 32
    e = b[b.panel == "e"]
    lo, hi = r2_bracket(e.tau.to_numpy(), e.T_lo.to_numpy(), e.T_hi.to_numpy())
    quoted("e", f"R² {e.r2.iloc[0]:.2f} is within T_max's precision of the bound ({lo:.2f} to {hi:.2f} over")
    assert lo < 0.8 < hi
    for v in e.value.iloc[[3, 4]]:
        quoted("e", f"{col['e'].T_max[v] / col['e'].tau[v]:.1f}τ")
    quoted("e", f"σ_w = {e.value.iloc[3]:.1f}, {e.value.iloc[4]:.1f}")
    written = pd.read_csv(ref / "probe" / "open-gate-N128-ce" / "tmax.csv").query("panel == 'e'")
    w = written[(written.sigma_w > 3) & (written.sigma_w < 6)]
    quoted("e", f"N = 128: {w.T_max.iloc[0]:.0f} → {w.T_max.iloc[1]:.0f} while τ goes {w.tau.iloc[0]:.0f} → "
                f"{w.tau.iloc[1]:.0f}")
    big = pd.read_csv(ref / "cpu-profile" / "batch600-e" / "boundary.csv")
    ratios = [t / col["e"].T_max[min(col["e"].index, key=lambda c, v=v: abs(c - v))]
              for v, t in zip(big.value, big.T_max, strict=True)]
    quoted("e", f"×{ratios[0]:.2f} and ×{ratios[1]:.2f} at τ = {big.tau.iloc[0]:.0f} and {big.tau.iloc[1]:.1f}")
    assert (big.censored == "none").all() and len(big) == 2
    # (g) τ's span, the columns within 1.5×, the fall
    g = b[b.panel == "g"]
    quoted("g", f"τ spans {g.tau.min():.0f}–{g.tau.max():.0f} "
                f"(±{100 * (g.tau.max() - g.tau.min()) / (g.tau.max() + g.tau.min()):.0f} %)")
    assert (g.within_1p5 == 1.0).all() and f"all {len(g)} columns" in text["g"]
    quoted("g", f"×{g.T_max.max() / g.T_max.min():.1f} ({g.T_max.max():.0f} → {g.T_max.min():.0f})")


def test_gated_trainability_rows_judge_each_cell_and_leave_fig2_to_the_papers_panels(tmp_path):
    """Beyond the paper (issue 19): a run of panels i-p fills the GRU and LSTM rows with Fig. 2's tolerances, names a
    panel whose τ is flat, and is not taken for the paper's Fig. 2."""
    from experiments.config import compose_config, to_yaml
    from experiments.depth_search import BOUNDARY_COLUMNS

    run = tmp_path / "results" / "trainability" / "quick-gated"
    fits = {"i": (2.0, 0.93, [2.0, 20.0]), "j": (1.5, 0.5, [2.0, 20.0]), "k": (3.0, 0.85, [5.0, 5.5]),
            "m": (2.5, 0.6, [1.0, 30.0]), "o": (4.0, 0.9, [3.0, 9.0])}
    rows = [{"panel": p, "value": v, "tau": tau, "k": k, "r2": r2, "rho": 0.9 if p != "o" else 0.2,
             "within_1p5": 1.0, "n_fit": 3, "censored": "none"}
            for p, (k, r2, taus) in fits.items() for v, tau in enumerate(taus)]
    append_rows(run / "boundary.csv", rows, [c for c in BOUNDARY_COLUMNS if c in rows[0]])
    cfg = compose_config("trainability", ["profile=quick", "panels=[i,j,k,l,m,n,o,p]"])
    (run / "config.yaml").write_text(to_yaml(cfg))
    (run / "meta.json").write_text('{"status": "done", "profile": "quick", "end_time": "2026-01-01T00:00:00+00:00"}')
    lines = write_report(tmp_path / "results").read_text().splitlines()
    gru_depth, gru_rank, lstm_depth, lstm_rank = (x for x in lines if x.startswith("| Fig. 2 GRU") or
                                                  x.startswith("| Fig. 2 LSTM"))
    assert "(i) k=2, R²=0.93" in gru_depth and "(j) k=1.5" in gru_depth and "**PASS**" in gru_depth  # i, k ≥ 0.8
    assert "(k) k=3, R²=0.85, 100% within 1.5×, 3 fitted, τ spread ×1.1 (τ flat" in gru_depth
    assert "**PASS**" in gru_rank and "R² below 0.8: m" in lstm_depth and "**FAIL**" in lstm_depth
    assert "(o) ρ=0.2" in lstm_rank and "**FAIL**" in lstm_rank
    fig2 = next(x for x in lines if x.startswith("| Fig. 2 |"))
    # a gated-only run does not answer the paper's Fig. 2: ours at profile cpu does, with no "yours" beside it
    assert "(ours: results/reference/trainability/cpu)" in fig2 and "yours" not in fig2
    assert any(x.startswith("Settings: torch's gate equations, N = 32") for x in lines)


def test_gated_trainability_rows_fall_back_to_our_reference_run(tmp_path, monkeypatch):
    """Without a run of the user's, ours (results/reference/trainability/gated-quick, kept in the repository) answers
    the GRU/LSTM Fig. 2 rows, and the command column says so; with no reference either, they are MISSING."""
    from experiments import report

    lines = write_report(tmp_path / "results").read_text().splitlines()
    gru_depth, _, lstm_depth, _ = (x for x in lines if x.startswith(("| Fig. 2 GRU", "| Fig. 2 LSTM")))
    assert "(i) k=3.72, R²=0.983" in gru_depth and "**PASS**" in gru_depth  # the reference quick run's boundary.csv
    assert "R² below 0.8: m" in lstm_depth and "**FAIL**" in lstm_depth
    assert "(ours: results/reference/trainability/gated-quick)" in gru_depth
    monkeypatch.setattr(report, "REFERENCE_DIR", tmp_path / "no-reference")
    lines = write_report(tmp_path / "results").read_text().splitlines()
    assert all("**MISSING**" in x for x in lines if x.startswith(("| Fig. 2 GRU", "| Fig. 2 LSTM")))


def test_fig2_is_judged_on_a_cpu_run_before_a_quick_one_and_says_so(tmp_path):
    """Profile cpu (Fig. 2's claim-making sizes for a 2-core CPU) outranks quick and is graded like it, labelled with
    its profile; a newer quick run does not displace it."""
    from experiments.config import compose_config, to_yaml
    from experiments.depth_search import BOUNDARY_COLUMNS

    for profile, r2, end in (("cpu", 0.86, "2026-01-01"), ("quick", 0.5, "2026-02-01")):
        run = tmp_path / "results" / "trainability" / f"{profile}-test"
        rows = [{"panel": p, "value": v, "k": 2.0, "r2": r2 if p != "c" else 0.7, "rho": 0.9, "within_1p5": 1.0,
                 "n_fit": 6, "censored": "none"} for p in "aceg" for v in (1.0, 2.0)]
        append_rows(run / "boundary.csv", rows, [c for c in BOUNDARY_COLUMNS if c in rows[0]])
        (run / "config.yaml").write_text(to_yaml(compose_config("trainability", [f"profile={profile}"])))
        (run / "meta.json").write_text(f'{{"status": "done", "profile": "{profile}", '
                                       f'"end_time": "{end}T00:00:00+00:00"}}')
    text = write_report(tmp_path / "results").read_text()
    assert _panel_line(text, "a") == "- (a) profile cpu: k = 2, R² = 0.86, ρ = 0.9, 6 columns fitted: **PASS**"
    assert _panel_line(text, "c") == ("- (c) profile cpu: k = 2, R² = 0.7, ρ = 0.9, 6 columns fitted: **FAIL**. "
                                      "Reason: none measured at profile cpu")  # ours passes c at cpu: no reason
    line = next(x for x in text.splitlines() if "the trainable depth follows τ" in x)
    assert "profile cpu: (a) k=2, R²=0.86" in line and "R² below 0.8: c" in line and "**FAIL**" in line
    assert "(ours" not in line  # the user's own cpu run is graded, not ours
    assert next(x for x in text.splitlines() if x.startswith("Settings: N = 128"))


def test_fig2_is_graded_on_ours_at_profile_cpu_when_the_user_has_only_a_quick_run_and_shows_theirs_beside(tmp_path):
    """Issue 16: the claim-making run kept in the repository (results/reference/trainability/cpu) grades Fig. 2 when
    the user's own runs are less faithful (quick) or absent; the user's quick numbers stay on the page beside it."""
    import shutil

    import pandas as pd

    from experiments.report import REFERENCE_DIR

    ours = pd.read_csv(REFERENCE_DIR / "trainability" / "cpu" / "boundary.csv").groupby("panel").first()
    text = write_report(tmp_path / "empty").read_text()  # no run of the user's: ours, not MISSING
    line = next(x for x in text.splitlines() if "the trainable depth follows τ" in x)
    assert f"profile cpu (ours): (a) k={ours.k['a']:.3g}, R²={ours.r2['a']:.3g}" in line
    assert "(ours: results/reference/trainability/cpu)" in line and "--quiet" not in line and "yours" not in line
    assert line.count("**FAIL**") == 1 and "R² below 0.8: a, e, g" in line  # c at 0.98 is the panel that passes
    assert _panel_line(text, "c", "cpu").startswith(f"- (c) profile cpu (ours): k = {ours.k['c']:.3g}, R² = "
                                                    f"{ours.r2['c']:.3g}")
    assert "**PASS**" in _panel_line(text, "c", "cpu") and "Run `../reference/trainability/cpu`" not in text
    rank = next(x for x in text.splitlines() if "T_max ranks like τ (tied and untied)" in x)
    assert "(a) ρ=0.73" in rank and "**INFO**" in rank and "not graded: no tied panel in this run" in rank

    run = tmp_path / "results" / "trainability" / "quick"
    run.mkdir(parents=True)
    for name in ("boundary.csv", "meta.json", "config.yaml"):
        shutil.copy(REFERENCE_DIR / "trainability" / "quick" / name, run / name)
    text = write_report(tmp_path / "results").read_text()
    line = next(x for x in text.splitlines() if "the trainable depth follows τ" in x)
    assert "profile cpu (ours): (a)" in line and "yours, profile quick: (a) R²=-10.1, (c) R²=0.799" in line
    assert "Your run `trainability/quick` (profile quick; the claims above are graded on ours" in text
    assert _panel_line(text, "e", "cpu").startswith("- (e) profile cpu (ours)")
    assert _panel_line(text, "e", "quick").startswith("- (e) profile quick: k = 3.85")
    rank = next(x for x in text.splitlines() if "T_max ranks like τ (tied and untied)" in x)  # the tied panels: yours
    assert "(h) ρ=-0.27 (τ flat: ×1.1" in rank and "**FAIL**" in rank and "(ours:" not in rank
    assert "(g) ρ=0.98 (τ flat: ×1.1" in rank and "(e) ρ=0.99;" in rank  # τ spans < ×1.2 in g and h only
