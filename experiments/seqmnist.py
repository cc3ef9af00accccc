"""Fig. 3: critical against off-critical initialisation on sequential MNIST (Sec. 4.2).

Each image is unrolled into T steps of 784/T standardised pixels (T = 196 and 784); a VanillaRNN or MinimalRNN reads
them and a linear read-out of the final hidden state classifies the digit. Four initialisations per cell, σ_b² = 0:

* critical + orthogonal / gaussian: σ_w², σ_v² with χ₁ = 1 at the configured q* (eq. 4 for the vanilla RNN,
  Algorithm 1 / eq. 13 for the minimalRNN, at the configured μ_b);
* off-critical + orthogonal / gaussian: σ_w² = σ_v² = 1, μ_b = 0 (the paper's "common initialization").

R is the second moment of the cell's actual input: the standardised pixels (R = 1 on the training split) for the
vanilla RNN, x̃ = tanh(W_x x) under its initial W_x for the minimalRNN, measured on 2,048 training images. h⁰ is zero
by default, or ``model.h0=q_star``: h⁰ ~ N(0, Q*) per example as Algorithm 1 says (see conf/seqmnist.yaml for why
zeros is the default).

One unit of work is one (cell, T, init, weights, seed) training run through ``rnnmf.train.fit`` with its own
checkpoint (``checkpoints/<unit>.pt``); units go through the sweep runner (``experiments.sweep``), so ``run.jobs=2``
trains two at a time and ``run.executor=submitit`` sends them to Slurm. Outputs in the run folder:

* ``curves.csv``: one row per evaluation (cell, T, init, weights, seed, step, test_acc, train_loss, wall_s),
  appended as the run goes by the process that trains the unit;
* ``summary.csv``: one row per finished unit: steps to reach ``target_acc`` test accuracy (the budget when never),
  the initialisation actually used (σ_w², σ_v², μ_b, q*, Q*, R, χ₁) and the status (ok | diverged);
* ``fig3.png/.pdf`` (rows: T; columns: cell) and ``table.md`` (steps to 90% beside the paper's statements), drawn
  from the CSVs alone by ``experiments.figures.fig3``.

A re-run skips finished units and resumes unfinished ones from their checkpoints onto the same curves.
"""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import nn

from experiments.figures import draw
from experiments.schema import Bool, Int, ListOf, Num, OneOf, check_memory
from rnnmf.errors import RnnmfError
from rnnmf.io import append_rows, finished_keys, read_rows, row_key
from rnnmf.progress import say

CELLS = ("vanilla", "minimal")
INITS = ("critical", "off_critical")
WEIGHTS = ("orthogonal", "gaussian")
OPTIMIZERS = ("rmsprop", "adam", "sgd")
H0 = ("q_star", "zeros")
UNIT_KEY = ["cell", "T", "init", "weights", "seed"]
CURVE_COLUMNS = [*UNIT_KEY, "step", "test_acc", "train_loss", "wall_s"]
SUMMARY_COLUMNS = [*UNIT_KEY, "steps_to_90", "target_acc", "reached", "budget", "final_acc", "best_acc", "sigma_w_sq",
                   "sigma_v_sq", "mu_b", "q_star", "Q_star", "R", "chi_1", "hidden", "status", "wall_s"]

# ---------------------------------------------------------------------------------------------------- config
def cells(cfg) -> list[str]:
    """``cells`` as a list; ``all`` (the CLI's ``--cell all``) means both."""
    names = [str(c) for c in cfg.cells]
    if "all" in names:
        return list(CELLS)
    bad = [c for c in names if c not in CELLS]
    if bad or not names:
        raise RnnmfError(f"cells={names!r} is invalid; valid: a non-empty list of {', '.join(CELLS)}, or [all]")
    return names


