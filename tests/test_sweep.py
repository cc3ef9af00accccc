"""The sweep runner: batching, resumption after a real SIGKILL, local process pool and submitit's local cluster.

The toy ``train_batch`` below is deterministic, so a resumed sweep must reproduce an uninterrupted one exactly in the
deterministic columns; ``pid``/``batch_n`` say where and how a point ran and may differ.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments.sweep import Output, SweepError, make_batches, run_sweep
from rnnmf.errors import RnnmfError
from rnnmf.io import read_rows

HERE = Path(__file__).resolve().parent
COLUMNS = ["a", "T", "value", "status", "batch_n", "pid"]
KEYS = ["a", "T"]
DETERMINISTIC = ["a", "T", "value", "status"]
POINTS = [{"a": a, "T": T} for T in (10, 20, 40) for a in (0.5, 1.0, 1.5, 2.0)]


def toy_train(points, delay=0.0, fail_at=None):
    """One row per point; ``value`` depends on the point only, never on the batch it ran in."""
    time.sleep(delay)
    if fail_at is not None and any((p["a"], p["T"]) == fail_at for p in points):
        raise ValueError(f"injected failure at (a, T)={fail_at}")
    return [{**p, "value": p["a"] ** 2 + p["T"] / 3, "status": "ok", "batch_n": len(points), "pid": os.getpid()}
            for p in points]


def _sweep(csv, train=toy_train, points=POINTS, **kw):
    kw.setdefault("group_by", lambda p: p["T"])
    return run_sweep(points, train, csv_path=csv, columns=COLUMNS, key_columns=KEYS, quiet=True, **kw)


def _canonical(path) -> pd.DataFrame:
    df = read_rows(path)
    return df[DETERMINISTIC].sort_values(KEYS).reset_index(drop=True)


def test_make_batches_groups_equal_keys_and_splits_them_evenly():
    batches = make_batches(POINTS + [{"a": 9.0, "T": 10}], group_by=lambda p: p["T"], batch_size=2)
    assert [len(b) for b in batches] == [2, 2, 1, 2, 2, 2, 2]  # T=10 has 5 points: 2 + 2 + 1, in grid order
    assert all(len({p["T"] for p in b}) == 1 for b in batches)
    assert [len(b) for b in make_batches(POINTS[:7], batch_size=4)] == [4, 3]
    assert [len(b) for b in make_batches(POINTS, group_by=lambda p: p["T"])] == [4, 4, 4]
    with pytest.raises(RnnmfError, match="batch_size=0"):
        make_batches(POINTS, batch_size=0)


def test_in_process_sweep_writes_every_point_once_and_a_rerun_skips_them(tmp_path):
    calls = []

    def counting(points):
        calls.append(len(points))
        return toy_train(points)

    res = _sweep(tmp_path / "p.csv", counting, batch_size=3, cost=lambda b: b[0]["T"])
    assert (res.total, res.skipped, res.ran, res.batches) == (12, 0, 12, 6)
    assert calls == [2, 2, 2, 2, 2, 2]  # 4 points per T cut into 2 + 2
    rows = read_rows(tmp_path / "p.csv")
    assert list(rows["T"]) == [40] * 4 + [20] * 4 + [10] * 4  # the costliest batches first
    again = _sweep(tmp_path / "p.csv", counting, batch_size=3)
    assert (again.skipped, again.ran, len(calls)) == (12, 0, 6)
    assert len(read_rows(tmp_path / "p.csv")) == 12


def test_injected_crash_after_k_batches_then_rerun_equals_uninterrupted_run(tmp_path):
    _sweep(tmp_path / "ref.csv")
    state = {"n": 0}

    def crashing(points):
        state["n"] += 1
        if state["n"] == 3:
            raise KeyboardInterrupt  # like Ctrl-C in the middle of the third batch
        return toy_train(points)

    with pytest.raises(KeyboardInterrupt):
        _sweep(tmp_path / "p.csv", crashing)
    assert len(read_rows(tmp_path / "p.csv")) == 8  # two finished batches of 4, nothing of the third
    res = _sweep(tmp_path / "p.csv")
    assert (res.skipped, res.ran) == (8, 4)
    pd.testing.assert_frame_equal(_canonical(tmp_path / "p.csv"), _canonical(tmp_path / "ref.csv"))


def test_rows_that_do_not_match_the_batch_are_a_bug_not_data(tmp_path):
    with pytest.raises(RuntimeError, match="returned rows"):
        _sweep(tmp_path / "p.csv", lambda pts: toy_train(pts)[:-1])
    assert not (tmp_path / "p.csv").exists()


def test_bad_arguments_are_one_line_errors(tmp_path):
    for kw, match in [({"executor": "ray"}, "executor='ray'"), ({"jobs": 0}, "jobs=0"),
                      ({"cluster": "k8s", "executor": "submitit"}, "cluster='k8s'")]:
        with pytest.raises(RnnmfError, match=match):
            _sweep(tmp_path / "p.csv", **kw)
    with pytest.raises(RnnmfError, match="repeat a key"):
        _sweep(tmp_path / "p.csv", points=POINTS + POINTS[:1])
    with pytest.raises(RnnmfError, match="key columns"):
        run_sweep(POINTS, toy_train, csv_path=tmp_path / "p.csv", columns=["a"], key_columns=KEYS)


@pytest.mark.slow
def test_process_pool_gives_the_in_process_rows_and_survives_a_failed_batch(tmp_path):
    import functools

    _sweep(tmp_path / "ref.csv")
    res = _sweep(tmp_path / "pool.csv", functools.partial(toy_train, delay=0.1), jobs=2, batch_size=2)
    assert res.ran == 12
    df = read_rows(tmp_path / "pool.csv")
    assert os.getpid() not in set(df["pid"])  # trained in the workers; only this process wrote
    pd.testing.assert_frame_equal(_canonical(tmp_path / "pool.csv"), _canonical(tmp_path / "ref.csv"))

    with pytest.raises(SweepError, match=r"1 of 6 batches failed.*injected failure at \(a, T\)=\(2.0, 40\)"):
        _sweep(tmp_path / "fail.csv", functools.partial(toy_train, fail_at=(2.0, 40)), jobs=2, batch_size=2)
    assert len(read_rows(tmp_path / "fail.csv")) == 10  # every batch but the failed one (a=1.5, 2.0 at T=40)


@pytest.mark.slow
def test_submitit_local_cluster_gives_the_in_process_rows(tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    _sweep(tmp_path / "ref.csv")
    res = _sweep(tmp_path / "sub.csv", jobs=2, executor="submitit", cluster="local", batch_size=4,
                 slurm={"timeout_min": 5, "cpus_per_task": 1, "mem_gb": 1, "partition": "ignored-locally"})
    assert (res.ran, res.batches) == (12, 3)
    assert (tmp_path / "submitit").is_dir()  # logs and pickles next to the CSV
    pd.testing.assert_frame_equal(_canonical(tmp_path / "sub.csv"), _canonical(tmp_path / "ref.csv"))
    assert _sweep(tmp_path / "sub.csv", executor="submitit", cluster="local").ran == 0


SWEEP_SCRIPT = textwrap.dedent("""
    import functools, sys
    from test_sweep import POINTS, COLUMNS, KEYS, toy_train
    from experiments.sweep import run_sweep
    run_sweep(POINTS, functools.partial(toy_train, delay=float(sys.argv[2])), csv_path=sys.argv[1], columns=COLUMNS,
              key_columns=KEYS, group_by=lambda p: p["T"], batch_size=1, jobs=int(sys.argv[3]), quiet=True)
