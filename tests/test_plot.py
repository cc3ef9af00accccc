"""`rnnmf plot RUN_DIR`: every job's figures redrawn from its CSVs alone (config.yaml removed), the data drawn equal
to the CSV's, and bad input as one line with exit status 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from experiments.figures import FIGURES
from rnnmf.io import append_rows, read_rows

SMOKE = ["profile=smoke", "run.quiet=true"]
#: job -> (overrides beyond SMOKE, the files its figures and notes are)
JOBS = {
    "mf_vs_mc": ([], {"fig1.png", "fig1.pdf"}),
    "isometry": ([], {"density.png", "density.pdf", "variance.png", "variance.pdf", "note.md"}),
    "trainability": ([], {"fig2.png", "fig2.pdf"}),
    "memory_probe": (["panels=[a,c]"], {"probe.png", "probe.pdf"}),
    "seqmnist": ([], {"fig3.png", "fig3.pdf", "table.md"}),
    "lm": (["cell=all", "size=small"], {"lm_curves.png", "lm_curves.pdf", "table1.md"}),
    "theory_phase": (["cell=minimal"], {"phase.png", "phase.pdf"}),
    "gated_phase": (["cell=gru"], {"phase.png", "phase.pdf"}),
    "gated_mf_vs_mc": (["cell=gru"], {"gated.png", "gated.pdf"}),
    "gated_seqmnist": (["cells=[lstm]", "inits=[critical,heuristic]"], {"fig3_gated.png", "fig3_gated.pdf",
                                                                         "table.md"}),
}


@pytest.fixture
def drawn(monkeypatch):
    """Every figure object ``rnnmf.plots.save`` writes, by file stem, so a test can read what was drawn."""
    from rnnmf import plots

    figures, save = {}, plots.save

    def keep(fig, stem):
        figures[str(stem).rsplit("/", 1)[-1]] = fig
        return save(fig, stem)

    monkeypatch.setattr(plots, "save", keep)
    return figures


def plot(run_dir):
    return CliRunner().invoke(app, ["plot", str(run_dir)])


def test_every_job_with_figures_is_covered():
    assert set(JOBS) == set(FIGURES)


@pytest.mark.slow
@pytest.mark.parametrize("job", sorted(JOBS))
def test_plot_redraws_every_figure_from_the_csvs_alone(job, tmp_path, data_root, drawn):
    from experiments.runner import execute

    overrides, files = JOBS[job]
    _, run = execute(job, [*SMOKE, *overrides], out=tmp_path / "run")
    for name in files:
        (run / name).unlink()
    (run / "config.yaml").unlink()
    drawn.clear()
    result = plot(run)
    assert result.exit_code == 0, result.output
    assert {line.rsplit("/", 1)[-1] for line in result.stdout.split()} == files
    for name in files:
        assert (run / name).stat().st_size > 0, name
    check = CHECKS.get(job)
    if check is not None:
        check(run, drawn)


# -------------------------------------------------------------------------- the data drawn are the CSV's numbers
def _fig1(run, drawn):
    """Panel (a): the first curve is untied Monte Carlo c^t of the smallest mu_b; the grey line marks the switch."""
    dyn, sched = read_rows(run / "dynamics.csv"), read_rows(run / "schedule.csv")
    ax_a = drawn["fig1"].axes[0]
    mu = sorted(dyn.mu_b.unique())[0]
    want = dyn[(dyn.mu_b == mu) & (dyn.source == "mc_untied")].sort_values("t")
    np.testing.assert_array_equal(ax_a.lines[0].get_xdata(), want.t.to_numpy())
    np.testing.assert_array_equal(ax_a.lines[0].get_ydata(), want.c.to_numpy())
    switch = int(sched[sched.sigma12 != sched.sigma12.iloc[0]].t.iloc[0])
    assert any(list(line.get_xdata()) == [switch, switch] for line in ax_a.lines)


def _gated(run, drawn):
    dyn = read_rows(run / "dynamics.csv")
    ax_a = drawn["gated"].axes[0]
    sw, b = sorted(dyn.sigma_w.unique())[-1], sorted(dyn.bias.unique())[0]
    want = dyn[(dyn.sigma_w == sw) & (dyn.bias == b) & (dyn.source == "mc_untied")].sort_values("t")
    np.testing.assert_array_equal(ax_a.lines[0].get_ydata(), want.c.to_numpy())
    assert ax_a.get_title().startswith("GRU")  # the cell comes from schedule.csv, not the config


def _fig3(run, drawn):
    curves = read_rows(run / "curves.csv")
    ax = drawn["fig3"].axes[0]  # first T, first cell (vanilla), conditions in the plot's style order
    T = sorted(curves["T"].unique())[0]
    want = curves[(curves["T"] == T) & (curves.cell == "vanilla") & (curves.init == "critical")
                  & (curves.weights == "orthogonal")]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), want.test_acc.to_numpy())


def _fig3_gated(run, drawn):
    curves = read_rows(run / "curves.csv")
    ax = drawn["fig3_gated"].axes[0]  # first T, first cell, initialisations in the plot's style order
    for init, line in zip(["critical", "heuristic"], ax.lines, strict=False):
        want = curves[(curves.cell == "lstm") & (curves.init == init)]
        np.testing.assert_array_equal(line.get_ydata(), want.test_acc.to_numpy())


def _lm(run, drawn):
    epochs = read_rows(run / "epochs.csv")
    ax = drawn["lm_curves"].axes[0]
    for cell, line in zip(["lstm", "gru", "minimal"], ax.lines[::2], strict=True):  # valid (solid), train (dotted)
        want = epochs[epochs.cell == cell].sort_values("epoch")
        np.testing.assert_array_equal(line.get_ydata(), want.valid_ppl.to_numpy())


def _fig2(run, drawn):
    """Each panel label sits where the paper's Fig. 2 puts it (top row untied, bottom row tied)."""
    from experiments.figures.fig2 import PLACE

    pts = read_rows(run / "points.csv")
    axes = [ax for ax in drawn["fig2"].axes if ax.get_visible() and ax.get_title(loc="left")]
    panels = sorted(set(pts.panel))
    cols = sorted({PLACE[p][1] for p in panels})
    rows = sorted({PLACE[p][0] for p in panels})
    for ax in axes:
        p = ax.get_title(loc="left").strip("()")
        spec = ax.get_subplotspec()
        assert (spec.rowspan.start, spec.colspan.start) == (rows.index(PLACE[p][0]), cols.index(PLACE[p][1])), p


