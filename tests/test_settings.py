"""Typed settings (experiments/settings/, checked by experiments/schema): every job's YAML names exactly its settings'
keys at every profile; types, null and ranges are refused in one line, before torch is imported; old spellings of
renamed keys are refused by name and old run folders keep their names."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from experiments import schema
from experiments.config import PROFILES, compose_config, hashed_view, job_names
from experiments.schema import setting
from experiments.settings import for_job
from rnnmf.errors import RnnmfError
from rnnmf.io import config_hash

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Inner:
    n: int = setting(min=1)


@dataclass(frozen=True)
class Toy:
    x: float = setting(gt=0.0, lt=1.0)
    maybe: int | None = setting(min=0)
    pick: Literal["a", "b"] = setting()
    items: list[int] = setting(min=2)
    inner: Inner = setting()
    named: dict[str, Inner] = setting()


GOOD = {"x": 0.5, "maybe": None, "pick": "a", "items": [2, 3], "inner": {"n": 1}, "named": {"k": {"n": 2}}}


@pytest.mark.parametrize("change,message", [
    ({"x": None}, "x=null is invalid; valid: a finite number > 0 and < 1"),
    ({"x": 1.0}, "x=1.0 is invalid; valid: a finite number > 0 and < 1"),
    ({"x": True}, "x=True is invalid"),
    ({"x": "0.5"}, "x='0.5' is invalid"),
    ({"maybe": -1}, "maybe=-1 is invalid; valid: an integer >= 0 or null"),
    ({"pick": "c"}, "pick='c' is invalid; valid: one of a, b"),
    ({"items": [2, None]}, "items=[2, None] is invalid (null is not); valid: a non-empty list of integers >= 2"),
    ({"items": []}, "items=[] is invalid; valid: a non-empty list of integers >= 2"),
    ({"inner": {"n": 1, "m": 2}}, "unknown config key 'inner.m'; valid keys of inner: n"),
    ({"inner": {}}, "config key 'inner.n' is missing"),
    ({"inner": 3}, "inner=3 is invalid; valid: a mapping of n"),
    ({"named": {"k": {"n": 0}}}, "named.k.n=0 is invalid; valid: an integer >= 1"),
    ({"extra": 1}, "unknown config key 'extra'"),
])
def test_the_checker_names_the_key_the_value_and_what_is_valid(change, message):
    schema.check(Toy, GOOD)
    with pytest.raises(RnnmfError) as err:
        schema.check(Toy, {**GOOD, **change})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_an_override_is_checked_by_the_rule_of_its_key():
    schema.check_value(Toy, "named.other.n", 3)  # a name the user chooses takes the rule of every name
    with pytest.raises(RnnmfError, match=r"named.other.n=0 is invalid"):
        schema.check_value(Toy, "named.other.n", 0)
    assert schema.rule_at(Toy, "inner.nothing") is None


@pytest.mark.parametrize("job", job_names())
def test_every_profile_names_exactly_the_settings_keys(job):
    """The YAML holds the values, the settings class the keys, types and ranges: they agree at every profile (an
    extra or missing key would be refused when composing)."""
    for profile in PROFILES:
        schema.check(for_job(job).Settings, compose_config(job, [f"profile={profile}"]))


def test_library_names_the_settings_repeat_without_torch_agree_with_the_library():
    from experiments.settings import isometry, lm, mf_vs_mc, seqmnist, trainability
    from rnnmf import lm as rlm
    from rnnmf.nn import ensemble
    from rnnmf.sim import jacobian, montecarlo

    assert (lm.CELLS, lm.PAPER_CELLS, lm.SIZES) == (rlm.CELLS, rlm.PAPER_CELLS, tuple(rlm.BUDGETS))
    assert (isometry.CELLS, isometry.WEIGHTS) == (jacobian.CELLS, jacobian.WEIGHTS)
    assert mf_vs_mc.CHUNK_BYTES == montecarlo.CHUNK_BYTES
    assert set(schema.rule_at(mf_vs_mc.Settings, "sim.dtype").values) == set(montecarlo.DTYPES)
    assert set(seqmnist.CELLS) == set(ensemble.CELLS)
    assert set(schema.rule_at(trainability.Settings, "panels").item.values) == set(trainability.PANELS)
    from experiments.settings import memory_probe

    assert schema.rule_at(memory_probe.Settings, "panels").item.values == tuple(
        p for p, s in trainability.PANELS.items() if s["cell"] in ("vanilla", "minimal"))  # the probe's cells
    assert {p for p, s in trainability.PANELS.items() if s["cell"] == "minimal" and s["weights"] == "untied"} == set(
        memory_probe.OPEN_GATE_PANELS)
    from experiments import bench
    from experiments.settings import bench as bench_settings

    assert schema.rule_at(bench_settings.Settings, "suites").item.values == tuple(bench.BY_NAME)
    for cell in ("vanilla", "minimal"):
        for steps, inputs in ((None, None), (9, None), (9, 2), (9, 20)):
            assert trainability.member_params(cell, 7, steps, inputs) == ensemble.RNNEnsemble.param_count(
                cell, trainability.INPUT_SIZE, 7, trainability.NUM_CLASSES, steps=steps, input_steps=inputs)


# ------------------------------------------------------------------------------------- refused before torch
REFUSE = textwrap.dedent("""
    import json, sys
    from typer.testing import CliRunner
    from cli.main import app
    out = []
    for args in json.loads(sys.argv[1]):
        r = CliRunner().invoke(app, args)
        out.append([r.exit_code, [line for line in r.stderr.splitlines() if line.strip()], "torch" in sys.modules])
    print(json.dumps(out))
