"""The gated Fig. 1 job (`rnnmf mf-vs-mc --cell gru|lstm`, job gated_mf_vs_mc) at profile smoke."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from typer.testing import CliRunner

import experiments.gated_mf_vs_mc as job
from cli.main import app
from experiments.claims import BY_ID
from experiments.config import compose_config, hashed_view
from experiments.figures import gated as figure
from experiments.runner import execute
from experiments.settings import for_job
from rnnmf.errors import RnnmfError
from rnnmf.io import read_rows

SMOKE = ["profile=smoke", "run.quiet=true"]


@pytest.mark.slow
def test_gru_smoke_writes_every_csv_and_the_figure_and_resumes(tmp_path, monkeypatch):
    summary, out = execute("gated_mf_vs_mc", [*SMOKE, "cell=gru"], out=tmp_path / "run")
    cfg = compose_config("gated_mf_vs_mc", [*SMOKE, "cell=gru"])
    points = job.grid(cfg)
    dyn = read_rows(out / "dynamics.csv")
    assert list(dyn.columns) == job.DYNAMICS and len(dyn) == len(points) * int(cfg.schedule.steps) * 3
    assert dyn.c.between(-1, 1).all() and (dyn[dyn.source == "theory"].c_se == 0).all()
    for name, (columns, _) in job.FILES.items():
        if name != "critical.csv":  # smoke skips the critical check (tested below)
            assert list(read_rows(out / name).columns) == columns, name
    jac = read_rows(out / "jacobian.csv")
    assert len(jac) == len(points) * 2 * len(cfg.jacobian.T) and (jac.theory > 0).all()
    assert (out / "gated.png").stat().st_size > 1000
    assert summary["points_computed"] == len(points) and "jacobian_untied_within_3se" in summary
    calls = []
    monkeypatch.setattr(job, "point_rows", lambda *a: calls.append(a) or {})
    assert execute("gated_mf_vs_mc", [*SMOKE, "cell=gru"], out=tmp_path / "run")[0]["points_computed"] == 0
    assert calls == []
    (out / "gated.png").unlink()
    (out / "config.yaml").unlink()
    figure.plot(out)  # from the CSVs alone
    assert (out / "gated.png").exists()


@pytest.mark.slow
def test_lstm_smoke(tmp_path):
    summary, out = execute("gated_mf_vs_mc", [*SMOKE, "cell=lstm"], out=tmp_path / "run")
    assert set(read_rows(out / "fixed_points.csv").source) == {"theory", "mc_untied", "mc_tied"}
    assert summary["points_computed"] == 2


def _critical_rows(**columns):
    """critical.csv rows as the job writes them: two biases, the given columns varying (lists), the rest fixed."""
    base = dict(sigma_w=3.7, chi_1=1.0, roundtrip_error=1e-15, Q_star=0.12, hidden=1024, weights="orthogonal",
                one_step=0.99, one_step_untied=1.004, growth=1.03, theory_growth=1.0, calibration_evaluations=4,
                chi_1_calibrated_se=0.004)
    return pd.DataFrame([base | {k: v[i] for k, v in columns.items()} for i in range(2)])


def test_critical_summary_says_what_was_measured():
    """The report's rows from critical.csv: the untied networks' one step (the theory's claim), torch's tied module's
    own chi_1 at the theory's sigma_w (INFO), and the calibrated module, where a bias whose calibration bracketed
    no crossing of chi_1 = 1 fails (inf) whatever chi_1 it reached (here 0.979: E[z^2] of a GRU at mu_z = 5)."""
    cr = _critical_rows(bias=[2.0, 5.0], one_step_untied=[1.004, 0.987], chi_1_module=[1.038, 1.168],
                        calibrated_scale=[0.898, 3e-5], chi_1_calibrated=[0.995, 0.979],
                        calibration_converged=[True, False])
    s = job.summarize_critical(cr)
    assert s["critical_one_step_untied_max_dev"] == pytest.approx(0.013, abs=1e-12)
    assert s["critical_chi_1_module"] == [1.038, 1.168]
    assert s["critical_chi_1_module_max_dev"] == pytest.approx(0.168, abs=1e-12)
    assert s["critical_calibration_failed_biases"] == [5.0] and s["critical_calibrated_max_dev"] == math.inf
    assert BY_ID["gru.calibrated"].verdict(s["critical_calibrated_max_dev"]) == "FAIL"
    assert BY_ID["gru.module"].verdict(s["critical_chi_1_module_max_dev"]) == "INFO"
    assert BY_ID["lstm.module_untied"].verdict(s["critical_one_step_untied_max_dev"]) == "PASS"
    cr["calibration_converged"] = [True, True]  # read back from a CSV: the strings "True"
    cr = cr.astype({"calibration_converged": str})
    assert job.summarize_critical(cr)["critical_calibrated_max_dev"] == pytest.approx(0.021, abs=1e-12)
    # a run from before the bracketed search (no calibration_converged column) is not judged on its calibration
    old = job.summarize_critical(cr.drop(columns="calibration_converged"))
    assert "critical_calibrated_max_dev" not in old and old["critical_chi_1_calibrated"] == [0.995, 0.979]


def test_critical_rows_round_trip_and_measure_torchs_module():
    cfg = compose_config("gated_mf_vs_mc", [*SMOKE, "cell=gru", "critical.bias=[2.0]", "critical.hidden=48",
                                            "critical.burn_in=10", "critical.steps=4", "critical.batch=2"])
    (row,) = job.critical_rows(cfg)
    assert row["roundtrip_error"] < 1e-8 and row["chi_1"] == pytest.approx(1.0, abs=1e-8)
    assert row["one_step"] > 0 and row["growth"] > 0 and row["hidden"] == 48


@pytest.mark.parametrize("override,fragment", [
    ("cell=rnn", "cell='rnn' is invalid; valid: one of gru, lstm"), ("sigma_w=[-1.0]", "sigma_w=[-1.0] is invalid"),
    ("lstm.mu_f=1.0", "unknown config key"), ("schedule.switch=50", "schedule.switch=50"),
    ("jacobian.T=[0]", "jacobian.T=[0] is invalid"), ("critical.weights=uniform", "critical.weights='uniform'"),
])
def test_bad_values_are_rejected_before_a_folder_exists(tmp_path, override, fragment):
    with pytest.raises(RnnmfError, match=fragment.replace("[", r"\[")):
        execute("gated_mf_vs_mc", [*SMOKE, override], out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_profiles_compose_and_validate(profile):
    for cell in ("gru", "lstm"):
        cfg = compose_config("gated_mf_vs_mc", [f"profile={profile}", f"cell={cell}"])
        for_job("gated_mf_vs_mc").cross_check(cfg)
        assert job.grid(cfg)


def test_the_minimal_fig1_job_keeps_its_config_and_hash():
    """`rnnmf mf-vs-mc` without --cell is the paper's Fig. 1 job, unchanged: no gated key enters its config."""
    plain = hashed_view(compose_config("mf_vs_mc", ["profile=quick"]))
    assert "cell" not in plain and "gru" not in plain and plain["job"] == "mf_vs_mc"


def test_cli_cell_option_runs_the_gated_job(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(job, "run", lambda cfg, out_dir: seen.update(cell=cfg.cell, hidden=cfg.sim.hidden) or {})
    result = CliRunner().invoke(app, ["mf-vs-mc", "--cell", "lstm", "--hidden", "32", "profile=smoke", "-q",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert seen == {"cell": "lstm", "hidden": 32}
    assert "cell: lstm" in (tmp_path / "run" / "config.yaml").read_text()