_POS = Num(gt=0.0)
SCHEMA = {
    "cells": ListOf(item=OneOf(values=(*CELLS, "all"))),
    "lengths": ListOf(item=Int(), nonempty=False),  # divisors of 784: validate
    "inits": ListOf(item=OneOf(values=INITS)), "weights": ListOf(item=OneOf(values=WEIGHTS)),
    "n_seeds": Int(min=1), "target_acc": Num(gt=0.0, max=1.0),
    "model.hidden": Int(min=1), "model.h0": OneOf(values=H0), "model.sigma_x": _POS,
    "critical.*.q_star": _POS, "critical.*.mu_b": Num(),
    "train.optimizer": OneOf(values=OPTIMIZERS), "train.lr.vanilla": _POS, "train.lr.minimal": _POS,
    "train.batch_size": Int(min=1), "train.steps": Int(min=1), "train.stop_at_target": Bool(),
    "train.eval_every": Int(min=1), "train.checkpoint_every": Int(min=1, nullable=True),
    "train.clip_grad_norm": Num(gt=0.0, nullable=True), "train.clip_per_tensor": Bool(),
    "eval.examples": Int(min=1, nullable=True), "eval.batch_size": Int(min=1),
}


def memory_bytes(cfg) -> int:
    """One training run (float32): the MNIST split on the device (60,000 x 784), the model with its gradient and
    optimiser state (~4 copies of ~3 N^2 + N x 784/T weights), the activations BPTT keeps (~8 (T, batch, N)) and an
    evaluation batch (T, eval batch, N)."""
    examples = 10_000 if cfg.eval.examples is None else min(int(cfg.eval.examples), 10_000)  # the test split's size
    N, B, E = int(cfg.model.hidden), min(int(cfg.train.batch_size), 60_000), min(int(cfg.eval.batch_size), examples)
    T = max(int(t) for t in cfg.lengths)
    weights = 3 * N * N + N * (784 // T) + 10 * N
    return 4 * (60_000 * 784 + 4 * weights + 8 * T * B * N + 2 * T * E * N)


def validate(cfg) -> None:
    """Beyond SCHEMA: T divides 784, the memory, every critical initialisation and the MNIST files, all before the run
    folder exists."""
    from rnnmf.data import check_seq_len

    cells(cfg)
    if not list(cfg.lengths):
        raise RnnmfError("lengths=[] is invalid; valid: T values dividing 784, e.g. [196, 784]")
    for T in cfg.lengths:
        check_seq_len(T)
    check_memory(memory_bytes(cfg), "one training run", "model.hidden, train.batch_size or eval.batch_size")
    preflight(cfg)


def units(cfg) -> list[dict]:
    """Every (cell, T, init, weights, seed) to train, in config order (the sweep runs the longest T first)."""
    seeds = [int(cfg.seed) + k for k in range(int(cfg.n_seeds))]
    return [{"cell": c, "T": int(T), "init": i, "weights": w, "seed": s}
            for T in cfg.lengths for c in cells(cfg) for i in cfg.inits for w in cfg.weights for s in seeds]


def unit_name(u: dict) -> str:
    return f"{u['cell']}-T{u['T']}-{u['init']}-{u['weights']}-s{u['seed']}"


# ----------------------------------------------------------------------------------------------------- model
class SequenceClassifier(nn.Module):
    """An RNN over the pixel sequence and a linear read-out of its final hidden state (10 digit classes).

    ``h0_std`` > 0 starts each example at h⁰ ~ N(0, h0_std²) elementwise (Algorithm 1: Q* initialises h⁰, so the
    hidden state starts on the fixed point instead of spending a transient reaching it); 0 starts at zeros.
    """

    def __init__(self, cell: str, input_size: int, hidden: int, h0_std: float = 0.0):
        super().__init__()
        from rnnmf.nn import make_rnn

        self.rnn = make_rnn(cell, input_size, hidden)
        self.readout = nn.Linear(hidden, 10)
        self.h0_std = float(h0_std)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        h0 = None
        if self.h0_std > 0:
            shape = (1, x.shape[1], self.rnn.hidden_size)
            h0 = torch.randn(shape, generator=generator, device=x.device, dtype=x.dtype).mul_(self.h0_std)
        _, h_n = self.rnn(x, h0)
        return self.readout(h_n[-1])


def initialise(model: SequenceClassifier, cell: str, init: str, weights: str, cfg, x_sample: torch.Tensor,
               seed: int) -> dict:
    """Initialise ``model.rnn`` for one condition and return what was used (σ's as variances, q*, Q*, R, χ₁).

    For the minimalRNN, R is that of x̃ = tanh(W_x x) and so depends on W_x, which the initialiser draws: a first draw
    from the same seed (off-critical: always feasible) fixes W_x and R is measured on ``x_sample``; the condition is
    then drawn from that seed again, which gives the same W_x (N(0, σ_x²/M) whatever q*, μ_b).
    """
    from rnnmf.nn import estimate_R, init_critical, init_off_critical
    from rnnmf.theory import minimal as mt
    from rnnmf.theory import vanilla as vt

    sigma_x = float(cfg.model.sigma_x)
    if cell == "minimal":
        init_off_critical(model.rnn, weights=weights, sigma_x=sigma_x, generator=torch.Generator().manual_seed(seed))
    R = estimate_R(model.rnn, x_sample)
    gen = torch.Generator().manual_seed(seed)
    if init == "critical":
        crit = cfg.critical[cell]
        mu_b = float(crit.mu_b)
        res = init_critical(model.rnn, q_star=float(crit.q_star), R=R, mu_b=mu_b, weights=weights, sigma_x=sigma_x,
                            generator=gen)
        sw2, sv2, q_star = float(res.sigma_w_sq), float(res.sigma_v_sq), float(crit.q_star)
    else:
        init_off_critical(model.rnn, weights=weights, sigma_x=sigma_x, generator=gen)
        sw2, sv2, mu_b = 1.0, 1.0, 0.0
        q_star = None
    theory = mt if cell == "minimal" else vt
    sw, sv = math.sqrt(sw2), math.sqrt(sv2)
    if q_star is None:  # off-critical: the stable fixed point of the q map (eq. 2 / eq. 6-7)
        q_star = float(theory.q_star(sw, sv, R, mu_b=mu_b))
    Q_star = (q_star - sv2 * R) / sw2  # q* = σ_w² Q* + σ_v² R (eq. 2, 6; σ_b² = 0): Q* = E[h²] at the fixed point
    return {"sigma_w_sq": sw2, "sigma_v_sq": sv2, "mu_b": mu_b, "q_star": q_star, "Q_star": Q_star, "R": R,
            "chi_1": float(theory.chi_1(sw, sv, R, mu_b=mu_b))}


def make_optimizer(params, cfg, cell: str) -> torch.optim.Optimizer:
    lr = float(cfg.train.lr[cell])
    if cfg.train.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if cfg.train.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


def accuracy(model: SequenceClassifier, x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int) -> float:
    """Test accuracy with the same h⁰ draws at every evaluation (a seeded generator), so curves are not noisier
    than the model's changes."""
    gen = torch.Generator(device=x.device).manual_seed(seed)
    correct = 0
    for start in range(0, x.shape[1], batch_size):
        logits = model(x[:, start:start + batch_size], generator=gen)
        correct += int((logits.argmax(1) == y[start:start + batch_size]).sum())
    return correct / x.shape[1]


# -------------------------------------------------------------------------------------------------- training
def setup(cfg) -> torch.device:
    """Denormals flushed, ``run.threads``, the device: in the main process the runner has applied ``run.threads``
    already, but a pool worker or a Slurm job is a process of its own."""
    from rnnmf.runtime import flush_denormals, pick_device

    flush_denormals()
    if cfg.run.threads:
        torch.set_num_threads(int(cfg.run.threads))
    return pick_device(cfg.run.device)


_DATA: dict[tuple, tuple] = {}


def load_data(cfg, T: int, device):
    """Training split and the evaluation subset (a fixed random subset of ``eval.examples`` test images, the same
    for every condition and seed; all 10,000 when null), as device tensors; cached per process."""
    from rnnmf.data import SequentialMNIST

    key = (str(cfg.data.root), T, str(device), cfg.eval.examples)
    if key not in _DATA:
        _DATA.clear()  # one T at a time: the paper profile's T = 784 tensors are not small on a GPU
        train = SequentialMNIST.load(cfg.data.root, "train", T, device=device)
        test = SequentialMNIST.load(cfg.data.root, "test", T, device=device)
        n = len(test) if cfg.eval.examples is None else min(int(cfg.eval.examples), len(test))
        idx = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:n]
        _DATA[key] = (train, *test.batch(idx))
    return _DATA[key]


