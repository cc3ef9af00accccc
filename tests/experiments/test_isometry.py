"""`rnnmf isometry` end to end at profile=smoke: the exact CSV columns and figures, resumption after an interruption
(identical to an uninterrupted run), bad input rejected before any folder exists, and (slow) the acceptance check
that the untied vanilla RNN's measured variance follows the derived slope and not eq. 12's."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import experiments.isometry as iso
from cli.main import app
from experiments.figures import isometry as figure
from experiments.runner import execute
from rnnmf.errors import InfeasibleError, RnnmfError
from rnnmf.io import read_rows

SPECTRA = [
    "cell", "init", "weights", "tying", "mu_b", "hidden", "networks", "T", "sigma_w", "sigma_v", "sigma_b", "R",
    "h0_var", "chi_1", "mean", "mean_se", "m2", "m2_se", "var", "var_se", "nvar", "nvar_se", "theory_mean",
    "theory_var", "theory_nvar", "theory_nvar_N", "finite_N_shift", "theory_nvar_free", "eq12_m2", "eq12_var",
    "eq12_nvar", "z_mean", "z_nvar", "z_nvar_inf", "z_nvar_free", "z_nvar_eq12", "z_m2_eq12", "s_min", "s_q05",
    "s_q25", "s_median", "s_q75", "s_q95", "s_max", "seed", "status", "wall_s",
]
DENSITY = ["cell", "init", "weights", "tying", "mu_b", "hidden", "T", "bin", "log10_s_lo", "log10_s_hi", "density",
           "count"]
SLOPES = ["cell", "init", "weights", "tying", "mu_b", "hidden", "networks", "T_min", "T_max", "slope", "slope_se",
          "slope_theory", "slope_theory_N", "finite_N_shift", "slope_free", "slope_eq12", "slope_theory_asymptotic",
          "z_slope", "z_slope_inf", "z_slope_eq12", "seed", "wall_s"]
SMALL = ["profile=smoke", "run.quiet=true", "cells=[vanilla]", "weights=[gaussian]", "hidden=[8]", "T=[1,3]",
         "density.T=[3]", "density.bins=5"]


def test_smoke_end_to_end(tmp_path):
    summary, path = execute("isometry", ["profile=smoke", "run.quiet=true"], out=tmp_path / "run")
    sp, dn, sl = (read_rows(path / f) for f in ("spectra.csv", "density.csv", "slopes.csv"))
    assert list(sp.columns) == SPECTRA and list(dn.columns) == DENSITY and list(sl.columns) == SLOPES
    # smoke grid: minimal critical (mu_b 0, 4) + 3 other (cell, init) pairs, x 2 weights x 2 tyings x 2 widths
    n_cond = (2 + 3) * 2 * 2 * 2
    assert len(sl) == n_cond and len(sp) == n_cond * 3 and len(dn) == n_cond * 12
    assert not sp.duplicated(iso.KEY).any()
    assert set(sp["networks"]) == {4, 8}  # 4 at N = 16, 8 at N = 8 (equal units per width)
    assert (sp["status"] == "ok").all()
    np.testing.assert_allclose(sp["theory_mean"], sp["chi_1"] ** sp["T"], rtol=1e-9)
    crit = sp[sp["init"] == "critical"]
    np.testing.assert_allclose(crit["chi_1"], 1.0, atol=1e-8)
    assert (sp[sp["init"] == "off_critical"]["chi_1"] < 0.7).all()
    np.testing.assert_allclose(sp["var"], sp["m2"] - sp["mean"] ** 2, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sp["nvar"], sp["var"] / sp["mean"] ** 2, rtol=1e-9)
    np.testing.assert_allclose(sp["eq12_nvar"], sp["eq12_var"] / sp["theory_mean"] ** 2, rtol=1e-9)
    # the width-N theory sits above the N -> infinity one for these critical networks (positive 1/N terms)
    assert (crit["theory_nvar_N"] >= crit["theory_nvar"] - 1e-12).all()
    np.testing.assert_allclose(sp["finite_N_shift"], sp["theory_nvar_N"] / sp["theory_nvar"] - 1, rtol=1e-9, atol=1e-12)
    assert (sp["s_min"] <= sp["s_median"]).all() and (sp["s_median"] <= sp["s_max"]).all()
    dens = dn.groupby(list(iso.KEY)).apply(lambda d: float((d["density"] * (d["log10_s_hi"] - d["log10_s_lo"])).sum()))
    np.testing.assert_allclose(dens.to_numpy(), 1.0, rtol=1e-9)
    for name in ("density", "variance"):
        assert (path / f"{name}.png").stat().st_size > 10_000 and (path / f"{name}.pdf").exists()
    note = (path / "note.md").read_text()
    assert "eq. 12" in note and "Tied weights" in note and "Finite N" in note
    assert summary["conditions"] == n_cond and summary["hidden"] == 16
    assert set(summary) >= {"untied_mean_within_3se", "critical_rows_trusted", "critical_nvar_within_3se",
                            "critical_nvar_eq12_within_3se",
                            "critical_slope_within_3se", "tied_over_untied_nvar_median", "wall_s"}
    cond = read_rows(path / "conditions.csv")  # the grid, and the mu_b of the critical minimalRNN the panels show
    assert len(cond) == n_cond and set(cond[cond["shown"]].cell) == {"minimal", "vanilla"}
    assert set(cond[cond["shown"] & (cond["cell"] == "minimal") & (cond["init"] == "critical")].mu_b) == {4.0}
    assert figure.shown_mu_b(path, sp) == 4.0  # the config's minimal.mu_b_ref, not the median 2.0 of [0, 4]
    # the figures are drawn from the CSVs only: delete and redraw without the config
    for f in path.glob("*.png"):
        f.unlink()
    (path / "config.yaml").unlink()
    figure.plot(path)
    assert (path / "density.png").exists() and (path / "variance.png").exists()


def _tables(path):
    out = []
    for name, key in (("spectra.csv", list(iso.KEY)), ("density.csv", [*iso.KEY, "bin"]),
                      ("slopes.csv", list(iso.COND))):
        df = read_rows(path / name).drop(columns=["wall_s"], errors="ignore")
        out.append(df.sort_values(key).reset_index(drop=True))
    return out


def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    monkeypatch.setattr(figure, "plot", lambda *a, **k: [])  # figures are tested above; here only the rows matter
    _, ref = execute("isometry", SMALL, out=tmp_path / "ref")
    real = iso.append_rows
    calls = {"n": 0}

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 5:  # spectra rows of condition 1, its density rows, its slope row, then 2 rows of the next
            raise KeyboardInterrupt("injected after 5 appends")
        return real(*args, **kwargs)

    monkeypatch.setattr(iso, "append_rows", dying)
    with pytest.raises(KeyboardInterrupt):
        execute("isometry", SMALL, out=tmp_path / "cut")
    partial = read_rows(tmp_path / "cut" / "spectra.csv")
    assert 0 < len(partial) < len(read_rows(ref / "spectra.csv"))
    monkeypatch.setattr(iso, "append_rows", real)
    execute("isometry", SMALL, out=tmp_path / "cut")
    execute("isometry", SMALL, out=tmp_path / "cut")  # a third run finds everything done and adds nothing
    for a, b in zip(_tables(ref), _tables(tmp_path / "cut"), strict=True):
        pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("override,error,fragment", [
    ("cells=[gru]", RnnmfError, "cells=['gru'] is invalid ('gru' is not); valid: a non-empty list from minimal, "
                                "vanilla"),
    ("tying=[]", RnnmfError, "tying=[] is invalid"),
    ("density.T=[7]", RnnmfError, "density.T=[7] is invalid; valid: steps listed in T"),
    ("minimal.mu_b_ref=3.0", RnnmfError, "minimal.mu_b_ref=3.0 is invalid; valid: one of minimal.mu_b"),
    ("networks=1", RnnmfError, "networks=1 is invalid; valid: an integer >= 2"),
    ("R=-0.5", RnnmfError, "R=-0.5 is invalid; valid: a finite number > 0"),
    ("minimal.q_star=1.0", InfeasibleError, "no critical initialisation"),
])
def test_bad_input_raises_before_any_folder_exists(tmp_path, override, error, fragment):
    with pytest.raises(error) as info:
        execute("isometry", ["profile=smoke", override], out=tmp_path / "run")
    assert fragment in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()


def test_cli_bad_input_is_one_line_exit_2(tmp_path):
    result = CliRunner().invoke(app, ["isometry", "profile=smoke", "weights=[haar]"])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "weights=['haar'] is invalid" in lines[0]
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_untied_vanilla_follows_the_derived_slope_not_eq12(tmp_path):
    """Critical vanilla RNN (q* = 0.5), untied Gaussian W, N = 128, 96 networks, T up to 10: the measured slope of
    var/mean² is within 3 jackknife standard errors of Pennington et al.'s E[φ'⁴]/E[φ'²]² − 1 − s1 = 1.30 and more
    than 5 away from the 2.30 of eq. 12 (whose 2(μ1 − s1)μ2 counts −s1 twice)."""
    over = ["profile=smoke", "run.quiet=true", "cells=[vanilla]", "inits=[critical]", "weights=[gaussian]",
            "tying=[untied]", "hidden=[128]", "networks=96", "T=[1,2,5,10]", "density.T=[10]"]
    _, path = execute("isometry", over, out=tmp_path / "run")
    sl = read_rows(path / "slopes.csv").iloc[0]
    assert sl["slope_theory"] == pytest.approx(1.2992, abs=1e-3) and sl["slope_eq12"] == pytest.approx(2.2992, abs=1e-3)
    assert abs(sl["z_slope"]) <= 3 and abs(sl["z_slope_eq12"]) > 5, sl.to_dict()
    sp = read_rows(path / "spectra.csv")
    assert (sp["z_mean"].abs() <= 3).all() and (sp["z_nvar"].abs() <= 3).all(), sp[["T", "z_mean", "z_nvar"]]
    assert (sp["z_nvar_eq12"].abs() > 3).all()
    assert math.isclose(sp["theory_var"].iloc[-1], 1.2992 * 10, rel_tol=1e-3)
