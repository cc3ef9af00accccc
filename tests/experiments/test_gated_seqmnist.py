"""Fig. 3 beyond the paper for torch's GRU and LSTM (job gated_seqmnist): each initialisation is what it says, the
settings refuse bad input in one line, the job writes Fig. 3's CSVs with one row per (cell, init, evaluation) and
resumes onto the same rows."""

from __future__ import annotations

import math

import pytest
import torch
from typer.testing import CliRunner

from cli.main import app
from experiments import gated_seqmnist as job
from experiments import seqmnist
from experiments.config import compose_config
from experiments.figures import gated_seqmnist as figure
from experiments.runner import execute, prepare
from rnnmf.errors import RnnmfError
from rnnmf.io import append_rows, read_rows
from rnnmf.theory import gru, lstm


# ------------------------------------------------------------------------------------------------ config, units
def test_units_name_what_each_initialisation_makes_the_recurrent_blocks():
    quick = compose_config("gated_seqmnist", [])
    units = job.units(quick)
    assert list(quick.lengths) == [196] and len(units) == 2 * 3  # quick: T = 196, both cells, three inits
    assert {(u["init"], u["weights"]) for u in units} == {
        ("critical", "orthogonal"), ("torch_default", "uniform"), ("heuristic", "orthogonal")}
    assert quick.train.stop_at_target and int(quick.run.jobs) == 2
    paper = compose_config("gated_seqmnist", ["profile=paper", "n_seeds=2", "critical.weights=gaussian"])
    assert list(paper.lengths) == [196, 784] and len(job.units(paper)) == 2 * 2 * 3 * 2
    assert job.units(paper)[0]["weights"] == "gaussian" and not paper.train.stop_at_target


@pytest.mark.parametrize("override, needle", [
    ("inits=[xavier]", "inits"), ("cells=[vanilla]", "cells"), ("lengths=[100]", "T=100"), ("lengths=[0]", "T=0"),
    ("critical.weights=unitary", "critical.weights"), ("train.lr.lstm=0", "train.lr.lstm"),
    ("heuristic.memory_bias=null", "heuristic.memory_bias"), ("critical.gru.mu_b=1", "critical.gru.mu_b"),
])
def test_settings_refuse_bad_values_in_one_line(override, needle):
    with pytest.raises(RnnmfError, match="valid") as err:
        prepare("gated_seqmnist", [override])
    assert needle in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("args, needle", [
    (["--cell", "gru", "inits=[xavier]"], "inits=['xavier'] is invalid"),
    (["--cell", "gru,vanilla"], "mixes the paper's cells"),
])
def test_cli_refuses_with_exit_2_one_line_and_no_folder(tmp_path, args, needle):
    res = CliRunner().invoke(app, ["seqmnist", *args, "profile=smoke", "--out", str(tmp_path / "run")])
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and needle in lines[0] and "valid" in lines[0]
    assert not (tmp_path / "run").exists()


def test_cli_sends_gated_cells_to_their_job(monkeypatch):
    import cli.jobs

    seen = []
    monkeypatch.setattr(cli.jobs, "run_job", lambda name, *a, **options: seen.append((name, options)))
    CliRunner().invoke(app, ["seqmnist", "--cell", "gru,lstm", "--T", "784"])
    CliRunner().invoke(app, ["seqmnist", "--cell", "vanilla"])
    CliRunner().invoke(app, ["seqmnist"])
    assert seen == [("gated_seqmnist", {"cells": "[gru,lstm]", "lengths": "[784]"}),
                    ("seqmnist", {"cells": "[vanilla]", "lengths": None}),
                    ("seqmnist", {"cells": None, "lengths": None})]


# ------------------------------------------------------------------------------------ each init is what it says
def _model(cell, init, H=32, seed=0):
    cfg = compose_config("gated_seqmnist", [])
    torch.manual_seed(seed)  # seqmnist.train_unit seeds every RNG before it builds the model
    model = seqmnist.SequenceClassifier(cell, 4, H)
    x = torch.randn(50, 64, 4)  # (T, B, M)
    used = job.initialise(model, {"cell": cell, "init": init, "seed": seed}, cfg, x)
    return cfg, model.rnn, used, x