def steps_to(history_acc: list[tuple[int, float]], target: float, budget: int) -> tuple[int, bool]:
    """The first evaluated step with test accuracy >= target, else the budget."""
    for step, acc in history_acc:
        if acc >= target:
            return step, True
    return budget, False


def train_unit(cfg, u: dict, device, out_dir: Path, step_bar: bool = True) -> dict:
    """Train (or resume) one condition, appending its curves.csv rows as it goes; return its summary.csv row.
    ``step_bar``: a progress bar over its steps (in the main process only: the bars of parallel workers would
    overwrite each other on one terminal line; the parent's bar counts their units instead)."""
    from rnnmf.runtime import seed_everything
    from rnnmf.train import fit

    train, x_test, y_test = load_data(cfg, u["T"], device)
    curves_csv, curve_key = out_dir / "curves.csv", [*UNIT_KEY, "step"]
    written = finished_keys(curves_csv, curve_key)

    def on_eval(rec: dict) -> None:
        row = {**u, "step": rec["step"], "test_acc": rec["test_acc"], "train_loss": rec["train_loss"],
               "wall_s": rec["wall_s"]}
        # a unit killed between an evaluation and its checkpoint redoes that evaluation identically: keep one row
        if row_key(row, curve_key) not in written:
            append_rows(curves_csv, [row], CURVE_COLUMNS)
            written.add(row_key(row, curve_key))

    seed_everything(u["seed"])  # per unit: its numbers do not depend on which units ran before it in this process
    model = SequenceClassifier(u["cell"], train.step_dim, int(cfg.model.hidden))
    x_sample = train.batch(torch.arange(min(len(train), 2048)))[0]
    used = initialise(model, u["cell"], u["init"], u["weights"], cfg, x_sample.cpu(), seed=u["seed"])
    model.h0_std = math.sqrt(max(used["Q_star"], 0.0)) if cfg.model.h0 == "q_star" else 0.0
    model.to(device)
    optimizer = make_optimizer(model.parameters(), cfg, u["cell"])
    eval_bs, steps = int(cfg.eval.batch_size), int(cfg.train.steps)
    if not step_bar and not cfg.run.quiet:
        say(f"seqmnist: {unit_name(u)}: training (budget {steps} steps)")
    res = fit(model, optimizer, train.batches(int(cfg.train.batch_size), u["seed"]),
              lambda m, b: F.cross_entropy(m(b[0]), b[1]), steps,
              evaluate=lambda m: {"test_acc": accuracy(m, x_test, y_test, eval_bs, seed=u["seed"])},
              eval_every=int(cfg.train.eval_every), checkpoint_path=out_dir / "checkpoints" / f"{unit_name(u)}.pt",
              checkpoint_every=cfg.train.checkpoint_every, on_eval=on_eval,
              clip_grad_norm=cfg.train.clip_grad_norm, clip_per_tensor=cfg.train.clip_per_tensor, device=device,
              quiet=bool(cfg.run.quiet) or not step_bar, desc=unit_name(u),
              stop_when=(lambda r: r["test_acc"] >= float(cfg.target_acc)) if cfg.train.stop_at_target else None)
    accs = [(r["step"], r["test_acc"]) for r in res.history]
    hit, reached = steps_to(accs, float(cfg.target_acc), steps)
    say(f"seqmnist: {unit_name(u)}: " + (f"{cfg.target_acc:.0%} at step {hit}" if reached else
         f"below {cfg.target_acc:.0%} after {steps} steps") + f" (final {accs[-1][1]:.3f}, {res.wall_s:.0f} s)")
    return {**u, "steps_to_90": hit, "target_acc": float(cfg.target_acc), "reached": reached, "budget": steps,
            "final_acc": accs[-1][1], "best_acc": max(a for _, a in accs), **used, "hidden": int(cfg.model.hidden),
            "status": "diverged" if res.diverged else "ok", "wall_s": res.wall_s}


