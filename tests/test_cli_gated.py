"""The gated-cell commands (beyond the paper): `rnnmf theory gru|lstm`, `theory critical --cell gru|lstm`,
`theory phase --cell gru|lstm`, `mf-vs-mc --cell gru|lstm`: documented keys, agreement with the library, and bad
input as one stderr line with exit status 2."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from rnnmf.theory import gru, lstm

runner = CliRunner()
GRU = ["--R", "1", "--sigma-w", "2", "--sigma-v", "1", "--mu-z", "1"]


def run_json(*args):
    result = runner.invoke(app, ["theory", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_gru_calculator_keys_and_values():
    out = run_json("gru", *GRU, "--gate", "sigma_b_hn=0.3")
    assert list(out) == list(gru.SUMMARY_KEYS)
    assert out["chi_1"] == pytest.approx(gru.chi_1(R=1.0, sigma_w=2.0, sigma_v=1.0, mu_z=1.0, sigma_b_hn=0.3),
                                         rel=1e-12)
    assert out["c_star"] == 1.0 and out["tau"] == pytest.approx(-1 / math.log(out["chi_1"]), rel=1e-12)


def test_lstm_calculator_keys_and_values():
    out = run_json("lstm", "--R", "1", "--sigma-w", "2", "--sigma-v", "1", "--mu-f", "2")
    assert list(out) == list(lstm.SUMMARY_KEYS)
    assert out["chi_1"] == pytest.approx(lstm.chi_1(R=1.0, sigma_w=2.0, sigma_v=1.0, mu_f=2.0), rel=1e-12)


def test_critical_gru_round_trips_through_the_cli():
    out = run_json("critical", "--cell", "gru", "--R", "1", "--sigma-v", "1", "--mu-z", "2")
    assert out["solve_for"] == "sigma_w" and out["chi_1"] == pytest.approx(1.0, abs=1e-8)
    params = {k: v for k, v in out.items() if k.startswith(("sigma_", "mu_"))}
    assert gru.chi_1(R=1.0, **params) == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("args,fragment", [
    (["gru", "--R", "1", "--sigma-v", "1"], "sigma_w_r is not set"),
    (["gru", *GRU, "--sigma12", "2"], "sigma12 must be an input cosine similarity in [-1, 1]"),
    (["gru", *GRU, "--gate", "sigma_w_q=3"], "unknown gru hyper-parameter(s) sigma_w_q"),
    (["gru", *GRU, "--gate", "sigma_w_z"], "--gate 'sigma_w_z' is invalid; valid: NAME=NUMBER"),
    (["lstm", "--R", "1", "--sigma-w", "-1", "--sigma-v", "1"], "sigma_w_i must be a standard deviation >= 0"),
    (["lstm", "--R", "1", "--sigma-w", "1", "--sigma-v", "1", "--population", "3"], "--population 3 is invalid"),
    (["critical", "--cell", "rnn", "--R", "1", "--q-star", "1"], "valid: minimal, vanilla, gru, lstm"),
    (["critical", "--cell", "lstm", "--R", "1", "--q-star", "1"], "--q-star does not apply to cell 'lstm'"),
    (["critical", "--cell", "gru", "--R", "1", "--mu-f", "1"], "--mu-f does not apply to cell 'gru'"),
    (["critical", "--cell", "gru", "--R", "1", "--sigma-v", "1", "--solve-for", "mu_f"], "solve_for='mu_f' is invalid"),
    (["critical", "--cell", "gru", "--R", "1", "--sigma-v", "1", "--sigma-w", "0.3", "--solve-for", "mu_z"],
     "a larger sigma_w"),
    (["critical", "--cell", "minimal", "--R", "1"], "--q-star is required for cell 'minimal'"),
])
def test_bad_input_exits_2_with_one_line(args, fragment):
    result = runner.invoke(app, ["theory", *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr


def test_gated_phase_map_through_the_cli(tmp_path):
    result = runner.invoke(app, ["theory", "phase", "--cell", "gru", "--x", "mu_z", "--y", "sigma_w",
                                 "profile=smoke", "--out", str(tmp_path / "ph"), "-q"])
    assert result.exit_code == 0, result.output
    df = pd.read_csv(tmp_path / "ph" / "phase.csv")
    assert len(df) == 9 and set(df.cell) == {"gru"} and (df.sigma12 == 1.0).all()
    row = df.iloc[4]
    chi = gru.chi_1(R=1.0, sigma_v=1.0, sigma_b=0.1, sigma_w=row.y, mu_z=row.x)
    assert row.chi_1 == pytest.approx(chi, rel=1e-12)
    assert (df.chi_1 > 1).any() and df[df.chi_1 > 1].tau.isna().all()  # chaotic: left empty, by design
    ordered = df[df.chi_1 <= 1]
    assert (ordered.c_star == 1).all() and (ordered.tau - (-1 / ordered.chi_1.map(math.log))).abs().max() < 1e-9
    assert (tmp_path / "ph" / "phase.png").exists()


@pytest.mark.parametrize("args,fragment", [
    (["theory", "phase", "--cell", "gru", "--x", "mu_f", "profile=smoke"], "unknown axis 'mu_f' for cell 'gru'"),
    (["mf-vs-mc", "--cell", "rnn", "profile=smoke"], "unknown cell 'rnn'; valid: minimal, gru, lstm"),
    (["mf-vs-mc", "--cell", "gru", "profile=smoke", "model.R=-1"], "model.R=-1 is invalid"),
    (["mf-vs-mc", "--cell", "lstm", "profile=smoke", "gru.mu_z=1"], "unknown config key"),
])
def test_bad_job_input_exits_2_and_leaves_nothing(tmp_path, args, fragment):
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
