"""Fig. 3 job: critical initialisation as the theory prescribes, resumable units, CSVs and the figure."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from cli.main import app
from experiments import seqmnist as job
from experiments.config import compose_config
from experiments.figures import fig3
from experiments.runner import execute
from experiments.settings import seqmnist as seqmnist_settings
from rnnmf.errors import RnnmfError
from rnnmf.io import append_rows, read_rows
from rnnmf.nn import estimate_R


# ------------------------------------------------------------------------------------------------ config, units
def test_cells_lengths_and_units():
    cfg = compose_config("seqmnist", ["cells=[all]", "lengths=[784,196]", "n_seeds=2"])
    units = job.units(cfg)
    assert job.cells(cfg) == ["vanilla", "minimal"] and len(units) == 2 * 2 * 2 * 2 * 2
    assert units[0] == {"cell": "vanilla", "T": 784, "init": "critical", "weights": "orthogonal", "seed": 0}
    assert {u["seed"] for u in units} == {0, 1} and len({job.unit_name(u) for u in units}) == len(units)
    quick = compose_config("seqmnist", [])
    assert list(quick.lengths) == [196] and len(job.units(quick)) == 8  # the quick profile: T = 196, 8 conditions
    assert list(compose_config("seqmnist", ["profile=paper"]).lengths) == [196, 784]


@pytest.mark.parametrize("override, needle", [
    ("cells=[gru]", "cells"), ("lengths=[100]", "T=100"), ("inits=[edge]", "inits"), ("weights=[unitary]", "weights"),
    ("model.h0=ones", "model.h0"), ("train.optimizer=lbfgs", "train.optimizer"),
    ("train.lr.minimal=0", "train.lr.minimal"),
    ("train.steps=0", "train.steps"), ("target_acc=1.5", "target_acc"), ("eval.examples=0", "eval.examples"),
    ("critical.minimal.q_star=-1", "critical.minimal.q_star"), ("train.clip_grad_norm=-1", "clip_grad_norm"),
])
def test_validate_rejects_bad_values_in_one_line(override, needle):
    from experiments.runner import prepare

    with pytest.raises(RnnmfError, match="valid") as err:
        prepare("seqmnist", [override])  # the schema and the job's validate, before any folder
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_cli_bad_cell_exits_2_and_leaves_no_folder(tmp_path):
    res = CliRunner().invoke(app, ["seqmnist", "--cell", "tanh", "--out", str(tmp_path / "run")])
    assert res.exit_code == 2 and "cells" in res.output and "valid" in res.output
    assert not (tmp_path / "run").exists()


# -------------------------------------------------------------------------------------------------- pieces
def test_steps_to_target():
    assert job.steps_to([(0, 0.1), (100, 0.89), (200, 0.9), (300, 0.95)], 0.9, 1000) == (200, True)
    assert job.steps_to([(0, 0.1), (100, 0.5)], 0.9, 1000) == (1000, False)


@pytest.mark.parametrize("cell", ["vanilla", "minimal"])
@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
def test_initialise_is_critical_with_the_measured_R(cell, weights):
    cfg = compose_config("seqmnist", [])
    torch.manual_seed(0)
    x = torch.randn(50, 64, 4)  # (T, B, M): R = 1 for the vanilla RNN up to sampling
    model = job.SequenceClassifier(cell, 4, 128)
    used = job.initialise(model, cell, "critical", weights, cfg, x, seed=0)
    assert used["chi_1"] == pytest.approx(1.0, abs=1e-6)  # eq. 4 / eq. 13 at the measured R
    assert used["R"] == pytest.approx(estimate_R(model.rnn, x), rel=1e-12)  # the R of the W_x actually drawn
    assert used["q_star"] == cfg.critical[cell].q_star and used["Q_star"] > 0
    W = model.rnn.cells()[0].W.detach().double()
    sv = torch.linalg.svdvals(W)
    if weights == "orthogonal":  # every singular value is sigma_w
        assert torch.allclose(sv, torch.full_like(sv, math.sqrt(used["sigma_w_sq"])), rtol=1e-5)
    else:  # (1/N) tr W W^T = sigma_w^2 up to sampling (N^2 = 16384 entries: ~1% standard error)
        assert float((W**2).sum() / 128) == pytest.approx(used["sigma_w_sq"], rel=0.05)
    if cell == "vanilla":
        assert used["R"] == pytest.approx(1.0, abs=0.05) and used["mu_b"] == 0.0
    else:
        assert 0 < used["R"] < 1 and float(model.rnn.cells()[0].b.detach().mean()) == pytest.approx(used["mu_b"])
    off = job.initialise(model, cell, "off_critical", weights, cfg, x, seed=0)
    assert (off["sigma_w_sq"], off["sigma_v_sq"], off["mu_b"]) == (1.0, 1.0, 0.0) and off["chi_1"] < 0.6


def test_eval_h0_draws_are_fixed_by_the_generator():
    model = job.SequenceClassifier("vanilla", 4, 16, h0_std=0.5)
    x = torch.randn(10, 8, 4)
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    assert torch.equal(model(x, g()), model(x, g()))
    assert not torch.equal(model(x, g()), model(x, torch.Generator().manual_seed(2)))
    model.h0_std = 0.0
    assert torch.equal(model(x), model(x))


def test_plot_and_table_from_csv_only(tmp_path):
    rows = [{"cell": c, "T": T, "init": i, "weights": w, "seed": 0, "step": s, "test_acc": a, "train_loss": 1.0,
             "wall_s": 0.1 * s}
            for c in seqmnist_settings.CELLS for T in (196, 784) for i in job.INITS for w in job.WEIGHTS
            for s, a in ((0, 0.1), (100, 0.95 if i == "critical" else 0.5))]
    append_rows(tmp_path / "curves.csv", rows, job.CURVE_COLUMNS)
    paths = fig3.plot(tmp_path)
    assert [p.name for p in paths] == ["fig3.png", "fig3.pdf"] and all(p.stat().st_size > 0 for p in paths)


# ------------------------------------------------------------------------------------------- the job, for real
def test_smoke_run_writes_curves_summary_and_figure(smoke, tmp_path):
    summary, path = execute("seqmnist", smoke(), out=tmp_path / "run")
    curves, s = read_rows(path / "curves.csv"), read_rows(path / "summary.csv")
    assert list(curves.columns) == job.CURVE_COLUMNS and list(s.columns) == job.SUMMARY_COLUMNS
    assert len(s) == 8 and len(curves) == 8 * 3  # steps 0, 2, 4 per condition
    assert set(curves["step"]) == {0, 2, 4} and curves["test_acc"].between(0, 1).all()
    crit, off = s[s["init"] == "critical"], s[s["init"] == "off_critical"]
    assert (crit["chi_1"] - 1).abs().max() < 1e-6 and (off["chi_1"] < 0.6).all()
    assert (off["sigma_w_sq"] == 1).all() and (off["sigma_v_sq"] == 1).all()
    assert (s["steps_to_90"] == 4).all() and (~s["reached"]).all()  # 4 steps of a tiny net: the budget
    assert (path / "fig3.png").exists() and (path / "table.md").read_text().count("\n") == 2 + 8
    assert summary["vanilla_T196_critical_orthogonal_steps_to_90"] == "> 4" and "wall_s" in summary  # never reached


def test_interrupted_run_resumes_onto_the_same_rows(smoke, cut_at_batch, assert_same_rows, tmp_path):
    args = smoke("cells=[vanilla,minimal]", "inits=[critical]", "weights=[gaussian]",
                 "train.checkpoint_every=4")  # checkpoints at steps 0 and 4 only: step 2 is evaluated twice
    execute("seqmnist", args, out=tmp_path / "ref")
    cut_at_batch(4 + 4, "seqmnist", args, tmp_path / "cut")  # the second unit (minimal) dies at its step 3
    cut = read_rows(tmp_path / "cut" / "curves.csv")
    # the dying unit's curve rows come back with its summary row, so none of them is written yet
    assert len(read_rows(tmp_path / "cut" / "summary.csv")) == 1 and len(cut) == 3
    execute("seqmnist", args, out=tmp_path / "cut")
    for name in ("curves.csv", "summary.csv"):  # the same curve, no duplicate row
        assert_same_rows(tmp_path / "cut" / name, tmp_path / "ref" / name)
    before = (tmp_path / "cut" / "curves.csv").read_bytes()
    execute("seqmnist", args, out=tmp_path / "cut")  # finished: nothing trains, nothing is appended
    assert (tmp_path / "cut" / "curves.csv").read_bytes() == before
    assert len(read_rows(tmp_path / "cut" / "summary.csv")) == 2


def test_stop_at_target_cuts_each_curve_at_its_first_hit(smoke, tmp_path):
    base = smoke("inits=[critical]", "train.steps=12")
    execute("seqmnist", base, out=tmp_path / "ref")
    ref = read_rows(tmp_path / "ref" / "curves.csv").drop(columns=["wall_s"])
    # a target some curve first reaches part-way (tiny nets move around chance, 0.1): the best accuracy before the end
    target = float(ref.loc[(ref["step"] > 0) & (ref["step"] < 12), "test_acc"].max())
    execute("seqmnist", [*base, f"target_acc={target}", "train.stop_at_target=true"], out=tmp_path / "stop")
    cut = read_rows(tmp_path / "stop" / "curves.csv").drop(columns=["wall_s"])
    summary = read_rows(tmp_path / "stop" / "summary.csv")
    key = list(job.UNIT_KEY)
    assert len(cut) < len(ref)  # some curve really was cut short
    for unit, r in ref.groupby(key):
        sel = dict(zip(key, unit, strict=True))
        c = cut[(cut[key] == pd.Series(sel)).all(axis=1)]
        first = r.loc[r["test_acc"] >= target, "step"].min()
        expected = r if pd.isna(first) else r[r["step"] <= first]
        pd.testing.assert_frame_equal(c.reset_index(drop=True), expected.reset_index(drop=True))
        row = summary[(summary[key] == pd.Series(sel)).all(axis=1)].iloc[0]
        assert row["steps_to_90"] == (12 if pd.isna(first) else first) and row["budget"] == 12
    assert compose_config("seqmnist", ["profile=paper"]).train.stop_at_target is False  # paper: full curves


@pytest.mark.slow
def test_two_worker_processes_give_the_in_process_rows(smoke, assert_same_rows, tmp_path):
    args = smoke("cells=[vanilla]", "inits=[critical,off_critical]", "weights=[orthogonal]")
    execute("seqmnist", args, out=tmp_path / "one")
    execute("seqmnist", [*args, "run.jobs=2"], out=tmp_path / "two")  # spawned workers return curves rows
    for name in ("curves.csv", "summary.csv"):
        assert_same_rows(tmp_path / "one" / name, tmp_path / "two" / name)


def test_infeasible_critical_request_fails_before_training(smoke, tmp_path):
    # mu_b = 0 with q* = 1 needs sigma_v^2 < 0 at the measured R (Algorithm 1, line 7)
    args = smoke("cells=[minimal]", "critical.minimal.mu_b=0.0", "critical.minimal.q_star=1.0")
    res = CliRunner().invoke(app, ["seqmnist", *args, "--out", str(tmp_path / "run")])
    assert res.exit_code == 2 and "sigma_v^2" in res.output and "q_star" in res.output
    assert not (tmp_path / "run").exists()