def train_units(plain_cfg: dict, out_dir: str, points: list[dict], in_process: bool = False) -> list[dict]:
    """What the sweep runner calls (here, in a pool worker or a Slurm job): train ``points``, return their rows."""
    cfg = OmegaConf.create(plain_cfg)
    device = setup(cfg)
    return [train_unit(cfg, u, device, Path(out_dir), step_bar=in_process) for u in points]


def preflight(cfg) -> None:
    """Refuse, before any data is loaded or any folder exists, what cannot train: a critical initialisation with no
    solution (σ_v² < 0; its sign does not depend on the R measured later, see rnnmf.theory.require_feasible) or
    outside the theory's domain, and missing MNIST files (downloaded here when possible)."""
    from rnnmf.data import check_mnist
    from rnnmf.theory import require_feasible

    for cell in cells(cfg):
        if "critical" in list(cfg.inits):
            crit = cfg.critical[cell]
            require_feasible(cell, float(crit.q_star), mu_b=float(crit.mu_b),
                             what=f"critical.{cell}.q_star={crit.q_star}, critical.{cell}.mu_b={crit.mu_b}")
    check_mnist(cfg.data.root)


def run(cfg, out_dir) -> dict:
    from experiments.sweep import run_sweep

    out_dir, t0 = Path(out_dir), time.perf_counter()
    jobs, executor = int(cfg.run.jobs), str(cfg.run.executor)
    slurm = OmegaConf.to_container(cfg.run.slurm, resolve=True)
    in_process = jobs == 1 and executor == "local"
    # One unit per batch, longest sequences first. summary.csv is the sweep's CSV (one row per finished unit);
    # curves.csv rows are appended by whichever process trains the unit (append_rows locks the file).
    run_sweep(units(cfg), functools.partial(train_units, OmegaConf.to_container(cfg, resolve=True), str(out_dir),
                                            in_process=in_process),
              csv_path=out_dir / "summary.csv", columns=SUMMARY_COLUMNS, key_columns=UNIT_KEY,
              group_by=lambda u: u["T"], batch_size=1, cost=lambda batch: batch[0]["T"], jobs=jobs,
              executor=executor, cluster=slurm.get("cluster"), slurm=slurm, folder=out_dir / "submitit",
              quiet=bool(cfg.run.quiet) or in_process, desc="seqmnist units")
    draw("seqmnist", out_dir)
    return summarize(out_dir, wall_s=time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------------- outputs
def summarize(out_dir: Path, wall_s: float | None = None) -> dict:
    """Headline numbers: steps to 90% per condition (the median over seeds; "> budget" when never reached), whether
    critical beat both off-critical runs per (cell, T) and everywhere (``critical_faster``), and per cell how much
    the weight distribution matters at criticality: |steps(orthogonal) − steps(gaussian)| at the longest T trained
    both ways (a run that never reached the target counts its budget here), and that gap of the vanilla RNN minus
    the minimalRNN's (Fig. 3's claim: positive)."""
    s = read_rows(Path(out_dir) / "summary.csv")
    summary: dict = {}
    if s.empty:
        return summary
    # a run that never reached the target counts as "> its budget" (inf in the median), never as the budget itself
    reached = s["reached"].astype(str).str.lower().eq("true")
    s = s.assign(steps=s["steps_to_90"].where(reached, math.inf))
    g = s.groupby(["cell", "T", "init", "weights"])["steps"].median()
    budget = s.groupby(["cell", "T", "init", "weights"])["budget"].max()
    for (cell, T, init, weights), v in g.items():
        summary[f"{cell}_T{T}_{init}_{weights}_steps_to_90"] = (
            int(v) if math.isfinite(v) else f"> {int(budget[(cell, T, init, weights)])}")
    for (cell, T), sub in g.groupby(level=["cell", "T"]):
        crit = [v for (_, _, i, _), v in sub.items() if i == "critical"]
        off = [v for (_, _, i, _), v in sub.items() if i == "off_critical"]
        if crit and off:
            summary[f"{cell}_T{T}_critical_faster"] = bool(max(crit) < min(off))
    faster = [v for k, v in summary.items() if k.endswith("_critical_faster")]
    if faster:
        summary["critical_faster"] = all(faster)
    steps = s[s["init"] == "critical"].groupby(["cell", "T", "weights"])["steps_to_90"].median()
    for cell in sorted(set(s["cell"])):
        both = [T for T in sorted(set(s["T"])) if all((cell, T, w) in steps.index for w in WEIGHTS)]
        if both:
            summary[f"{cell}_critical_weights_gap_steps"] = abs(float(steps[(cell, both[-1], "orthogonal")])
                                                                 - float(steps[(cell, both[-1], "gaussian")]))
    if {"vanilla_critical_weights_gap_steps", "minimal_critical_weights_gap_steps"} <= set(summary):
        summary["critical_weights_gap_vanilla_minus_minimal"] = (summary["vanilla_critical_weights_gap_steps"]
                                                                 - summary["minimal_critical_weights_gap_steps"])
    if wall_s is not None:
        summary["wall_s"] = round(wall_s, 1)
    return summary