""")
SMOKE = ["profile=smoke", "run.quiet=true"]
BAD = [
    ["sweep", "trainability", *SMOKE, "task.hidden=null"],
    ["sweep", "trainability", *SMOKE, "grid.minimal_sigma_w.stop=1e6"],
    ["seqmnist", *SMOKE, "train.lr.minimal=null"],
    ["seqmnist", *SMOKE, "--T", "5"],
    ["seqmnist", *SMOKE, "critical.minimal.q_star=0.5"],
    ["lm", *SMOKE, "sizes.small.lr=null"],
    ["lm", *SMOKE, "--cell", "minimal", "init=critical", "sweep.rungs=[4,1]"],
    ["lm", *SMOKE, "cell=minimal"],
    ["isometry", *SMOKE, "networks=null"],
    ["isometry", *SMOKE, "density.T=[99]"],
    ["mf-vs-mc", *SMOKE, "sim.hidden=null"],
    ["mf-vs-mc", "--cell", "gru", *SMOKE, "sim.networks=null"],
    ["bench", *SMOKE, "--suite", "nope"],
    ["sweep", "memory-probe", *SMOKE, "widths=[0]"],
    ["sweep", "memory-probe", *SMOKE, "grid.T.start=9", "grid.T.stop=3"],
]


def test_bad_input_is_refused_in_one_line_with_exit_2_before_torch_is_imported(tmp_path):
    """Issue 15: a job that trains refused bad input only after importing torch (6.5-15 s); now every check of the
    settings comes first. ``null`` where a number is needed is one of them."""
    out = subprocess.run([sys.executable, "-c", REFUSE, json.dumps(BAD)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600, check=True)
    for args, (code, lines, torch_loaded) in zip(BAD, json.loads(out.stdout.splitlines()[-1]), strict=True):
        assert code == 2 and len(lines) == 1 and lines[0].startswith("rnnmf: error:"), (args, code, lines)
        assert not torch_loaded, args
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_missing_data_files_are_refused_before_torch_too(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [["sweep", "trainability", *SMOKE, f"data.root={empty}"],
             ["lm", *SMOKE, f"data.root={empty}", "download=false"]]
    out = subprocess.run([sys.executable, "-c", REFUSE, json.dumps(cases)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600, check=True)
    (a, b) = json.loads(out.stdout.splitlines()[-1])
    assert a[0] == 2 and "MNIST not found" in a[1][0] and not a[2]
    assert b[0] == 2 and "PTB not found" in b[1][0] and not b[2]


# ------------------------------------------------------------------------------------------------ names
@pytest.mark.parametrize("job,override,message", [
    ("lm", "cell=minimal", "cell: job 'lm' calls this key cells now; valid: cells=[minimal]"),
    ("seqmnist", "model.sigma_x=2.0", "model.sigma_x: job 'seqmnist' calls this key model.sigma_wx now; valid: "
                                      "model.sigma_wx=2.0"),
])
def test_an_old_spelling_is_refused_naming_the_new_one(job, override, message):
    with pytest.raises(RnnmfError, match=message.replace("[", r"\[").replace("]", r"\]")):
        compose_config(job, ["profile=smoke", override])


def test_renamed_keys_keep_the_run_folder_names_of_the_code_before():
    """Run folders made before the renames (lm's `cell`, seqmnist's `model.sigma_x`) keep their names: the hash is
    taken over the old spelling. The names below are what main made before issue 15 (profile smoke)."""
    lm = compose_config("lm", ["profile=smoke", "cells=[all]", "size=small"])
    assert hashed_view(lm)["cell"] == "all" and "cells" not in hashed_view(lm)
    assert config_hash(hashed_view(lm)) == "529349b1"
    assert config_hash(hashed_view(compose_config("seqmnist", ["profile=smoke"]))) == "3b3610ae"
    several = compose_config("lm", ["profile=smoke", "cells=[minimal,gru]"])  # new: hashed as it is
    assert hashed_view(several)["cells"] == ["minimal", "gru"]


#: every job's config hash (its run folder's name) at profile smoke, quick and paper, as main made them at c27e168:
#: moving keys between settings classes (issue 15) must not rename a folder
RUN_FOLDER_HASHES = {
    "bench": ("a8778387", "0d62c410", "c061d810"),
    "gated_mf_vs_mc": ("b9ba5900", "0c0b8acd", "75731e5f"),
    "gated_phase": ("2e851713", "fae19cf8", "0624b469"),
    "gated_seqmnist": ("c1acf9ba", "4130f5f4", "13fe805d"),
    "isometry": ("810de3ee", "8bcba5ba", "4c5f3c9f"),
    "lm": ("529349b1", "3cb83bb7", "e5737bf2"),
    "memory_probe": ("7217c3ee", "5d33ed51", "2640f1e9"),
    "mf_vs_mc": ("2a51ab11", "6388653b", "ff3fdc27"),
    "seqmnist": ("3b3610ae", "bb20aee9", "1df682a6"),
    "theory_phase": ("587a5f88", "9959055b", "4e865864"),
    "trainability": ("d6cf78f7", "4eb8d135", "a55cfa02"),
}


@pytest.mark.parametrize("job", sorted(RUN_FOLDER_HASHES))
def test_every_jobs_run_folder_keeps_its_name_at_every_profile(job):
    assert set(RUN_FOLDER_HASHES) == set(job_names())
    got = tuple(config_hash(hashed_view(compose_config(job, [f"profile={p}"]))) for p in ("smoke", "quick", "paper"))
    assert got == RUN_FOLDER_HASHES[job]


@pytest.mark.parametrize("job", ["mf_vs_mc", "gated_mf_vs_mc"])
def test_removed_tolerance_keeps_the_run_folder_names_and_is_refused_with_its_new_home(job):
    """``tolerance`` moved from the Fig. 1 YAMLs to the claims table (experiments.claims.C_T_TOLERANCE): Fig. 1's
    folders made before keep their names (hashes as main made them before the move; the gated job's changed anyway
    with ``critical.calibrate``), and an override says where the limit lives now."""
    if job == "mf_vs_mc":
        for profile, expected in (("smoke", "2a51ab11"), ("quick", "6388653b")):
            assert config_hash(hashed_view(compose_config(job, [f"profile={profile}"]))) == expected
    with pytest.raises(RnnmfError, match=rf"tolerance: job '{job}' has no such key any more: .*C_T_TOLERANCE = 0.02"):
        compose_config(job, ["profile=smoke", "tolerance=0.05"])


def test_one_convention_for_cells_on_the_command_line(monkeypatch):
    """`--cell` takes a comma-separated list (or all) for lm as for seqmnist, and becomes `cells=[...]`."""
    from typer.testing import CliRunner

    import cli.jobs
    from cli.main import app

    seen = []
    monkeypatch.setattr(cli.jobs, "run_job", lambda job, *a, **options: seen.append((job, options)))
    CliRunner().invoke(app, ["lm", "--cell", "minimal,gru", "--size", "small"])
    CliRunner().invoke(app, ["seqmnist", "--cell", "minimal,vanilla"])
    assert seen[0] == ("lm", {"cells": "[minimal,gru]", "size": "small"})
    assert seen[1][1]["cells"] == "[minimal,vanilla]"
    from experiments.settings.lm import cells

    assert cells(compose_config("lm", ["cells=[minimal,gru]"])) == ["minimal", "gru"]
    assert cells(compose_config("lm", ["cells=[all]"])) == ["lstm", "gru", "minimal"]
