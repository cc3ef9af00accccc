"""Fig. 2 at initialisation (job memory_probe): the CLI end to end on a tiny synthetic MNIST, bad input, resuming,
and the fit, which must be the trainability job's own."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from experiments import depth_search
from experiments import memory_probe as mp
from experiments import trainability as tr
from experiments.settings.memory_probe import panel_view
from rnnmf.data import clear_cache
from rnnmf.io import read_json, read_rows
from tests.experiments.test_trainability import write_blocks_mnist

runner = CliRunner()


@pytest.fixture
def blocks(tmp_path):
    clear_cache()
    yield write_blocks_mnist(tmp_path / "data", n_train=60, n_test=30)
    clear_cache()


def test_smoke_run_writes_its_csvs_and_resumes(blocks, tmp_path):
    out = tmp_path / "run"
    args = ["sweep", "memory-probe", "profile=smoke", f"data.root={blocks}", "--out", str(out), "--quiet"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    tmax, curves, fit = (read_rows(out / f) for f in ("tmax.csv", "curves.csv", "fit.csv"))
    # profile smoke: panels a, c, e, g with 2 columns each, one width, one seed; depths 1..6 on a ratio-1.5 grid
    assert len(tmax) == 8 and set(tmax["panel"]) == {"a", "c", "e", "g"} and set(tmax["hidden"]) == {4}
    assert len(curves) == 8 * len(mp._depths(_cfg(blocks)))
    assert len(fit) == 4 and set(tmax["censored"]) <= {"none", "above", "below"}
    assert np.all((curves["acc"] >= 0) & (curves["acc"] <= 1))
    # tau comes from the trainability job's columns (the same hyper-parameters as Fig. 2)
    cols = {(c["panel"], c["sigma_w"], c["mu_b"]): c["tau"] for c in tr.grid_columns(panel_view(_cfg(blocks)))}
    for r in tmax.to_dict("records"):
        assert r["tau"] == pytest.approx(cols[(r["panel"], r["sigma_w"], r["mu_b"])], rel=1e-12)
    before = (out / "tmax.csv").read_text()
    res = runner.invoke(app, args)  # the same command resumes: nothing to measure, the same rows
    assert res.exit_code == 0 and read_json(out / "meta.json")["summary"]["ran"] == 0
    assert (out / "tmax.csv").read_text() == before


def _cfg(root):
    from experiments.runner import prepare

    return prepare("memory_probe", ["profile=smoke", f"data.root={root}"])[1]


@pytest.mark.parametrize("args, fragment", [
    (["probe.threshold=2"], "probe.threshold=2 is invalid"),
    (["widths=[0]"], "widths=[0] is invalid"),
    (["grid.T.ratio=1"], "grid.T.ratio=1 is invalid"),
    (["--panels", "z"], "panels=['z'] is invalid"),
    (["--panels", "i"], "panels=['i'] is invalid ('i' is not); valid: a non-empty list from a, b, c, d, e, f, g, h"),
    (["grid.T.start=9", "grid.T.stop=3"], "grid.T="),
    (["init.open_first_gate=true"], "init.open_first_gate=true with panels"),
])
def test_bad_settings_fail_in_one_line_before_any_work(blocks, tmp_path, args, fragment):
    out = tmp_path / "bad"
    res = runner.invoke(app, ["sweep", "memory-probe", "profile=smoke", f"data.root={blocks}", "--out", str(out),
                              *args])
    assert res.exit_code == 2, res.output
    assert fragment in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_the_fit_is_the_trainability_jobs_and_reads_a_proportional_law_exactly():
    assert mp.fit_k is depth_search.fit_k
    tau = np.array([1.0, 2.0, 5.0, 20.0, 80.0])
    rows = [{"panel": "a", "cell": "vanilla", "weights": "untied", "hidden": 32, "seed": 0, "tau": t,
             "T_max": 3.0 * t, "censored": "none", "T_max_logistic": 3.3 * t} for t in tau]
    rows.append({**rows[0], "tau": 200.0, "T_max": 160.0, "censored": "above", "T_max_logistic": math.nan})
    fit = mp.fit_table(pd.DataFrame(rows)).iloc[0]
    assert fit["k"] == pytest.approx(3.0, rel=1e-12) and fit["r2"] == pytest.approx(1.0, abs=1e-12)
    assert fit["slope"] == pytest.approx(1.0, rel=1e-9) and fit["rho"] == pytest.approx(1.0)
    assert fit["n_fit"] == 5 and fit["n_above"] == 1 and fit["within_1p5"] == 1.0
    assert fit["k_logistic"] == pytest.approx(3.3, rel=1e-12) and fit["median_ratio_logistic"] == pytest.approx(1.1)


def test_versus_trained_puts_each_columns_probe_and_trained_depth_side_by_side():
    tmax = pd.DataFrame([{"panel": "c", "value": 4.0, "hidden": 32, "tau": 6.0, "T_max": 8.0, "censored": "none"},
                         {"panel": "c", "value": 6.0, "hidden": 32, "tau": 130.0, "T_max": 6.0, "censored": "none"},
                         {"panel": "c", "value": 6.0, "hidden": 64, "tau": 130.0, "T_max": 12.0, "censored": "none"}])
    boundary = pd.DataFrame([{"panel": "c", "value": 4.0, "T_max": 28.0, "censored": "none"},
                             {"panel": "c", "value": 6.0, "T_max": 260.0, "censored": "none"},
                             {"panel": "c", "value": 8.0, "T_max": math.nan, "censored": "above"}])
    v = mp.versus_trained(tmax, boundary, 32).set_index("value")
    assert list(v.index) == [4.0, 6.0] and set(v["hidden"]) == {32}
    assert v.loc[6.0, "trained_over_probe"] == pytest.approx(260 / 6) and v.loc[4.0, "probe_over_tau"] == 8 / 6