""")


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_sigkill_mid_sweep_loses_only_batches_in_flight_and_rerun_completes(tmp_path, jobs):
    csv = tmp_path / "p.csv"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}

    def cmd(path, delay, n_jobs):
        return [sys.executable, "-c", SWEEP_SCRIPT, str(path), str(delay), str(n_jobs)]

    proc = subprocess.Popen(cmd(csv, 0.25, jobs), env=env, start_new_session=True)
    try:
        deadline = time.time() + 60
        while len(read_rows(csv)) < 4 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its pool workers, mid-batch
        proc.wait()
    written = len(read_rows(csv))
    assert 4 <= written < len(POINTS), "the kill must land mid-sweep"
    subprocess.run(cmd(csv, 0, 1), env=env, timeout=120, check=True)
    df = read_rows(csv)
    assert len(df) == len(POINTS) and not df.duplicated(KEYS).any()
    subprocess.run(cmd(tmp_path / "ref.csv", 0, 1), env=env, timeout=120, check=True)
    pd.testing.assert_frame_equal(_canonical(csv), _canonical(tmp_path / "ref.csv"))


ORPHAN_SCRIPT = textwrap.dedent("""
    import os, sys, time
    from experiments.sweep import run_sweep
    def train(points):
        open(os.path.join(sys.argv[1], f"worker-{os.getpid()}"), "w").close()
        time.sleep(60)
        return []
    if __name__ == "__main__":
        run_sweep([{"a": 1, "T": 1}, {"a": 2, "T": 2}], train, csv_path=os.path.join(sys.argv[1], "p.csv"),
                  columns=["a", "T"], key_columns=["a", "T"], batch_size=1, jobs=2, quiet=True)
""")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_pool_workers_die_with_a_killed_sweep(tmp_path):
    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], start_new_session=True)
    try:
        deadline = time.time() + 60
        while len(list(tmp_path.glob("worker-*"))) < 2 and time.time() < deadline:
            time.sleep(0.05)
        pids = [int(f.name.split("-")[1]) for f in tmp_path.glob("worker-*")]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        proc.kill()  # the sweep process alone, as `kill -9 PID` or the OOM killer would
        proc.wait()
        deadline = time.time() + 10
        while any(_alive(p) for p in pids) and time.time() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in pids), "orphaned pool workers kept running"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)


def curves_train(points):
    """A batch with rows for a second CSV (like seqmnist's curves): two per point, then the point's own row."""
    return Output([{"x": p["x"], "y": p["x"] ** 2} for p in points],
                  {"curves.csv": [{"x": p["x"], "step": s, "v": p["x"] + s} for p in points for s in (0, 1)]})


def test_rows_for_other_csvs_are_written_by_the_parent_once_each_before_the_points_row(tmp_path):
    """A run killed after a point's curve rows went out but before its own row trains the point again: its curve
    rows must not be doubled (seqmnist's curves.csv; workers never write)."""
    csv = tmp_path / "points.csv"
    from rnnmf.io import append_rows

    append_rows(tmp_path / "curves.csv", [{"x": 0.0, "step": 0, "v": 0.0}], ["x", "step", "v"])  # the killed run's
    points = [{"x": float(i)} for i in range(3)]
    kw = dict(csv_path=csv, columns=["x", "y"], key_columns=["x"], extra={"curves.csv": (["x", "step", "v"],
                                                                                         ["x", "step"])})
    assert run_sweep(points, curves_train, batch_size=1, **kw).ran == 3
    curves = read_rows(tmp_path / "curves.csv")
    assert len(curves) == 6 and not curves.duplicated(["x", "step"]).any()
    assert list(read_rows(csv)["y"]) == [0.0, 1.0, 4.0]
    assert run_sweep(points, curves_train, **kw).ran == 0 and len(read_rows(tmp_path / "curves.csv")) == 6