def _blocks(rnn, name):
    w = getattr(rnn, name).detach().double()
    return list(w.split(rnn.hidden_size))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_heuristic_is_orthogonal_xavier_with_memory_bias_one(cell):
    _, rnn, used, _ = _model(cell, "heuristic")
    H, memory = rnn.hidden_size, 1  # torch's rows: GRU r, z, n; LSTM i, f, g, o (z and f second)
    for W in _blocks(rnn, "weight_hh_l0"):
        assert torch.allclose(W @ W.T, torch.eye(H, dtype=W.dtype), atol=1e-6)
    V = rnn.weight_ih_l0.detach().double()
    bound = math.sqrt(6 / (V.shape[1] + V.shape[0]))  # xavier_uniform_ over the whole (gates * H) x M matrix
    assert float(V.abs().max()) <= bound and float(V.var()) == pytest.approx(bound ** 2 / 3, rel=0.15)
    for k, b in enumerate(_blocks(rnn, "bias_ih_l0")):
        assert torch.equal(b, torch.full_like(b, 1.0 if k == memory else 0.0))
    assert not rnn.bias_hh_l0.detach().any()
    assert used["mu_b"] == 1.0 and used["sigma_w_sq"] == 1.0 and used["sigma_v_sq"] == pytest.approx(
        V.shape[1] * bound ** 2 / 3, rel=1e-12)
    assert 0.3 < used["chi_1"] < 0.8  # ordered: gradients still shrink per step


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_critical_is_at_chi_1_one_from_the_recorded_R(cell):
    cfg, rnn, used, x = _model(cell, "critical")
    gate = {"gru": "mu_z", "lstm": "mu_f"}[cell]
    assert used["R"] == pytest.approx(float(x.double().square().mean()), rel=1e-12)
    assert used["sigma_v_sq"] * used["R"] == pytest.approx(1.0, rel=1e-12)
    assert used["mu_b"] == cfg.critical[cell][gate]
    theory = gru if cell == "gru" else lstm  # chi_1 again from the recorded statistics alone
    chi = theory.chi_1(R=used["R"], sigma_w=math.sqrt(used["sigma_w_sq"]), sigma_v=math.sqrt(used["sigma_v_sq"]),
                       sigma_b=0.0, **{gate: used["mu_b"]})
    assert abs(float(chi) - 1.0) < 1e-8 and abs(used["chi_1"] - 1.0) < 1e-8
    for W in _blocks(rnn, "weight_hh_l0"):  # sigma_w times an orthogonal block
        sv = torch.linalg.svdvals(W)
        assert torch.allclose(sv, torch.full_like(sv, math.sqrt(used["sigma_w_sq"])), rtol=1e-5)
    b = _blocks(rnn, "bias_ih_l0")
    memory = 1  # z (GRU) and f (LSTM) are torch's second block
    assert torch.equal(b[memory], torch.full_like(b[memory], used["mu_b"]))
    assert not any(bb.any() for k, bb in enumerate(b) if k != memory) and not rnn.bias_hh_l0.detach().any()


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_torch_default_is_the_module_as_torch_builds_it(cell):
    _, rnn, used, _ = _model(cell, "torch_default", seed=3)
    torch.manual_seed(3)
    fresh = getattr(torch.nn, cell.upper())(4, 32)
    for name, p in fresh.named_parameters():
        assert torch.equal(p, getattr(rnn, name)), name
    assert used["sigma_w_sq"] == pytest.approx(1 / 3) and used["sigma_v_sq"] == pytest.approx(4 / (3 * 32))
    assert used["mu_b"] == 0.0 and 0.2 < used["chi_1"] < 0.35  # deep in the ordered phase (README: 0.29 / 0.28)


def test_the_read_out_sees_h_not_the_lstm_cell_state():
    torch.manual_seed(0)
    model = seqmnist.SequenceClassifier("lstm", 4, 16)
    x = torch.randn(10, 8, 4)
    _, (h, _) = model.rnn(x)
    assert torch.equal(model(x), model.readout(h[-1]))


# -------------------------------------------------------------------------------------------- summary, figure
def _rows(steps: dict, budget=1000):
    return [{**{c: None for c in seqmnist.SUMMARY_COLUMNS}, "cell": cell, "T": 196, "init": init, "weights": "w",
             "seed": 0, "steps_to_90": budget if s is None else s, "target_acc": 0.9, "reached": s is not None,
             "budget": budget, "final_acc": 0.5, "best_acc": 0.95 if s is not None else 0.5, "sigma_w_sq": 1.0,
             "sigma_v_sq": 1.0, "mu_b": 0.0, "R": 1.0, "chi_1": 1.0, "hidden": 8, "status": "ok", "wall_s": 1.0}
            for (cell, init), s in steps.items()]


