"""The command line: help, version, and the one-line exit-2 policy for every kind of bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rnnmf
from cli.main import app

runner = CliRunner()
COMMANDS = [["theory"], ["theory", "vanilla"], ["theory", "minimal"], ["theory", "critical"], ["theory", "phase"],
            ["mf-vs-mc"], ["sweep"], ["sweep", "trainability"], ["seqmnist"], ["lm"], ["isometry"], ["bench"],
            ["report"]]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rnnmf: error:")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"rnnmf {rnnmf.__version__}"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_every_command_has_help(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout


def test_top_level_help_lists_the_command_tree():
    out = invoke("--help").stdout
    for name in ("theory", "mf-vs-mc", "sweep", "seqmnist", "lm", "isometry", "bench", "report"):
        assert name in out


@pytest.mark.parametrize("args,fragment", [
    (["nosuch"], "No such command"),
    (["lm", "--bogus"], "No such option"),
    (["lm", "nokey=3"], "unknown config key 'nokey'"),
    (["lm", "profile=huge"], "unknown profile 'huge'"),
    (["lm", "profile=cpu"], "profile 'cpu' is defined only for trainability; valid for lm: smoke, quick, paper"),
    (["lm", "a=="], "malformed override"),
    (["lm", "+extra=1"], "not supported"),
    (["lm", "seed=abc"], "seed='abc' is invalid; valid: an integer >= 0"),
    (["lm", "data=3"], "data=3 is invalid; valid: a mapping of root"),
    (["theory", "phase", "run.quiet=maybe"], "run.quiet='maybe' is invalid; valid: true or false"),
    (["isometry", "run.threads=0"], "run.threads=0 is invalid"),
    (["isometry", "threads=1"], "unknown config key 'threads'"),  # the jobs' own copies of run.threads are gone
    (["mf-vs-mc", "sim.threads=1"], "unknown config key 'sim.threads'"),
    (["sweep", "trainability", "ensemble.threads=1"], "unknown config key 'ensemble.threads'"),
])
def test_bad_input_is_one_line_exit_2(args, fragment, tmp_path):
    result = invoke(*args)
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "results").exists(), "bad input must not leave a run folder behind"


def test_run_threads_reaches_a_job_and_is_restored_after(tmp_path):
    import torch

    torch.set_num_threads(2)  # conftest puts back its own setting after the test
    out = tmp_path / "run"
    result = invoke("isometry", "profile=smoke", "run.threads=1", "cells=[vanilla]", "weights=[gaussian]", "hidden=[8]",
                    "T=[1,3]", "density.T=[3]", "density.bins=5", "--quiet", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "threads: 1" in (out / "config.yaml").read_text() and (out / "slopes.csv").exists()
    assert torch.get_num_threads() == 2  # the next job in this process (make reproduce-all) starts from torch's own


def test_console_script_in_a_real_process():
    """The installed entry point, not just CliRunner: exit code 2, one stderr line, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "cli.main", "lm", "nokey=1"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "unknown config key" in proc.stderr
    ok = subprocess.run([sys.executable, "-m", "cli.main", "--version"], capture_output=True, text=True)
    assert ok.returncode == 0 and json.dumps(ok.stdout.strip()).startswith('"rnnmf')
