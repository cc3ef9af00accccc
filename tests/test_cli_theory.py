"""`rnnmf theory ...`: the calculators print the documented keys, agree with the library, refuse bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.app import jsonable
from cli.main import app
from rnnmf.theory import critical_minimal, minimal, vanilla

runner = CliRunner()
FIG1 = ["--sigma-w", "6.88", "--sigma-v", "1.39", "--R", "0.46"]


def run_json(*args):
    result = runner.invoke(app, ["theory", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_vanilla_json_keys_and_values():
    out = run_json("vanilla", "--sigma-w", "1.2", "--sigma-v", "0.5", "--R", "1", "--sigma12", "0.3")
    assert list(out) == ["q_star", "c_star", "chi_c_star", "chi_1", "tau"]
    assert out["q_star"] == pytest.approx(vanilla.q_star(1.2, 0.5, 1.0), rel=1e-12)
    assert out["tau"] == pytest.approx(-1 / math.log(out["chi_c_star"]), rel=1e-12)


def test_minimal_json_keys_and_fig1_criticality():
    out = run_json("minimal", *FIG1, "--mu-b", "0", "--sigma12", "1", "--T", "10", "--s1", "0")
    assert list(out) == ["Q_star", "q_star", "Q_star_stable", "xi_Q", "c_star", "chi_c_star", "chi_1", "tau", "mu1",
                         "mu2", "sigma1_sq", "sigma2_sq", "var_JJT"]
    assert out["chi_1"] == pytest.approx(1.0, abs=2e-3)  # the paper: Fig. 1's point is critical at mu_b = 0
    assert out["chi_1"] == pytest.approx(out["mu1"] + out["mu2"], rel=1e-12)  # eq. 13
    assert out["var_JJT"] == pytest.approx(minimal.var_JJT(6.88, 1.39, 0.46, mu_b=0.0, T=10, s1=0.0), rel=1e-12)


def test_human_table_is_aligned_and_complete():
    result = runner.invoke(app, ["theory", "minimal", *FIG1, "--mu-b", "2"])
    assert result.exit_code == 0
    rows = [line.split() for line in result.stdout.splitlines()]
    assert [r[0] for r in rows][:3] == ["Q_star", "q_star", "Q_star_stable"] and all(len(r) == 2 for r in rows)


def test_critical_round_trip_through_the_cli():
    out = run_json("critical", "--cell", "minimal", "--q-star", "8", "--mu-b", "4", "--R", "0.46")
    assert list(out) == ["sigma_w_sq", "sigma_v_sq", "sigma_b_sq", "Q_star", "Q_star_stable"]
    chi = minimal.chi_1(math.sqrt(out["sigma_w_sq"]), math.sqrt(out["sigma_v_sq"]), 0.46, mu_b=4.0)
    assert chi == pytest.approx(1.0, abs=1e-8)
    assert out["Q_star_stable"] is True
    assert out["Q_star"] == pytest.approx(critical_minimal(8.0, mu_b=4.0, R=0.46).Q_star, rel=1e-12)
    van = run_json("critical", "--cell", "vanilla", "--q-star", "0.5", "--R", "1")
    assert list(van) == ["sigma_w_sq", "sigma_v_sq", "sigma_b_sq"] and van["sigma_b_sq"] == 0
    assert vanilla.chi_1(math.sqrt(van["sigma_w_sq"]), math.sqrt(van["sigma_v_sq"]), 1.0) == pytest.approx(1, abs=1e-8)


def test_unstable_q_star_is_never_silent():
    result = runner.invoke(app, ["theory", "critical", "--cell", "minimal", "--q-star", "2", "--mu-b", "3.4",
                                 "--R", "0.46", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["Q_star_stable"] is False
    assert "UNSTABLE" in result.stderr


def test_infinite_tau_is_null_in_json():
    assert jsonable({"tau": float("inf"), "x": np.float64(2.0), "ok": np.bool_(True)}) == {"tau": None, "x": 2.0,
                                                                                           "ok": True}


@pytest.mark.parametrize("args,fragment", [
    (["vanilla", "--sigma-w", "-1", "--sigma-v", "1", "--R", "1"], "sigma_w"),
    (["vanilla", "--sigma-w", "nan", "--sigma-v", "1", "--R", "1"], "sigma_w"),
    (["vanilla", "--sigma-w", "1", "--sigma-v", "1", "--R", "0"], "R"),
    (["minimal", *FIG1, "--mu-b", "0", "--sigma12", "1.5"], "sigma12"),
    (["minimal", *FIG1, "--mu-b", "inf"], "mu_b"),
    (["minimal", *FIG1, "--mu-b", "0", "--T", "-1"], "T"),
    (["critical", "--cell", "vanilla", "--q-star", "0.1", "--mu-b", "1", "--R", "1"], "sigma_v^2"),
    (["critical", "--cell", "rnn", "--q-star", "1", "--R", "1"], "valid: minimal, vanilla, gru, lstm"),
    (["critical", "--cell", "minimal", "--q-star", "-1", "--R", "1"], "q_star"),
    (["minimal", *FIG1], "Missing option '--mu-b'"),
])
def test_bad_input_exits_2_with_one_line(args, fragment):
    result = runner.invoke(app, ["theory", *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr


def test_phase_job_writes_the_map_and_it_matches_point_evaluations(tmp_path):
    result = runner.invoke(app, ["theory", "phase", "--cell", "minimal", "--x", "mu_b", "--y", "sigma_w",
                                 "profile=smoke", "--out", str(tmp_path / "ph"), "-q"])
    assert result.exit_code == 0, result.output
    df = pd.read_csv(tmp_path / "ph" / "phase.csv")
    assert len(df) == 12 * 12
    assert list(df.columns) == ["cell", "sigma12", "x_name", "y_name", "x", "y", "tau", "chi_1", "chi_c_star",
                                "c_star", "q_star"]
    row = df.iloc[37]
    assert row.chi_1 == pytest.approx(minimal.chi_1(row.y, 1.39, 0.46, mu_b=row.x), rel=1e-12)
    assert row.tau == pytest.approx(minimal.tau(row.y, 1.39, 0.46, mu_b=row.x, sigma12=0.0), rel=1e-12)
    assert (tmp_path / "ph" / "phase.png").exists() and (tmp_path / "ph" / "phase.pdf").exists()


def test_phase_job_bad_axis_leaves_nothing(tmp_path):
    result = runner.invoke(app, ["theory", "phase", "--x", "depth", "profile=smoke"])
    assert result.exit_code == 2 and "x.name='depth' is invalid" in result.stderr
    assert not (tmp_path / "results").exists()