def test_summarize_counts_a_run_that_never_reached_the_target_as_beyond_its_budget(tmp_path):
    append_rows(tmp_path / "summary.csv", _rows({
        ("gru", "critical"): 300, ("gru", "torch_default"): None, ("gru", "heuristic"): 300,
        ("lstm", "critical"): None, ("lstm", "torch_default"): None, ("lstm", "heuristic"): 900}),
        seqmnist.SUMMARY_COLUMNS)
    s = job.summarize(tmp_path)
    assert s["gru_T196_critical_steps_to_90"] == 300 and s["gru_T196_torch_default_steps_to_90"] == "> 1000"
    assert s["gru_T196_critical_faster_than_torch_default"] is True
    assert s["gru_T196_critical_faster_than_heuristic"] is False  # a tie is not faster
    assert s["lstm_T196_critical_faster_than_torch_default"] is False  # both censored: a tie
    assert s["lstm_T196_critical_faster_than_heuristic"] is False and s["lstm_T196_critical_best_acc"] == 0.5


def test_figure_and_table_from_csv_only(tmp_path):
    curves = [{"cell": c, "T": 196, "init": i, "weights": "w", "seed": 0, "step": s, "test_acc": a, "train_loss": 1.0,
               "wall_s": 0.1 * s} for c in ("gru", "lstm") for i in job.INITS for s, a in ((0, 0.1), (100, 0.5))]
    append_rows(tmp_path / "curves.csv", curves, seqmnist.CURVE_COLUMNS)
    append_rows(tmp_path / "summary.csv", _rows({("gru", i): 100 for i in job.INITS}), seqmnist.SUMMARY_COLUMNS)
    paths = figure.plot(tmp_path) + figure.write_table(tmp_path)
    assert [p.name for p in paths] == ["fig3_gated.png", "fig3_gated.pdf", "table.md"]
    assert (tmp_path / "table.md").read_text().count("\n") == 2 + 3


# ------------------------------------------------------------------------------------------- the job, for real
def test_smoke_run_writes_one_row_per_cell_init_and_evaluation(smoke, tmp_path):
    summary, path = execute("gated_seqmnist", smoke(), out=tmp_path / "run")
    curves, s = read_rows(path / "curves.csv"), read_rows(path / "summary.csv")
    assert list(curves.columns) == seqmnist.CURVE_COLUMNS and list(s.columns) == seqmnist.SUMMARY_COLUMNS
    assert len(s) == 2 * 3 and len(curves) == 2 * 3 * 3  # steps 0, 2, 4 per (cell, init)
    assert not curves.duplicated(["cell", "init", "step"]).any() and set(curves["step"]) == {0, 2, 4}
    assert curves["test_acc"].between(0, 1).all() and set(s["init"]) == set(job.INITS)
    crit = s[s["init"] == "critical"]
    assert (crit["chi_1"] - 1).abs().max() < 1e-8 and (s.loc[s["init"] != "critical", "chi_1"] < 0.8).all()
    assert (s["steps_to_90"] == 4).all() and (~s["reached"]).all()
    assert (path / "fig3_gated.png").exists() and (path / "table.md").read_text().count("\n") == 2 + 6
    assert summary["lstm_T196_critical_steps_to_90"] == "> 4" and "wall_s" in summary


def test_interrupted_run_resumes_onto_the_same_rows(smoke, cut_at_batch, assert_same_rows, tmp_path):
    args = smoke("cells=[lstm]", "inits=[critical,heuristic]", "train.checkpoint_every=4")
    execute("gated_seqmnist", args, out=tmp_path / "ref")
    cut_at_batch(4 + 4, "gated_seqmnist", args, tmp_path / "cut")  # the second unit dies at its step 3
    assert len(read_rows(tmp_path / "cut" / "summary.csv")) == 1
    execute("gated_seqmnist", args, out=tmp_path / "cut")
    for name in ("curves.csv", "summary.csv"):
        assert_same_rows(tmp_path / "cut" / name, tmp_path / "ref" / name)
