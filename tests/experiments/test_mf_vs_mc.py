"""The Fig. 1 job (`rnnmf mf-vs-mc`) end to end at profile smoke: outputs, resumption, bad input, the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import experiments.mf_vs_mc as job
from cli.main import app
from experiments.config import compose_config
from experiments.figures import fig1
from experiments.runner import execute
from experiments.settings import for_job
from rnnmf.errors import RnnmfError
from rnnmf.io import read_rows

SMOKE = ["profile=smoke", "run.quiet=true"]


@pytest.fixture
def no_plot(monkeypatch):
    """Resumption tests need the CSVs only; drawing the figure is the slow part of a smoke run (tested once below)."""
    monkeypatch.setattr(fig1, "plot", lambda *args, **kwargs: [])


def _sorted(path, keys):
    return read_rows(path).sort_values(list(keys)).reset_index(drop=True)


def _assert_same_results(a, b):
    for name, (columns, keys) in job.FILES.items():
        left, right = _sorted(a / name, keys), _sorted(b / name, keys)
        assert list(left.columns) == columns
        assert not left.duplicated(list(keys)).any(), name
        pd.testing.assert_frame_equal(left, right, check_exact=True)


def test_smoke_writes_the_csvs_and_the_figure(tmp_path):
    summary, out = execute("mf_vs_mc", SMOKE, out=tmp_path / "run")
    cfg = compose_config("mf_vs_mc", SMOKE)
    mus, T = job.mu_grid(cfg), int(cfg.schedule.steps)
    dyn = read_rows(out / "dynamics.csv")
    assert list(dyn.columns) == ["mu_b", "t", "source", "c", "c_se"]
    assert sorted(dyn.source.unique()) == ["mc_tied", "mc_untied", "theory"]
    assert len(dyn) == len(mus) * T * 3 and sorted(dyn.mu_b.unique()) == mus
    assert dyn.c.between(-1, 1).all() and (dyn[dyn.source == "theory"].c_se == 0).all()
    assert (dyn[dyn.source != "theory"].c_se > 0).any()
    fp = read_rows(out / "fixed_points.csv")
    assert list(fp.columns) == job.FIXED_POINTS
    assert set(fp.source) == {"theory", "mc_untied", "mc_tied"}
    assert len(fp[fp.source == "theory"]) == len(job.theory_grid(cfg))
    ts = read_rows(out / "timescales.csv")
    assert list(ts.columns) == job.TIMESCALES
    assert sorted(ts.sigma12.unique()) == [0.0, 0.99, 1.0]
    assert len(ts[ts.source == "mc_untied"]) == len(mus) * 3 * 2  # 3 Sigma12, fits on c and on C
    for ext in ("png", "pdf"):
        assert (out / f"fig1.{ext}").stat().st_size > 1000
    assert summary["mu_b_computed"] == len(mus)
    assert 0 <= summary["max_abs_c_theory_minus_untied"] <= 1
    sched = read_rows(out / "schedule.csv")  # what the figure needs beyond the measurements: the Sigma12 schedule
    assert list(sched.t) == list(range(1, T + 1)) and list(sched.sigma12) == list(job.schedule(cfg))
    assert fig1.switch_step(out) == int(cfg.schedule.switch) and set(sched.cell) == {"minimal"}
    before = (out / "schedule.csv").stat().st_mtime_ns
    job.write_schedule(out, "minimal", job.schedule(cfg))  # as a resumed run does: the same file is left untouched
    assert (out / "schedule.csv").stat().st_mtime_ns == before
    # the figure is drawn from the CSVs alone
    (out / "fig1.png").unlink()
    (out / "config.yaml").unlink()
    fig1.plot(out)
    assert (out / "fig1.png").exists()


def test_rerun_resumes_without_recomputing_finished_mu_b(tmp_path, monkeypatch, no_plot):
    real = job.mu_rows
    done = []

    def crash_on_second(cfg, mu_b, device):
        if done:
            raise RuntimeError("injected crash")
        done.append(mu_b)
        return real(cfg, mu_b, device)

    monkeypatch.setattr(job, "mu_rows", crash_on_second)
    with pytest.raises(RuntimeError, match="injected crash"):
        execute("mf_vs_mc", SMOKE, out=tmp_path / "run")
    assert len(read_rows(tmp_path / "run" / "dynamics.csv").mu_b.unique()) == 1

    calls = []
    monkeypatch.setattr(job, "mu_rows", lambda cfg, mu_b, device: calls.append(mu_b) or real(cfg, mu_b, device))
    summary, _ = execute("mf_vs_mc", SMOKE, out=tmp_path / "run")
    mus = job.mu_grid(compose_config("mf_vs_mc", SMOKE))
    assert calls == [m for m in mus if m != done[0]] and summary["mu_b_computed"] == len(mus) - 1
    calls.clear()
    assert execute("mf_vs_mc", SMOKE, out=tmp_path / "run")[0]["mu_b_computed"] == 0 and calls == []

    monkeypatch.setattr(job, "mu_rows", real)
    execute("mf_vs_mc", SMOKE, out=tmp_path / "ref")  # uninterrupted
    _assert_same_results(tmp_path / "run", tmp_path / "ref")


def test_a_unit_cut_short_between_files_is_redone_without_duplicates(tmp_path, monkeypatch, no_plot):
    """Killed after a mu_b's timescale and fixed-point rows were appended but before its dynamics rows."""
    real = job.append_rows
    state = {"armed": True}

    def append(path, rows, columns):
        if state["armed"] and path.name == "dynamics.csv":
            state["armed"] = False
            raise KeyboardInterrupt
        return real(path, rows, columns)

    monkeypatch.setattr(job, "append_rows", append)
    with pytest.raises(KeyboardInterrupt):
        execute("mf_vs_mc", SMOKE, out=tmp_path / "run")
    assert not (tmp_path / "run" / "dynamics.csv").exists()
    assert (read_rows(tmp_path / "run" / "timescales.csv").source == "mc_untied").any()
    execute("mf_vs_mc", SMOKE, out=tmp_path / "run")
    execute("mf_vs_mc", SMOKE, out=tmp_path / "ref")
    _assert_same_results(tmp_path / "run", tmp_path / "ref")


