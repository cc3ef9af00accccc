"""Run folders and the crash-safe CSV appender, tested by killing a real writer process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import types

import numpy as np
import pandas as pd
import pytest

from experiments import runner
from rnnmf.errors import RnnmfError
from rnnmf.io import (
    RunFolder,
    append_rows,
    config_hash,
    finished_keys,
    format_value,
    iter_rows,
    read_rows,
    write_json_atomic,
)

COLUMNS = ["i", "x", "label", "status"]
WRITER = textwrap.dedent("""
    import sys, time
    from rnnmf.io import append_rows, finished_keys
    path, n = sys.argv[1], int(sys.argv[2])
    done = finished_keys(path, ["i"])
    for i in range(n):
        if (str(i),) in done:
            continue
        append_rows(path, [{"i": i, "x": i / 7, "label": "p,q \\"quoted\\"", "status": "ok"}],
                    ["i", "x", "label", "status"])
        time.sleep(0.002)
""")


def test_format_value_round_trips_floats():
    for v in (0.1, 1 / 3, -2.5e-300, 1e300, 6.88):
        assert float(format_value(v)) == v
    assert format_value(float("inf")) == "inf" and format_value(None) == "" and format_value(True) == "true"
    assert format_value(np.float64(1.5)) == "1.5" and format_value(np.int64(3)) == "3"
    assert format_value(np.bool_(True)) == "true" and format_value(np.float32(0.25)) == "0.25"


def test_append_and_read(tmp_path):
    path = tmp_path / "rows.csv"
    append_rows(path, [{"i": 0, "x": 0.5, "label": "a", "status": "ok"}], COLUMNS)
    append_rows(path, [{"i": 1, "x": float("nan"), "label": "b,c", "status": "diverged"}], COLUMNS)
    df = read_rows(path)
    assert list(df.columns) == COLUMNS and len(df) == 2
    assert df.label.tolist() == ["a", "b,c"] and pd.isna(df.x[1])
    with pytest.raises(ValueError, match="differs"):
        append_rows(path, [{"i": 2}], ["i"])


def test_torn_last_line_is_ignored_and_repaired(tmp_path):
    path = tmp_path / "rows.csv"
    append_rows(path, [{"i": 0, "x": 1.0, "label": "a", "status": "ok"}], COLUMNS)
    with open(path, "ab") as fh:  # what a writer killed in the middle of a row leaves behind
        fh.write(b"1,0.142857")
    assert [r["i"] for r in iter_rows(path)] == ["0"]
    assert finished_keys(path, ["i"]) == {("0",)}
    append_rows(path, [{"i": 1, "x": 2.0, "label": "b", "status": "ok"}], COLUMNS)
    assert path.read_text().splitlines() == ["i,x,label,status", "0,1.0,a,ok", "1,2.0,b,ok"]


def test_killed_writer_loses_nothing_and_resume_finds_exactly_the_finished_rows(tmp_path):
    path, n = tmp_path / "rows.csv", 400
    env = dict(os.environ, PYTHONPATH=str(runner.__file__).rsplit("/experiments/", 1)[0])
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(n)], env=env)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(iter_rows(path))) < 40:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rows = list(iter_rows(path))
    assert 40 <= len(rows) < n, "the writer should have been killed mid-sweep"
    keys = finished_keys(path, ["i"])
    assert keys == {(str(i),) for i in range(len(rows))}, "finished rows are exactly a prefix, none torn"
    assert all(r["status"] == "ok" and r["label"] == 'p,q "quoted"' for r in rows)
    # resume: the same writer skips what is done and finishes the rest
    subprocess.run([sys.executable, "-c", WRITER, str(path), str(n)], env=env, check=True)
    df = read_rows(path)
    assert sorted(df.i.tolist()) == list(range(n)), "every row exactly once"
    assert df.x.tolist() == [i / 7 for i in range(n)]


def test_atomic_json(tmp_path):
    write_json_atomic(tmp_path / "m.json", {"a": 1})
    write_json_atomic(tmp_path / "m.json", {"a": 2})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"], "no temporary files left behind"


def _fake_job(monkeypatch, run, validate=None):
    monkeypatch.setattr(runner, "job_module", lambda job: types.SimpleNamespace(run=run))
    checks = {"cross_check": validate} if validate else {}  # the job's cross_check (experiments.settings.<job>)
    monkeypatch.setattr(runner, "for_job", lambda job: types.SimpleNamespace(**checks))


def test_execute_writes_a_run_folder(tmp_path, monkeypatch):
    def run(cfg, out_dir):
        append_rows(out_dir / "points.csv", [{"i": 1}], ["i"])
        return {"points": 1}

    _fake_job(monkeypatch, run)
    summary, path = runner.execute("lm", ["profile=quick", "seed=3"])
    assert summary == {"points": 1}
    assert path.resolve().parent == tmp_path / "results" / "lm" and path.name.startswith("quick-")
    meta = json.loads((path / "meta.json").read_text())
    assert meta["status"] == "done" and meta["summary"] == {"points": 1} and meta["attempts"] == 1
    assert {"git_commit", "versions", "cpu", "start_time", "end_time"} <= set(meta)
    assert (path / "overrides.txt").read_text() == "profile=quick\nseed=3\n"
    assert "seed: 3" in (path / "config.yaml").read_text()
    # the same command again resumes in the same folder; run-only keys do not change it
    assert runner.execute("lm", ["profile=quick", "seed=3", "run.quiet=true"])[1] == path
    assert json.loads((path / "meta.json").read_text())["attempts"] == 2
    assert runner.execute("lm", ["profile=quick", "seed=3"], fresh=True)[1] == path
    assert json.loads((path / "meta.json").read_text())["attempts"] == 1


@pytest.mark.parametrize("where", ["validate", "run"])
def test_bad_input_leaves_no_folder(tmp_path, monkeypatch, where):
    def boom(*_):
        raise RnnmfError("sigma_w=-1: must be >= 0")

    _fake_job(monkeypatch, run=boom if where == "run" else (lambda c, o: {}),
              validate=boom if where == "validate" else None)
    with pytest.raises(RnnmfError):
        runner.execute("lm", [])
    assert not (tmp_path / "results" / "lm").exists()


def test_a_crash_keeps_partial_results_and_says_so(tmp_path, monkeypatch):
    def run(cfg, out_dir):
        append_rows(out_dir / "points.csv", [{"i": 1}], ["i"])
        raise KeyboardInterrupt

    _fake_job(monkeypatch, run)
    with pytest.raises(KeyboardInterrupt):
        runner.execute("lm", [], out=tmp_path / "mine")
    assert json.loads((tmp_path / "mine" / "meta.json").read_text())["status"] == "interrupted"
    assert (tmp_path / "mine" / "points.csv").exists()


def test_run_folder_keeps_resumed_results_on_input_error(tmp_path):
    path = tmp_path / "run"
    with RunFolder(path, config_yaml="a: 1\n"):
        append_rows(path / "rows.csv", [{"i": 1}], ["i"])
    with pytest.raises(RnnmfError), RunFolder(path, config_yaml="a: 1\n"):
        raise RnnmfError("bad")
    assert (path / "rows.csv").exists()


def test_config_hash_is_order_independent():
    assert config_hash({"a": 1, "b": {"c": 2}}) == config_hash({"b": {"c": 2}, "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})
