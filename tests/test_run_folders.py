"""Run folders belong to rnnmf (issue 14): a marker with the job and config hash, --fresh only in rnnmf's folders,
one writer per folder, refusal of another job's or config's folder, and folders of the previous code still resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from experiments import runner
from experiments.config import PROFILES, compose_config, hashed_view, job_names, to_yaml
from rnnmf.errors import RnnmfError
from rnnmf.io import LOCK_NAME, RunFolder, append_rows, check_run_path, config_hash

REPO = Path(__file__).resolve().parents[1]


def _fake_job(monkeypatch, run=None):
    """A job module whose run writes one CSV row (lm's config, none of its work)."""

    def default_run(cfg, out_dir):
        append_rows(out_dir / "rows.csv", [{"seed": cfg.seed}], ["seed"])
        return {"ok": 1}

    monkeypatch.setattr(runner, "job_module", lambda job: types.SimpleNamespace(run=run or default_run))
    monkeypatch.setattr(runner, "for_job", lambda job: types.SimpleNamespace())  # no cross_check: no data needed


def snapshot(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def one_line_exit_2(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("rnnmf: error:"), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# ---------------------------------------------------------------------------------------------------- paths
@pytest.mark.parametrize("out", ["", " ", ".", "..", "./", "{cwd}", "{home}"])
def test_fresh_never_deletes_the_working_directory_or_above(tmp_path, out):
    """Issue 14 item 1: `--fresh --out ''` emptied the working directory."""
    (tmp_path / "thesis.tex").write_text("a user's file")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("1\n")
    before = snapshot(tmp_path)
    out = out.format(cwd=tmp_path, home=Path.home())
    result = CliRunner().invoke(app, ["theory", "phase", "profile=smoke", "--fresh", "--out", out])
    one_line_exit_2(result)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("where,fragment", [("afile", "is a file"), ("afile/run", "which is a file"),
                                            ("afile/deeper/run", "which is a file")])
def test_out_at_or_under_a_file_is_refused(tmp_path, where, fragment):
    (tmp_path / "afile").write_text("x")
    one_line_exit_2(CliRunner().invoke(app, ["theory", "phase", "profile=smoke", "--out", where]), fragment)
    assert (tmp_path / "afile").read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_out_on_a_read_only_folder_is_refused(tmp_path, monkeypatch):
    """As root a chmod does not stop writes, so the read-only mount is simulated where os.access asks about it."""
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == ro else real(p, mode, **kw))
    with pytest.raises(RnnmfError, match="cannot be written: .* is read-only"):
        check_run_path(ro / "run")
    one_line_exit_2(CliRunner().invoke(app, ["theory", "phase", "profile=smoke", "--out", str(ro / "run")]),
                    "read-only")
    assert list(ro.iterdir()) == []


def test_default_folder_under_a_file_is_refused(tmp_path):
    (tmp_path / "results").write_text("not a folder")
    one_line_exit_2(CliRunner().invoke(app, ["theory", "phase", "profile=smoke"]), "which is a file")
    one_line_exit_2(CliRunner().invoke(app, ["theory", "phase", "profile=smoke", "run.results_dir=results"]),
                    "which is a file")


# ------------------------------------------------------------------------------------------------ ownership
def test_a_folder_of_user_files_is_never_used_or_emptied(tmp_path, monkeypatch):
    _fake_job(monkeypatch)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    for fresh in (False, True):
        with pytest.raises(RnnmfError, match=r"holds files rnnmf did not make \(thesis.tex\); nothing was changed"):
            runner.execute("lm", [], out=mine, fresh=fresh)
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.tex"]


def test_an_empty_folder_is_adopted_and_left_empty_on_bad_input(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()

    def bad(cfg, out_dir):
        raise RnnmfError("bad input found late")

    _fake_job(monkeypatch, bad)
    with pytest.raises(RnnmfError):
        runner.execute("lm", [], out=empty)
    assert empty.is_dir() and list(empty.iterdir()) == []
    _fake_job(monkeypatch)
    runner.execute("lm", [], out=empty)
    assert json.loads((empty / "meta.json").read_text())["job"] == "lm"


def test_another_jobs_folder_is_refused_even_with_fresh(tmp_path, monkeypatch):
    _fake_job(monkeypatch)
    runner.execute("lm", [], out=tmp_path / "run")
    before = snapshot(tmp_path)
    for fresh in (False, True):
        with pytest.raises(RnnmfError, match="holds a run of job 'lm', not 'mf_vs_mc'; nothing was changed"):
            runner.execute("mf_vs_mc", [], out=tmp_path / "run", fresh=fresh)
    assert snapshot(tmp_path) == before


def test_another_config_is_refused_naming_the_keys_and_fresh_starts_over(tmp_path, monkeypatch):
    """Issue 14 item 5: resuming into another config's folder mixed two configurations in one CSV."""
    _fake_job(monkeypatch)
    runner.execute("lm", ["seed=1"], out=tmp_path / "run")
    before = snapshot(tmp_path)
    with pytest.raises(RnnmfError) as err:
        runner.execute("lm", ["seed=2", "clip=4.0"], out=tmp_path / "run")
    msg = str(err.value)
    assert "with another config (clip: 4.0 here, 5.0 there; seed: 2 here, 1 there)" in msg and "--fresh" in msg
    assert snapshot(tmp_path) == before
    runner.execute("lm", ["seed=1", "run.quiet=true"], out=tmp_path / "run")  # run.* keys are not the config
    runner.execute("lm", ["seed=2"], out=tmp_path / "run", fresh=True)
    assert (tmp_path / "run" / "rows.csv").read_text() == "seed\n2\n"  # started over: no row of seed 1 left
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["config_hash"] == config_hash(hashed_view(compose_config("lm", ["seed=2"]))) and meta["attempts"] == 1


def test_fresh_refuses_a_run_folder_that_also_holds_a_users_file(tmp_path, monkeypatch):
    _fake_job(monkeypatch)
    runner.execute("lm", [], out=tmp_path / "run")
    (tmp_path / "run" / "notes.txt").write_text("my notes")
    with pytest.raises(RnnmfError, match="--fresh would delete .* which also holds notes.txt"):
        runner.execute("lm", [], out=tmp_path / "run", fresh=True)
    assert (tmp_path / "run" / "rows.csv").exists() and (tmp_path / "run" / "notes.txt").exists()
    runner.execute("lm", [], out=tmp_path / "run")  # resuming is fine: nothing is deleted


@pytest.mark.parametrize("job", job_names())
@pytest.mark.parametrize("profile", PROFILES)
def test_config_yaml_round_trips_to_the_same_hash(job, profile):
    """A folder's config.yaml, read back, gives the hash its folder was named after: how folders written before the
    hash was recorded (meta.json without config_hash) are recognised as the same config."""
    cfg = compose_config(job, [f"profile={profile}"])
    assert config_hash(hashed_view(runner.config_from_yaml(to_yaml(cfg)))) == config_hash(hashed_view(cfg))


def test_a_folder_of_the_previous_code_resumes_and_gets_its_hash(tmp_path, monkeypatch):
    """The lead's PTB runs were started by the previous RunFolder: meta.json with job and profile, no config_hash,
    and lm's cells spelled `cell: minimal` (before issue 15). The same command must resume them (the folder keeps
    its name: the hash is taken over the old spelling); another config must still be refused."""
    _fake_job(monkeypatch)
    cfg = compose_config("lm", ["profile=quick", "cells=[minimal]"])
    path = runner.run_dir(cfg, "lm")
    assert path.name == "quick-" + config_hash(hashed_view(cfg)) and hashed_view(cfg)["cell"] == "minimal"
    path.mkdir(parents=True)
    old = to_yaml(cfg).replace("cells:\n- minimal\n", "cell: minimal\n")
    assert "cell: minimal" in old and "cells" not in old
    (path / "config.yaml").write_text(old)
    (path / "overrides.txt").write_text("cell=minimal\n")
    (path / "epochs.csv").write_text("cell,epoch\nminimal,1\n")
    (path / "meta.json").write_text(json.dumps({"job": "lm", "profile": "quick", "status": "interrupted",
                                                "attempts": 3, "command": "rnnmf lm --cell minimal"}))
    summary, same = runner.execute("lm", ["profile=quick", "cells=[minimal]"])
    assert same == path and summary == {"ok": 1}
    meta = json.loads((path / "meta.json").read_text())
    assert meta["attempts"] == 4 and meta["config_hash"] == path.name.split("-")[1] and meta["status"] == "done"
    assert (path / "epochs.csv").read_text() == "cell,epoch\nminimal,1\n"
    with pytest.raises(RnnmfError, match=r"another config \(clip: 4.0 here, 5.0 there\)"):
        runner.execute("lm", ["profile=quick", "cells=[minimal]", "clip=4.0"], out=path)


# ------------------------------------------------------------------------------------------- one writer
HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0); os.write(fd, f"{os.getpid()}\\n".encode())
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_writer_is_refused_naming_the_holder(tmp_path, monkeypatch):
    """Issue 14 item 4: two runs into one folder a second apart doubled its rows."""
    _fake_job(monkeypatch)
    runner.execute("lm", [], out=tmp_path / "run")
    rows = (tmp_path / "run" / "rows.csv").read_bytes()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "run" / LOCK_NAME)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = CliRunner().invoke(app, ["lm", "--out", str(tmp_path / "run")])
        one_line_exit_2(result, f"is in use by process {holder.pid}", f"kill {holder.pid}")
        assert (tmp_path / "run" / "rows.csv").read_bytes() == rows
    finally:
        holder.kill()
        holder.wait()
    runner.execute("lm", [], out=tmp_path / "run")  # the lock dies with its holder: the next run proceeds


def test_the_lock_is_released_after_a_run_and_after_a_failure(tmp_path, monkeypatch):
    def crash(cfg, out_dir):
        raise RuntimeError("a bug")

    _fake_job(monkeypatch, crash)
    with pytest.raises(RuntimeError):
        runner.execute("lm", [], out=tmp_path / "run")
    assert json.loads((tmp_path / "run" / "meta.json").read_text())["status"] == "failed"
    _fake_job(monkeypatch)
    runner.execute("lm", [], out=tmp_path / "run")
    runner.execute("lm", [], out=tmp_path / "run")


def test_run_folder_direct_use_keeps_results_on_input_error(tmp_path):
    path = tmp_path / "run"
    with RunFolder(path, config_yaml="a: 1\n", job="x"):
        append_rows(path / "rows.csv", [{"i": 1}], ["i"])
    with pytest.raises(RnnmfError), RunFolder(path, config_yaml="a: 1\n", job="x"):
        raise RnnmfError("bad")
    assert (path / "rows.csv").exists() and json.loads((path / "meta.json").read_text())["status"] == "failed"


def test_the_finished_run_records_its_csv_row_counts(tmp_path, monkeypatch):
    _fake_job(monkeypatch)
    runner.execute("lm", [], out=tmp_path / "run")
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["outputs"] == {"rows.csv": {"rows": 1, "bytes": len("seed\n0\n")}}


def test_the_results_root_is_not_a_run_folder(tmp_path, monkeypatch):
    _fake_job(monkeypatch)
    runner.execute("lm", [])
    before = snapshot(tmp_path)
    with pytest.raises(RnnmfError, match="'results' is a folder of runs \\(lm\\), not a run folder"):
        runner.execute("lm", [], out="results", fresh=True)
    assert snapshot(tmp_path) == before


def test_the_reports_command_says_each_setting_once(tmp_path):
    """A run made by `make reproduce-all` (no CLI command line in meta.json) is shown as the CLI command that makes
    it: the fallback's flags with the run's values (`cells=[all]` makes `--cell gru` `--cell all`), then the other
    overrides, without a key given twice or run.quiet (it changes no result)."""
    from experiments.runs import command

    run = tmp_path / "quick-0c0b8acd"
    run.mkdir()
    (run / "meta.json").write_text(json.dumps({"job": "gated_mf_vs_mc", "command": "python -m experiments.x"}))
    (run / "overrides.txt").write_text("profile=quick\ncell=gru\nrun.quiet=true\nprofile=quick\nrun.jobs=2\n")
    assert command(run, "rnnmf mf-vs-mc --cell gru profile=quick") == \
        "rnnmf mf-vs-mc --cell gru profile=quick run.jobs=2"
    (run / "overrides.txt").write_text("profile=quick\ncells=[gru,lstm]\nsteps=3\n")
    assert command(run, "rnnmf seqmnist --cell gru,lstm profile=quick") == \
        "rnnmf seqmnist --cell gru,lstm profile=quick steps=3"
    (run / "overrides.txt").write_text("profile=quick\ncells=[all]\nsize=small\n")
    assert command(run, "rnnmf lm --cell gru --size small") == "rnnmf lm --cell all --size small profile=quick"
    (run / "overrides.txt").write_text("profile=paper\npanels=[i,j]\ncell=lstm\n")
    assert command(run, "rnnmf sweep trainability --panels i,j profile=quick") == \
        "rnnmf sweep trainability --panels i,j profile=paper cell=lstm"
    (run / "meta.json").write_text(json.dumps({"command": "/x/.venv/bin/rnnmf lm --cell gru init=critical"}))
    assert command(run, "rnnmf lm") == "rnnmf lm --cell gru init=critical"