@pytest.mark.parametrize("override,fragment", [("model.R=-1", "model.R=-1"), ("sim.dtype=float16", "sim.dtype"),
                                               ("schedule.switch=50", "schedule.switch=50"),
                                               ("timescales.sigma12=[2.0]", "timescales.sigma12")])
def test_bad_values_are_rejected_before_a_folder_exists(tmp_path, override, fragment):
    with pytest.raises(RnnmfError, match=fragment.replace("[", r"\[")):
        execute("mf_vs_mc", [*SMOKE, override], out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_profiles_compose_and_validate(profile):
    cfg = compose_config("mf_vs_mc", [f"profile={profile}"])
    for_job("mf_vs_mc").cross_check(cfg)
    sizes = for_job("mf_vs_mc").sim_sizes(cfg)
    assert sizes["hidden"] >= 1 and sizes["tied_networks"] >= 1
    sched = job.schedule(cfg)
    assert sched[int(cfg.schedule.switch) - 2] == 0.0 and sched[int(cfg.schedule.switch) - 1] == 1.0
    if profile == "paper":
        assert sizes == {"hidden": 8192, "networks": 1000, "tied_hidden": 8192, "tied_networks": 1000}
        assert job.mu_grid(cfg)[0] == -4.0 and job.mu_grid(cfg)[-1] == 8.0


def test_cli_options_reach_the_config(tmp_path, no_plot):
    result = CliRunner().invoke(app, ["mf-vs-mc", "profile=smoke", "--hidden", "32", "--networks", "4", "--quiet",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "max_abs_c_theory_minus_untied" in result.output
    cfg = (tmp_path / "run" / "config.yaml").read_text()
    assert "hidden: 32" in cfg and "networks: 4" in cfg
    assert np.isfinite(read_rows(tmp_path / "run" / "dynamics.csv").c).all()


@pytest.mark.parametrize("cut", ["inside_tied_rows", "timescales_row"])
def test_a_unit_counts_as_finished_only_with_all_its_rows(tmp_path, no_plot, cut):
    """Issue 14 item 3: with dynamics.csv cut mid-line inside a mu_b's mc_tied rows, that unit was counted finished
    (any mc_tied row was enough) and 6 rows were never recomputed. Now a unit lacking any row of any file is redone,
    and only its missing rows are appended."""
    import shutil

    execute("mf_vs_mc", SMOKE, out=tmp_path / "ref")
    shutil.copytree(tmp_path / "ref", tmp_path / "run")
    if cut == "inside_tied_rows":
        path = tmp_path / "run" / "dynamics.csv"
        lines = path.read_text().splitlines(keepends=True)
        tied = [i for i, line in enumerate(lines) if ",mc_tied," in line]
        path.write_text("".join(lines[: tied[-6]]) + lines[tied[-6]][:9])  # the last 6 rows gone, one torn
    else:
        path = tmp_path / "run" / "timescales.csv"
        lines = path.read_text().splitlines(keepends=True)
        last = max(i for i, line in enumerate(lines) if ",mc_untied," in line)
        path.write_text("".join(lines[:last] + lines[last + 1:]))
    summary, _ = execute("mf_vs_mc", SMOKE, out=tmp_path / "run")
    assert summary["mu_b_computed"] == 1
    assert execute("mf_vs_mc", SMOKE, out=tmp_path / "run")[0]["mu_b_computed"] == 0
    _assert_same_results(tmp_path / "run", tmp_path / "ref")  # every row once, equal to the uninterrupted run