def _probe(run, drawn):
    """Panel (a) at the first width: τ and the uncensored T_max are tmax.csv's, column by column."""
    tmax = read_rows(run / "tmax.csv")
    want = tmax[(tmax.panel == "a") & (tmax.hidden == tmax.hidden.min())].sort_values("value")
    lines = {line.get_label(): line for line in drawn["probe"].axes[0].lines}
    np.testing.assert_array_equal(lines["τ"].get_ydata(), want.tau.to_numpy())
    ok = want[want.censored == "none"]
    np.testing.assert_array_equal(lines["T_max (probe)"].get_ydata(), ok.T_max.to_numpy())


CHECKS = {"mf_vs_mc": _fig1, "gated_mf_vs_mc": _gated, "seqmnist": _fig3, "lm": _lm, "trainability": _fig2,
          "memory_probe": _probe, "gated_seqmnist": _fig3_gated}


# ---------------------------------------------------------------------------------------------------- fast tests
def _points(folder, panels):
    cols = ["panel", "cell", "weights", "sigma_w", "sigma_v", "mu_b", "T", "seed", "steps", "train_acc", "test_acc",
            "loss", "tau", "R", "status", "wall_s"]
    rows = [{"panel": p, "cell": "minimal", "weights": "untied" if p in "aceg" else "tied", "sigma_w": sw,
             "sigma_v": 1.39, "mu_b": 4.0, "T": T, "seed": 0, "steps": 10, "train_acc": 0.9 if T < 20 else 0.1,
             "test_acc": 0.5, "loss": 1.0, "tau": 10.0, "R": 0.4, "status": "ok", "wall_s": 0.1}
            for p in panels for sw in (1.0, 2.0) for T in (5, 40)]
    append_rows(folder / "points.csv", rows, cols)


def test_fig2_panels_sit_where_the_paper_puts_them(tmp_path, drawn):
    """Panels f and g (tied σ_w at μ_b = 4, untied at μ_b = 6): two rows, two columns, f below-left, g above-right;
    and an old folder without meta.json is recognised by its parent (results/trainability/...)."""
    run = tmp_path / "trainability" / "old-run"
    _points(run, "fg")
    (run / "config.yaml").write_text("job: trainability\n")
    result = plot(run)
    assert result.exit_code == 0, result.output
    where = {ax.get_title(loc="left"): (ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start)
             for ax in drawn["fig2"].axes if ax.get_visible() and ax.get_title(loc="left")}
    assert where == {"(f)": (1, 0), "(g)": (0, 1)}


def _meta(folder, job):
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({"job": job, "status": "done", "profile": "smoke"}))
    return folder


@pytest.mark.parametrize("case,fragment", [
    ("missing", "does not exist"),
    ("file", "is a file"),
    ("not_rnnmf", "is not an rnnmf run folder"),
    ("runs", "is a folder of runs (a, b), not one run"),
    ("bench", "is a run of job 'bench', which draws no figures"),
    ("no_rows", "has no rows in dynamics.csv yet"),
    ("garbage", "is unreadable"),
    ("wrong_columns", "lack column"),
    ("unknown", "cannot tell which job made run folder"),
])
def test_bad_input_is_one_line_and_exit_2(case, fragment, tmp_path):
    target = tmp_path / case
    if case == "file":
        target.write_text("x")
    elif case == "not_rnnmf":
        target.mkdir()
        (target / "notes.txt").write_text("mine")
    elif case == "runs":
        _meta(target / "a", "lm"), _meta(target / "b", "lm")
    elif case == "bench":
        _meta(target, "bench")
    elif case == "no_rows":
        _meta(target, "mf_vs_mc")
        (target / "dynamics.csv").write_text("mu_b,t,source,c,c_se\n")
    elif case == "garbage":
        _meta(target, "seqmnist")
        (target / "curves.csv").write_bytes(b'a,b\n"1,2\n\xff\xfe,"\n')
    elif case == "wrong_columns":
        _meta(target, "lm")
        (target / "epochs.csv").write_text("x,y\n1,2\n")
    elif case == "unknown":
        target.mkdir()
        (target / "config.yaml").write_text("seed: 0\n")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = plot(target)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written
