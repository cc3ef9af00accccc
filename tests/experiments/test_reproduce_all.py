"""`make reproduce-all`: every job in order, a failing job does not stop the others, and a killed run resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments import reproduce_all

REPO = Path(__file__).resolve().parents[2]


def test_a_failing_job_is_reported_the_others_run_and_a_rerun_finishes(tmp_path, monkeypatch, capsys):
    cheap = [("theory map A", "theory_phase", ["cell=minimal"]),
             ("broken", "theory_phase", ["cell=gru"]),  # invalid: this job fails
             ("Fig. 1", "mf_vs_mc", [])]
    monkeypatch.setattr(reproduce_all, "PLAN", cheap)
    assert reproduce_all.main(["--profile", "smoke", "--quiet"]) == 1
    out = capsys.readouterr()
    assert "[2/3] FAILED" in out.out and "cell" in out.out and "1 job(s) failed: broken" in out.err
    assert "[1/3] done" in out.out and "[3/3] done" in out.out  # the job after the failure still ran
    report = (tmp_path / "results" / "REPORT.md").read_text()
    assert "| Fig. 1a |" in report and "MISSING" in report  # what ran is reported; the rest is listed as missing
    csv = next((tmp_path / "results" / "mf_vs_mc").glob("smoke-*/*.csv"))
    before = csv.stat().st_mtime_ns
    monkeypatch.setattr(reproduce_all, "PLAN", [cheap[0], cheap[2]])
    assert reproduce_all.main(["--profile", "smoke", "--quiet"]) == 0
    assert csv.stat().st_mtime_ns == before  # finished work is resumed, not redone


def test_bad_profile_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as err:
        reproduce_all.main(["--profile", "huge"])
    assert err.value.code == 2 and "invalid choice" in capsys.readouterr().err


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_finishes_what_is_left(tmp_path, data_root):
    """The whole plan at profile smoke, killed (SIGKILL, the process group) as job 5 starts, then run again."""
    N = len(reproduce_all.PLAN)
    env = {**os.environ, "PYTHONPATH": str(REPO), "RNNMF_DATA_DIR": str(data_root), "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "experiments.reproduce_all", "--profile", "smoke", "--quiet"]
    log = tmp_path / "first.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            deadline = time.time() + 300
            while f"[5/{N}]" not in log.read_text() and time.time() < deadline and proc.poll() is None:
                time.sleep(0.05)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    first = log.read_text()
    assert f"[4/{N}] done" in first and f"[{N}/{N}]" not in first, "the kill must land mid-run"
    done_before = {p: p.stat().st_mtime_ns for job in ("mf_vs_mc", "isometry")
                   for p in (tmp_path / "results" / job).glob("smoke-*/*.csv")}
    assert done_before and not (tmp_path / "results" / "REPORT.md").exists()

    second = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert all(f"[{i}/{N}] done" in second.stdout for i in range(1, N + 1))
    assert {p: p.stat().st_mtime_ns for p in done_before} == done_before  # jobs 3-4 were not redone
    report = (tmp_path / "results" / "REPORT.md").read_text()
    for section in ("Figure 1", "Figure 2", "Figure 3", "Table 1", "Speed"):
        assert f"## {section}" in report
    for job in ("theory_phase", "mf_vs_mc", "isometry", "trainability", "memory_probe", "seqmnist", "lm", "bench"):
        assert any((tmp_path / "results" / job).glob("smoke-*/meta.json")), job
