"""Run a list of hostile inputs against every `rnnmf` command and grade each one (issue 14's acceptance).

Every case runs `rnnmf ...` in a fresh sandbox folder (its working directory) as a real process. A case that must be
refused passes when it exits 2 with exactly one stderr line `rnnmf: error: ...`, no traceback, nothing in the sandbox
changed, within 5 s (2 s for the calculators) and 1 GB of memory. A case with a valid input passes when it exits 0
(or, for `report`, names what it warns about). Special cases (signals, a second writer) run their own script.

    python tools/hostile_inputs.py [--only SUBSTRING] [--markdown docs/hostile-inputs.md]

Needs RNNMF_DATA_DIR (MNIST and PTB) for the cases that train; a read-only tmpfs at /tmp/rnnmf-ro is mounted when
the user may (root), else those cases are skipped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RNNMF = [sys.executable, "-m", "cli.main"]
REPO = Path(os.environ.get("RNNMF_HOSTILE_REPO") or Path(__file__).resolve().parents[1])  # the code under test
DATA = Path(os.environ.get("RNNMF_DATA_DIR", "/work/shared/data"))
RO = Path("/tmp/rnnmf-ro")
LIMIT_S, CALC_LIMIT_S, LIMIT_MB = 5.0, 2.0, 1024


@dataclass
class Case:
    group: str  # the command
    args: str  # after `rnnmf`; placeholders in {braces} are filled by the sandbox
    expect: str = "error"  # error | ok | warn
    fragment: str = ""  # must appear in the error line (or in the output for ok/warn)
    note: str = ""


def C(group, args, expect="error", fragment="", note=""):
    return Case(group, args, expect, fragment, note)


SMOKE = "profile=smoke run.quiet=true"
CASES: list[Case] = [
    # ------------------------------------------------------------------ theory vanilla (a calculator)
    C("theory vanilla", "theory vanilla --sigma-w 1e6 --sigma-v 0.025 --R 1", fragment="sigma_w"),
    C("theory vanilla", "theory vanilla --sigma-w 1000 --sigma-v 0.025 --R 1", fragment="q"),
    C("theory vanilla", "theory vanilla --sigma-w 1 --sigma-v 1000 --R 1", fragment="q"),
    C("theory vanilla", "theory vanilla --sigma-w 1e300 --sigma-v 1 --R 1"),
    C("theory vanilla", "theory vanilla --sigma-w 1 --sigma-v 1 --R 1e300"),
    C("theory vanilla", "theory vanilla --sigma-w 1 --sigma-v 1 --R 1 --sigma-b 1e6"),
    C("theory vanilla", "theory vanilla --sigma-w 1 --sigma-v 1 --R 0", fragment="R"),
    C("theory vanilla", "theory vanilla --sigma-w 1 --sigma-v 1 --R -1", fragment="R"),
    C("theory vanilla", "theory vanilla --sigma-w -1 --sigma-v 1 --R 1", fragment="sigma_w"),
    C("theory vanilla", "theory vanilla --sigma-w nan --sigma-v 1 --R 1", fragment="sigma_w"),
    C("theory vanilla", "theory vanilla --sigma-w inf --sigma-v 1 --R 1", fragment="sigma_w"),
    C("theory vanilla", "theory vanilla --sigma-w 1 --sigma-v 1 --R 1 --sigma12 1.5", fragment="sigma12"),
    C("theory vanilla", "theory vanilla --sigma-w abc --sigma-v 1 --R 1", fragment="sigma-w"),
    C("theory vanilla", "theory vanilla --sigma-w '' --sigma-v 1 --R 1", fragment="sigma-w"),
    C("theory vanilla", "theory vanilla --sigma-w 1 --sigma-v 1", fragment="--R"),
    C("theory vanilla", "theory vanilla --sigma-w 1 --sigma-v 1 --R 1 --mu-b 1e300", fragment="mu_b"),
    C("theory vanilla", "theory vanilla --sigma-w 1 --sigma-v 1 --R 1 --mu-b -1e300", fragment="mu_b"),
    C("theory vanilla", "theory vanilla --sigma-w 1e-320 --sigma-v 1 --R 1", "ok"),
    C("theory vanilla", "theory vanilla --sigma-w 0 --sigma-v 0 --R 1", "ok"),
    C("theory vanilla", "theory vanilla --sigma-w 1 --sigma-v 1 --R 1e-300", "ok"),
    C("theory vanilla", "theory vanilla --sigma-w 1 --sigma-v 1 --R 1 --sigma12 -1 --json", "ok"),
    C("theory vanilla", "theory vanilla --sigma-w 31 --sigma-v 1 --R 1 --sigma12 0.5", "ok", note="near the limit"),
    C("theory vanilla", "theory vanilla --sigma-w 1 --sigma-v 0.025 --R 1 --bogus 1", fragment="--bogus"),
    # ------------------------------------------------------------------ theory minimal (a calculator)
    C("theory minimal", "theory minimal --sigma-w 1e4 --sigma-v 1.39 --R 0.46 --mu-b 0", fragment="sigma_w"),
    C("theory minimal", "theory minimal --sigma-w 1e6 --sigma-v 1.39 --R 0.46 --mu-b 0"),
    C("theory minimal", "theory minimal --sigma-w 1e300 --sigma-v 1.39 --R 0.46 --mu-b 0"),
    C("theory minimal", "theory minimal --sigma-w 1 --sigma-v 1e300 --R 0.46 --mu-b 0"),
    C("theory minimal", "theory minimal --sigma-w 1 --sigma-v 1 --R 1e300 --mu-b 0"),
    C("theory minimal", "theory minimal --sigma-w 6.88 --sigma-v 1.39 --R 0.46 --mu-b 1e300", fragment="mu_b"),
    C("theory minimal", "theory minimal --sigma-w 6.88 --sigma-v 1.39 --R 0.46 --mu-b -1e300", fragment="mu_b"),
    C("theory minimal", "theory minimal --sigma-w 6.88 --sigma-v 1.39 --R 0.46 --mu-b 1e6", fragment="mu_b"),
    C("theory minimal", "theory minimal --sigma-w 6.88 --sigma-v 1.39 --R 0.46 --mu-b nan", fragment="mu_b"),
    C("theory minimal", "theory minimal --sigma-w 6.88 --sigma-v 1.39 --R 0.46 --mu-b 0 --T -1", fragment="T"),
    C("theory minimal", "theory minimal --sigma-w 6.88 --sigma-v 1.39 --R 0.46 --mu-b 0 --T 0", "ok"),
    C("theory minimal", "theory minimal --sigma-w 6.88 --sigma-v 1.39 --R 0.46 --mu-b 0 --T 999999999999999999 "
                        "--json", "ok"),
    C("theory minimal", "theory minimal --sigma-w 6.88 --sigma-v 1.39 --R 0.46 --mu-b 0 --T 1e3", fragment="--T"),
    C("theory minimal", "theory minimal --sigma-w 6.88 --sigma-v 1.39 --R 0.46 --mu-b 0 --s1 nan", fragment="s1"),
    C("theory minimal", "theory minimal --sigma-w 6.88 --sigma-v 1.39 --R 0.46 --mu-b 0 --s1 1e300", "ok"),
    C("theory minimal", "theory minimal --sigma-w 6.88 --sigma-v 1.39 --R 0.46 --mu-b 0 --sigma12 2",
      fragment="sigma12"),
    C("theory minimal", "theory minimal --sigma-w 6.88 --sigma-v 1.39 --R 0.46", fragment="--mu-b"),
    C("theory minimal", "theory minimal --sigma-w 10 --sigma-v 1.39 --R 0.46 --mu-b 6", "ok"),
    C("theory minimal", "theory minimal --sigma-w 6.88 --sigma-v 1.39 --R 0.46 --mu-b 100", "ok", "Q_star_stable  True",
      note="the domain's edge: Q* stable, not a rounding artefact"),
    C("theory minimal", "theory minimal --sigma-w 6.88 --sigma-v 1.39 --R 0.46 --mu-b -100", "ok"),
    C("theory minimal", "theory minimal --sigma-w 49 --sigma-v 1 --R 1 --mu-b 0 --sigma12 0.5", "ok",
      note="near the limit"),
    # ------------------------------------------------------------------ theory critical (a calculator)
    C("theory critical", "theory critical --cell minimal --q-star 1 --mu-b 4 --R 0.5", fragment="q_star"),
    C("theory critical", "theory critical --cell minimal --q-star 8 --mu-b 4 --R 0.46", "ok"),
    C("theory critical", "theory critical --cell bogus --q-star 1 --R 1", fragment="bogus"),
    C("theory critical", "theory critical --cell '' --q-star 1 --R 1", fragment="cell"),
    C("theory critical", "theory critical --cell minimal --q-star 0 --mu-b 4 --R 0.5", fragment="q_star"),
    C("theory critical", "theory critical --cell minimal --q-star -1 --mu-b 4 --R 0.5", fragment="q_star"),
    C("theory critical", "theory critical --cell minimal --q-star 1e300 --mu-b 4 --R 0.5", fragment="q_star"),
    C("theory critical", "theory critical --cell vanilla --q-star 1e6 --R 1", fragment="q_star"),
    C("theory critical", "theory critical --cell minimal --q-star 5 --mu-b 4 --R 0", fragment="R"),
    C("theory critical", "theory critical --cell minimal --q-star 5 --mu-b 4 --R 1e300", "ok",
      note="Algorithm 1 is scale-free in R: sigma_w^2 ~ 1e-299 is the answer"),
    C("theory critical", "theory critical --cell minimal --q-star 5 --mu-b 1e300 --R 0.5", fragment="mu_b"),
    C("theory critical", "theory critical --cell minimal --q-star 5 --mu-b nan --R 0.5", fragment="mu_b"),
    C("theory critical", "theory critical --cell vanilla --q-star 1e-300 --R 1", fragment="q_star >= 1e-06",
      note="sigma_v^2 = (4/3) q*^3 / R underflows: refused, not answered 'infeasible'"),
    C("theory critical", "theory critical --cell vanilla --q-star 1e-6 --R 1", "ok"),
    C("theory critical", "theory critical --cell vanilla --q-star 0.1 --mu-b 5 --R 1", fragment="q_star"),
    C("theory critical", "theory critical --cell vanilla --q-star 0.5 --R 1 --json", "ok"),
    C("theory critical", "theory critical --q-star 1 --R 1", fragment="--cell"),
    # ------------------------------------------------------------------ theory phase (a job)
    C("theory phase", f"theory phase {SMOKE} --num 100000", fragment="memory"),
    C("theory phase", f"theory phase {SMOKE} --num 0", fragment="num"),
    C("theory phase", f"theory phase {SMOKE} --num 1", fragment="num"),
    C("theory phase", f"theory phase {SMOKE} --num -5", fragment="num"),
    C("theory phase", f"theory phase {SMOKE} num=null", fragment="num"),
    C("theory phase", f"theory phase {SMOKE} num=abc", fragment="num"),
    C("theory phase", f"theory phase {SMOKE} num=2.5", fragment="num"),
    C("theory phase", f"theory phase {SMOKE} y.stop=1000.0", fragment="sigma_w"),
    C("theory phase", f"theory phase {SMOKE} x.start=1e300"),
    C("theory phase", f"theory phase {SMOKE} x.start=nan", fragment="nan"),
    C("theory phase", f"theory phase {SMOKE} --x bogus", fragment="bogus"),
    C("theory phase", f"theory phase {SMOKE} --x sigma_w --y sigma_w", fragment="sigma_w"),
    C("theory phase", f"theory phase {SMOKE} --cell bogus", fragment="bogus"),
    C("theory phase", f"theory phase {SMOKE} fixed.R=0", fragment="R"),
    C("theory phase", f"theory phase {SMOKE} fixed.R=null", fragment="fixed.R"),
    C("theory phase", f"theory phase {SMOKE} sigma12=2", fragment="sigma12"),
    C("theory phase", f"theory phase {SMOKE} run.quiet=null", fragment="run.quiet"),
    C("theory phase", f"theory phase {SMOKE} profile=bogus", fragment="bogus"),
    C("theory phase", f"theory phase {SMOKE} run.threads=0", fragment="run.threads"),
    C("theory phase", f"theory phase {SMOKE} run.device=bogus", fragment="bogus"),
    C("theory phase", f"theory phase {SMOKE} --out ''", fragment="--out"),
    C("theory phase", f"theory phase {SMOKE} --fresh --out ''", fragment="--out", note="issue 14 item 1"),
    C("theory phase", f"theory phase {SMOKE} --out .", fragment="working directory"),
    C("theory phase", f"theory phase {SMOKE} --fresh --out .", fragment="working directory"),
    C("theory phase", f"theory phase {SMOKE} --fresh --out ..", fragment="working directory"),
    C("theory phase", f"theory phase {SMOKE} --out {{FILE}}", fragment="file"),
    C("theory phase", f"theory phase {SMOKE} --out {{FILE}}/run", fragment="file"),
    C("theory phase", f"theory phase {SMOKE} --out {{RO}}/run", fragment="writ"),
    C("theory phase", f"theory phase {SMOKE} --out {{USERDIR}}", fragment="rnnmf did not"),
    C("theory phase", f"theory phase {SMOKE} --fresh --out {{USERDIR}}", fragment="rnnmf did not",
      note="user files kept"),
    C("theory phase", f"theory phase {SMOKE} --fresh --out {{OTHERJOB}}", fragment="mf_vs_mc"),
    C("theory phase", f"theory phase {SMOKE} --out {{OTHERJOB}}", fragment="mf_vs_mc"),
    C("theory phase", f"theory phase {SMOKE} num=13 --out {{PHASE}}", fragment="num"),
    C("theory phase", f"theory phase {SMOKE} --out {{PHASE}}", "ok", note="resumes its own folder"),
    C("theory phase", f"theory phase {SMOKE} --fresh --out {{PHASE}}", "ok", note="starts over in its own folder"),
    C("theory phase", f"theory phase {SMOKE} --out {{EMPTYDIR}}", "ok"),
    C("theory phase", f"theory phase {SMOKE} run.results_dir={{FILE}}", fragment="file"),
    C("theory phase", f"theory phase {SMOKE} --fresh --out {{OLDPHASE}}", "ok",
      note="a folder written by the previous code (meta.json without a config hash)"),
    C("theory phase", f"theory phase {SMOKE} --cell vanilla --x sigma_w --y sigma_v", fragment="x.start..x.stop",
      note="the x range defaults to mu_b's, -4..8: a negative sigma_w"),
    C("theory phase", f"theory phase {SMOKE} --cell vanilla --x sigma_w --y sigma_v x.start=0.5 x.stop=1.5 "
                      "y.start=0.01 y.stop=1.0", "ok"),
    # ------------------------------------------------------------------ mf-vs-mc
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} --hidden 1000000000", fragment="memory"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} --hidden 0", fragment="sim.hidden"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} --hidden -1", fragment="sim.hidden"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} --networks 0", fragment="sim.networks"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} sim.hidden=null", fragment="sim.hidden"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} model.sigma_w=null", fragment="model.sigma_w"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} model.sigma_w=1e6", fragment="sigma_w"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} model.R=0", fragment="R"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} model.R=1e300"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} mu_b.num=0", fragment="mu_b"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} mu_b.stop=1e300"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} schedule.switch=0", fragment="switch"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} sim.dtype=float16", fragment="float16"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} timescales.sigma12=[2]", fragment="sigma12"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} sim.tied_hidden=200000", fragment="memory"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} timescales.hidden=1000000000", fragment="memory"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} sim.chunk=0", fragment="sim.chunk"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} fixed_points.tolerance=-1", fragment="fixed_points.tolerance"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} theory_points=1", fragment="theory_points"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} fixed_points.window=0", fragment="window"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} schedule.steps=null", fragment="schedule.steps"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} run.device=cuda:99", fragment="cuda"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} --out {{PHASE}}", fragment="theory_phase"),
    C("mf-vs-mc", f"mf-vs-mc {SMOKE} --out {{CUTMF}}", "ok", fragment="mu_b_computed 1",
      note="dynamics.csv cut mid-line inside a mc_tied unit: that unit is redone"),
    # ------------------------------------------------------------------ sweep trainability
    C("sweep trainability", f"sweep trainability {SMOKE} --executor bogus", fragment="bogus"),
    C("sweep trainability", f"sweep trainability {SMOKE} --jobs 0", fragment="jobs"),
    C("sweep trainability", f"sweep trainability {SMOKE} --jobs -1", fragment="jobs"),
    C("sweep trainability", f"sweep trainability {SMOKE} --panels z", fragment="panels"),
    C("sweep trainability", f"sweep trainability {SMOKE} --panels ''", fragment="panels"),
    C("sweep trainability", f"sweep trainability {SMOKE} data.root={{EMPTYDIR}}", fragment="MNIST"),
    C("sweep trainability", f"sweep trainability {SMOKE} task.hidden=0", fragment="task.hidden"),
    C("sweep trainability", f"sweep trainability {SMOKE} task.hidden=null", fragment="task.hidden"),
    C("sweep trainability", f"sweep trainability {SMOKE} task.hidden=1000000000", fragment="memory"),
    C("sweep trainability", f"sweep trainability {SMOKE} grid.T.vanilla=[0]", fragment="grid.T"),
    C("sweep trainability", f"sweep trainability {SMOKE} grid.vanilla_sigma_w.num=0", fragment="num"),
    C("sweep trainability", f"sweep trainability {SMOKE} grid.minimal_sigma_w.stop=1e6", fragment="sigma_w"),
    C("sweep trainability", f"sweep trainability {SMOKE} boundary.threshold=2", fragment="threshold"),
    C("sweep trainability", f"sweep trainability {SMOKE} train.optimizer=bogus", fragment="bogus"),
    C("sweep trainability", f"sweep trainability {SMOKE} vanilla.lr=0", fragment="vanilla.lr"),
    C("sweep trainability", f"sweep trainability {SMOKE} minimal.lr=null", fragment="minimal.lr"),
    C("sweep trainability", f"sweep trainability {SMOKE} run.slurm.cluster=bogus", fragment="bogus"),
    C("sweep trainability", f"sweep trainability {SMOKE} init.weights=bogus", fragment="bogus"),
    C("sweep trainability", f"sweep trainability {SMOKE} ensemble.max_members=0", fragment="max_members"),
    C("sweep trainability", f"sweep trainability {SMOKE} task.eval_examples=0", fragment="eval_examples"),
    C("sweep trainability", f"sweep trainability {SMOKE} task.sigma_x=nan", fragment="sigma_x"),
    C("sweep trainability", f"sweep trainability {SMOKE} --panels a,c", "ok"),
    # ------------------------------------------------------------------ sweep memory-probe
    C("sweep memory-probe", f"sweep memory-probe {SMOKE} --panels z", fragment="panels"),
    C("sweep memory-probe", f"sweep memory-probe {SMOKE} --panels ''", fragment="panels"),
    C("sweep memory-probe", f"sweep memory-probe {SMOKE} data.root={{EMPTYDIR}}", fragment="MNIST"),
    C("sweep memory-probe", f"sweep memory-probe {SMOKE} widths=[0]", fragment="widths"),
    C("sweep memory-probe", f"sweep memory-probe {SMOKE} widths=null", fragment="widths"),
    C("sweep memory-probe", f"sweep memory-probe {SMOKE} widths=[1000000000]", fragment="memory"),
    C("sweep memory-probe", f"sweep memory-probe {SMOKE} grid.T.ratio=1", fragment="grid.T.ratio"),
    C("sweep memory-probe", f"sweep memory-probe {SMOKE} grid.T.start=9 grid.T.stop=3", fragment="grid.T"),
    C("sweep memory-probe", f"sweep memory-probe {SMOKE} probe.threshold=2", fragment="threshold"),
    C("sweep memory-probe", f"sweep memory-probe {SMOKE} task.n_train=1", fragment="n_train"),
    C("sweep memory-probe", f"sweep memory-probe {SMOKE} task.sigma_x=nan", fragment="sigma_x"),
    C("sweep memory-probe", f"sweep memory-probe {SMOKE} grid.minimal_sigma_w.stop=1e6", fragment="sigma_w"),
    C("sweep memory-probe", f"sweep memory-probe {SMOKE} init.open_first_gate=true", fragment="open_first_gate"),
    C("sweep memory-probe", f"sweep memory-probe {SMOKE} --panels c,e init.open_first_gate=true", "ok"),
    # ------------------------------------------------------------------ seqmnist
    C("seqmnist", f"seqmnist {SMOKE} --T 0", fragment="T"),
    C("seqmnist", f"seqmnist {SMOKE} --T 5", fragment="784"),
    C("seqmnist", f"seqmnist {SMOKE} --T -196", fragment="T"),
    C("seqmnist", f"seqmnist {SMOKE} --cell bogus", fragment="bogus"),
    C("seqmnist", f"seqmnist {SMOKE} --cell ''", fragment="cells"),
    C("seqmnist", f"seqmnist {SMOKE} model.hidden=0", fragment="model.hidden"),
    C("seqmnist", f"seqmnist {SMOKE} model.hidden=null", fragment="model.hidden"),
    C("seqmnist", f"seqmnist {SMOKE} model.hidden=1000000000", fragment="memory"),
    C("seqmnist", f"seqmnist {SMOKE} train.steps=0", fragment="train.steps"),
    C("seqmnist", f"seqmnist {SMOKE} train.lr.vanilla=0", fragment="train.lr.vanilla"),
    C("seqmnist", f"seqmnist {SMOKE} critical.minimal.q_star=1e6", fragment="q_star"),
    C("seqmnist", f"seqmnist {SMOKE} critical.minimal.mu_b=-4", fragment="critical"),
    C("seqmnist", f"seqmnist {SMOKE} target_acc=2", fragment="target_acc"),
    C("seqmnist", f"seqmnist {SMOKE} eval.examples=0", fragment="eval.examples"),
    C("seqmnist", f"seqmnist {SMOKE} data.root={{EMPTYDIR}}", fragment="MNIST"),
    C("seqmnist", f"seqmnist {SMOKE} train.optimizer=bogus", fragment="bogus"),
    C("seqmnist", f"seqmnist {SMOKE} n_seeds=0", fragment="n_seeds"),
    C("seqmnist", f"seqmnist {SMOKE} run.jobs=0", fragment="run.jobs"),
    C("seqmnist", f"seqmnist {SMOKE} run.executor=bogus", fragment="bogus"),
    C("seqmnist", f"seqmnist {SMOKE} --cell vanilla train.clip_grad_norm=null", "ok", note="nullable key"),
    C("seqmnist", f"seqmnist {SMOKE} --cell vanilla --T 196", "ok", fragment="> 4",
      note="an unreached target prints '> budget'"),
    # ------------------------------------------------------------------ lm
    C("lm", f"lm {SMOKE} --cell minimal clip=null", fragment="clip"),
    C("lm", f"lm {SMOKE} --cell minimal clip=0", fragment="clip"),
    C("lm", f"lm {SMOKE} --cell bogus", fragment="bogus"),
    C("lm", f"lm {SMOKE} --size bogus", fragment="bogus"),
    C("lm", f"lm {SMOKE} --cell minimal batch_size=0", fragment="batch_size"),
    C("lm", f"lm {SMOKE} --cell minimal batch_size=null", fragment="batch_size"),
    C("lm", f"lm {SMOKE} --cell minimal test_batch_size=null", fragment="test_batch_size"),
    C("lm", f"lm {SMOKE} --cell minimal sizes.small.params=0", fragment="params"),
    C("lm", f"lm {SMOKE} --cell minimal sizes.small.params=1000000000000", fragment="memory"),
    C("lm", f"lm {SMOKE} --cell minimal sizes.small.bptt=0", fragment="bptt"),
    C("lm", f"lm {SMOKE} --cell minimal sizes.small.dropout=1.0", fragment="dropout"),
    C("lm", f"lm {SMOKE} --cell minimal sizes.small.lr_decay=0", fragment="lr_decay"),
    C("lm", f"lm {SMOKE} --cell minimal max_batches=0", fragment="max_batches"),
    C("lm", f"lm {SMOKE} --cell minimal fused=null", fragment="fused"),
    C("lm", f"lm {SMOKE} --cell minimal verify_md5=false data.root={{PTB_EMPTY_TEST}}", fragment="ptb.test.txt",
      note="issue 14 item 8"),
    C("lm", f"lm {SMOKE} --cell minimal download=false data.root={{EMPTYDIR}}", fragment="PTB"),
    C("lm", f"lm {SMOKE} --cell minimal --out {{FILE}}", fragment="file"),
    # ------------------------------------------------------------------ isometry
    C("isometry", f"isometry {SMOKE} hidden=[1]", fragment="hidden"),
    C("isometry", f"isometry {SMOKE} hidden=[100000]", fragment="memory"),
    C("isometry", f"isometry {SMOKE} networks=1", fragment="networks"),
    C("isometry", f"isometry {SMOKE} chunk=0", fragment="chunk"),
    C("isometry", f"isometry {SMOKE} T=[0]", fragment="T"),
    C("isometry", f"isometry {SMOKE} T=[]", fragment="T"),
    C("isometry", f"isometry {SMOKE} density.T=[99]", fragment="density.T"),
    C("isometry", f"isometry {SMOKE} R=0", fragment="R"),
    C("isometry", f"isometry {SMOKE} R=null", fragment="R"),
    C("isometry", f"isometry {SMOKE} R=1e300"),
    C("isometry", f"isometry {SMOKE} minimal.q_star=1e6", fragment="q_star"),
    C("isometry", f"isometry {SMOKE} minimal.mu_b=[]", fragment="mu_b"),
    C("isometry", f"isometry {SMOKE} minimal.mu_b_ref=99", fragment="mu_b_ref"),
    C("isometry", f"isometry {SMOKE} cells=[bogus]", fragment="bogus"),
    C("isometry", f"isometry {SMOKE} vanilla.q_star=-1", fragment="q_star"),
    C("isometry", f"isometry {SMOKE} networks=null", fragment="networks"),
    # ------------------------------------------------------------------ bench
    C("bench", f"bench {SMOKE} --suite bogus", fragment="bogus"),
    C("bench", f"bench {SMOKE} --suite ''", fragment="suite"),
    C("bench", f"bench {SMOKE} --out {{FILE}}", fragment="file"),
    C("bench", f"bench {SMOKE} suites=[]", fragment="suites"),
    C("bench", f"bench {SMOKE} --out {{USERDIR}}", fragment="rnnmf did not", note="bench always starts over"),
    C("bench", f"bench {SMOKE} --suite theory", "ok"),
    # ------------------------------------------------------------------ report
    C("report", "report --results nosuch", fragment="nosuch"),
    C("report", "report --results {FILE}", fragment="file"),
    C("report", "report --results {RO}", fragment="writ"),
    C("report", "report --results {GARBAGE}", "warn", fragment="spectra.csv", note="a CSV of random bytes"),
    C("report", "report --results {HALF}", "warn", fragment="spectra.csv", note="a spectra.csv cut in half"),
    C("report", "report --results {SMOKERUN}", "ok", fragment="INFO", note="smoke runs are INFO, not PASS/FAIL"),
    C("report", "report --results {EMPTYDIR}", "ok", fragment="MISSING"),
    # ------------------------------------------------------------------ the application
    C("rnnmf", "nosuch", fragment="nosuch"),
    C("rnnmf", "--bogus", fragment="--bogus"),
    C("rnnmf", "theory nosuch", fragment="nosuch"),
    C("rnnmf", "sweep nosuch", fragment="nosuch"),
]


# --------------------------------------------------------------------------------------------------- sandboxes
def _rnnmf(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    return subprocess.run(RNNMF + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


_FIXTURES: dict[str, Path] = {}


def _fixture_run(name: str, args: list[str]) -> Path:
    """A finished run folder made once per session (copied into each sandbox that asks for it)."""
    if name not in _FIXTURES:
        where = Path(tempfile.mkdtemp(prefix=f"hostile-{name}-"))
        res = _rnnmf([*args, "--out", str(where / "run")], where, timeout=600)
        if res.returncode != 0:
            raise RuntimeError(f"fixture {name} failed: {res.stderr}")
        _FIXTURES[name] = where / "run"
    return _FIXTURES[name]


def fill(text: str, box: Path) -> str:
    """Make what the placeholders of ``text`` name inside the sandbox ``box``; return the text with paths."""
    values = {}
    if "{FILE}" in text:
        (box / "afile.txt").write_text("a user's file\n")
        values["FILE"] = "afile.txt"
    if "{USERDIR}" in text:
        (box / "mine").mkdir()
        (box / "mine" / "thesis.tex").write_text("a user's thesis\n")
        values["USERDIR"] = "mine"
    if "{EMPTYDIR}" in text:
        (box / "empty").mkdir()
        values["EMPTYDIR"] = "empty"
    if "{RO}" in text:
        values["RO"] = str(RO)
    if "{OTHERJOB}" in text:
        shutil.copytree(_fixture_run("mf", ["mf-vs-mc", *SMOKE.split()]), box / "other")
        values["OTHERJOB"] = "other"
    if "{PHASE}" in text:
        shutil.copytree(_fixture_run("phase", ["theory", "phase", *SMOKE.split()]), box / "phase")
        values["PHASE"] = "phase"
    if "{OLDPHASE}" in text:
        shutil.copytree(_fixture_run("phase", ["theory", "phase", *SMOKE.split()]), box / "old")
        meta = json.loads((box / "old" / "meta.json").read_text())
        meta.pop("config_hash", None)
        (box / "old" / "meta.json").write_text(json.dumps(meta))
        values["OLDPHASE"] = "old"
    if "{CUTMF}" in text:
        shutil.copytree(_fixture_run("mf", ["mf-vs-mc", *SMOKE.split()]), box / "cut")
        dyn = box / "cut" / "dynamics.csv"
        lines = dyn.read_text().splitlines(keepends=True)
        tied = [i for i, line in enumerate(lines) if ",mc_tied," in line]
        keep = lines[: tied[len(tied) // 2]]  # inside the last mu_b's mc_tied rows
        dyn.write_text("".join(keep) + lines[tied[len(tied) // 2]][:7])  # and a torn line
        values["CUTMF"] = "cut"
    if "{PTB_EMPTY_TEST}" in text:
        (box / "data" / "ptb").mkdir(parents=True)
        for split in ("train", "valid"):
            shutil.copy(DATA / "ptb" / f"ptb.{split}.txt", box / "data" / "ptb")
        (box / "data" / "ptb" / "ptb.test.txt").write_text("")
        values["PTB_EMPTY_TEST"] = "data"
    if "{GARBAGE}" in text or "{HALF}" in text or "{SMOKERUN}" in text:
        iso = _fixture_run("iso", ["isometry", *SMOKE.split()])
        res = box / "res"
        shutil.copytree(iso, res / "isometry" / "smoke-x")
        spectra = res / "isometry" / "smoke-x" / "spectra.csv"
        if "{GARBAGE}" in text:
            spectra.write_bytes(os.urandom(4000))
            values["GARBAGE"] = "res"
        elif "{HALF}" in text:
            raw = spectra.read_bytes()
            spectra.write_bytes(raw[: len(raw) // 2])
            values["HALF"] = "res"
        else:
            values["SMOKERUN"] = "res"
    return text.format(**values) if values else text


def snapshot(box: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for p in sorted(box.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(box))] = (st.st_size, st.st_mtime_ns) if p.is_file() else (-1, 0)
    return out


def run_case(case: Case) -> dict:
    box = Path(tempfile.mkdtemp(prefix="hostile-"))
    try:
        if "{RO}" in case.args and not RO.is_dir():
            return {"ok": None, "why": "no read-only file system here (skipped)"}
        args = shlex.split(fill(case.args, box))
        before = snapshot(box)
        t0 = time.perf_counter()
        proc = subprocess.Popen(["/usr/bin/time", "-f", "MAXRSS %M", *RNNMF, *args], cwd=box,
                                env={**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        limit = 300 if case.expect != "error" else 60
        try:
            out, err = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        wall = time.perf_counter() - t0
        if case.group == "report":  # what the report says is in the file it wrote
            out += "".join(p.read_text(errors="replace") for p in box.rglob("REPORT.md"))
        rss_mb = 0.0
        lines = []
        for line in err.splitlines():
            if line.startswith("MAXRSS "):
                rss_mb = int(line.split()[1]) / 1024
            elif line.strip() and not line.startswith("Command exited with non-zero status"):
                lines.append(line)
        code = proc.returncode
        problems = []
        calc = case.group in ("theory vanilla", "theory minimal", "theory critical")
        if case.expect == "error":
            if code != 2:
                problems.append(f"exit {code}")
            if len(lines) != 1 or not lines[0].startswith("rnnmf: error:"):
                problems.append(f"{len(lines)} stderr lines")
            if snapshot(box) != before:
                problems.append("left something behind")
            if rss_mb > LIMIT_MB:
                problems.append(f"{rss_mb:.0f} MB")
            if case.fragment and lines and case.fragment.lower() not in lines[0].lower():
                problems.append(f"message lacks {case.fragment!r}")
        else:
            if code != 0:
                problems.append(f"exit {code}")
            if case.fragment and " ".join(case.fragment.split()) not in " ".join((out + err).split()):
                problems.append(f"output lacks {case.fragment!r}")
            if case.expect == "warn" and "warn" not in (out + err).lower():
                problems.append("no warning")
        if "Traceback" in out + err:
            problems.append("traceback")
        message = lines[0] if (case.expect == "error" and lines) else (lines[-1] if lines else out.strip()[-160:])
        # time is graded apart: on a shared 2-core machine it follows the load (importing torch took 2-8 s)
        limit = CALC_LIMIT_S if calc else LIMIT_S if case.expect == "error" else math.inf
        return {"ok": not problems, "why": ", ".join(problems), "code": code, "wall": wall, "rss": rss_mb,
                "message": message, "in_time": wall <= limit, "hung": wall >= 59}
    finally:
        shutil.rmtree(box, ignore_errors=True)


# ------------------------------------------------------------------------------------------- special cases
def _wait_running(meta: Path, timeout: float = 120) -> bool:
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            if json.loads(meta.read_text()).get("status") == "running" and (meta.parent / "curves.csv").exists():
                return True
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    return False


LONG = ["seqmnist", "profile=smoke", "run.quiet=true", "--cell", "vanilla", "train.steps=400", "train.eval_every=2"]


def special_cases() -> list[tuple[Case, dict]]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    results = []
    for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
        box = Path(tempfile.mkdtemp(prefix="hostile-sig-"))
        case = C("seqmnist", f"seqmnist ... --out run, then {name} while it trains", "interrupted", "resume")
        # a shell without job control starts background jobs with SIGINT ignored, and rnnmf (rightly) keeps an
        # ignored SIGINT ignored: give the process the default disposition, as a terminal would
        proc = subprocess.Popen(RNNMF + LONG + ["--out", "run"], cwd=box, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        ok = _wait_running(box / "run" / "meta.json")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=300)
        status = json.loads((box / "run" / "meta.json").read_text()).get("status")
        lines = [line for line in err.splitlines() if line.strip()]
        problems = []
        if not ok:
            problems.append("never started")
        if status != "interrupted":
            problems.append(f"status {status}")
        if len(lines) != 1 or "same command" not in lines[0]:
            problems.append(f"stderr {lines}")
        if "Traceback" in err:
            problems.append("traceback")
        again = _rnnmf(LONG + ["--out", "run"], box, timeout=600)
        if again.returncode != 0:
            problems.append(f"resume exit {again.returncode}")
        results.append((case, {"ok": not problems, "why": ", ".join(problems), "code": proc.returncode,
                               "wall": 0.0, "rss": 0.0, "message": lines[0] if lines else ""}))
        shutil.rmtree(box, ignore_errors=True)
    box = Path(tempfile.mkdtemp(prefix="hostile-lock-"))
    case = C("seqmnist", "two `seqmnist ... --out run` one second apart", "error", "PID")
    first = subprocess.Popen(RNNMF + LONG + ["--out", "run"], cwd=box, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    _wait_running(box / "run" / "meta.json")
    second = _rnnmf(LONG + ["--out", "run"], box, timeout=300)
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=300)
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    problems = []
    if second.returncode != 2:
        problems.append(f"exit {second.returncode}")
    if len(lines) != 1 or str(first.pid) not in lines[0]:
        problems.append(f"stderr {lines}")
    results.append((case, {"ok": not problems, "why": ", ".join(problems), "code": second.returncode, "wall": 0.0,
                           "rss": 0.0, "message": lines[0] if lines else ""}))
    shutil.rmtree(box, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run the cases whose command contains this text")
    parser.add_argument("--markdown", default="", help="write the table to this file")
    parser.add_argument("--no-special", action="store_true", help="skip the signal and lock cases")
    parser.add_argument("--special-only", action="store_true", help="only the signal and lock cases")
    parser.add_argument("--baseline", default="", help="the printed log of a run against older code: a 'before' "
                                                       "column for the markdown")
    args = parser.parse_args()
    if os.geteuid() == 0 and not RO.is_dir():
        RO.mkdir(exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(RO)], check=False)
    rows = []
    for case in CASES:
        if args.special_only or args.only and args.only not in f"{case.group} {case.args}":
            continue
        res = run_case(case)
        rows.append((case, res))
        mark = "skip" if res["ok"] is None else "PASS" if res["ok"] else "FAIL"
        slow = "" if res.get("in_time", True) else " (slow)"
        print(f"{mark:4} [{case.group}] rnnmf {case.args}  ({res.get('code')}, {res.get('wall', 0):.1f} s, "
              f"{res.get('rss', 0):.0f} MB) {res['why']}{slow}  | {res.get('message', '')[:150]}", flush=True)
    if not args.no_special and not args.only:
        try:
            special = special_cases()
        except Exception as exc:  # noqa: BLE001 - e.g. a second writer that is not refused runs past the timeout
            special = [(C("seqmnist", "signals and a second writer"), {"ok": False, "why": repr(exc)[:200]})]
        for case, res in special:
            rows.append((case, res))
            print(f"{'PASS' if res['ok'] else 'FAIL'} [{case.group}] {case.args} {res['why']} | "
                  f"{res.get('message', '')}")
    failed = [r for r in rows if r[1]["ok"] is False]
    slow = [r for r in rows if r[1].get("in_time") is False]
    print(f"{len(rows)} cases, {len(failed)} failed, {len(slow)} over the time limit (5 s; 2 s for a calculator)")
    if args.markdown:
        write_markdown(Path(args.markdown), rows, read_baseline(Path(args.baseline)) if args.baseline else {})
    return 1 if failed else 0


LOG_LINE = re.compile(r"^(PASS|FAIL|skip) \[(?P<group>[^\]]+)\] (?:rnnmf )?(?P<args>.*?)  \((?P<code>-?\d+|None), "
                      r"(?P<wall>[\d.]+) s, (?P<rss>\d+) MB\) (?P<why>.*?)  \| ")


def read_baseline(log: Path) -> dict[tuple[str, str], dict]:
    """What the older code did on each case (the printed log of this script), by (command, input). Problems that
    are only a message lacking the new wording are not counted against it."""
    out = {}
    for line in log.read_text().splitlines():
        m = LOG_LINE.match(line)
        if m:
            why = [w for w in m["why"].split(", ") if w and not w.startswith(("message lacks", "output lacks"))
                   and not re.fullmatch(r"[\d.]+ s", w)]
            if float(m["wall"]) >= 59:
                why.append("hung (killed at 60 s)")
            out[(m["group"], m["args"])] = {"code": m["code"], "wall": float(m["wall"]), "rss": int(m["rss"]),
                                            "why": ", ".join(why)}
    return out


def write_markdown(path: Path, rows, before: dict) -> None:
    head = "| # | command | input | expected | before: exit, s, MB, problems | after: exit, s, MB | after | message |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for i, (case, res) in enumerate(rows, 1):
        status = "skipped" if res["ok"] is None else "pass" if res["ok"] else f"FAIL: {res['why']}"
        status += "" if res.get("in_time", True) else " (slow)"
        msg = res.get("message", "").replace("|", "\\|").replace("\n", " ")[:160]
        b = before.get((case.group, case.args))
        was = "—" if b is None else f"{b['code']}, {b['wall']:.1f}, {b['rss']}, {b['why'] or 'ok'}"
        lines.append(f"| {i} | {case.group} | `{case.args.replace('|', '/')}` | {case.expect} | {was} | "
                     f"{res.get('code', '')}, {res.get('wall', 0):.1f}, {res.get('rss', 0):.0f} | {status} | {msg} |")
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
