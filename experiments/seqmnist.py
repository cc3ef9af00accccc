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
  written by the sweep's process when the unit finishes, just before its summary row;
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
from torch import nn

from experiments.figures import draw
from experiments.settings.seqmnist import cells
from experiments.sweep import Output, sweep
from rnnmf.io import read_rows
from rnnmf.progress import say

INITS = ("critical", "off_critical")
WEIGHTS = ("orthogonal", "gaussian")
OPTIMIZERS = ("rmsprop", "adam", "sgd")
H0 = ("q_star", "zeros")
UNIT_KEY = ["cell", "T", "init", "weights", "seed"]
CURVE_KEY = [*UNIT_KEY, "step"]
CURVE_COLUMNS = [*CURVE_KEY, "test_acc", "train_loss", "wall_s"]
SUMMARY_COLUMNS = [*UNIT_KEY, "steps_to_90", "target_acc", "reached", "budget", "final_acc", "best_acc", "sigma_w_sq",
                   "sigma_v_sq", "mu_b", "q_star", "Q_star", "R", "chi_1", "hidden", "status", "wall_s"]

# ---------------------------------------------------------------------------------------------------- config
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
        if isinstance(h_n, tuple):  # torch's LSTM returns (h_n, c_n): the read-out sees h, as for the other cells
            h_n = h_n[0]
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

    sigma_x = float(cfg.model.sigma_wx)  # the library's name for the input map's scale
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


def paper_initialiser(model: SequenceClassifier, u: dict, cfg, x_sample: torch.Tensor) -> dict:
    """:func:`train_unit`'s initialiser for the paper's cells: :func:`initialise`, then h⁰ as ``model.h0`` says.
    Another job passes its own (``experiments.gated_seqmnist.initialise``: torch's GRU and LSTM)."""
    used = initialise(model, u["cell"], u["init"], u["weights"], cfg, x_sample, seed=u["seed"])
    model.h0_std = math.sqrt(max(used["Q_star"], 0.0)) if cfg.model.h0 == "q_star" else 0.0
    return used


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
    """Denormals flushed and the device (``run.threads`` is the sweep runner's, in every worker)."""
    from rnnmf.runtime import flush_denormals, pick_device

    flush_denormals()
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


def train_unit(cfg, u: dict, device, out_dir: Path, step_bar: bool = True,
               initialiser=paper_initialiser) -> tuple[dict, list[dict]]:
    """Train (or resume) one condition; return its summary.csv row and its curves.csv rows (every evaluation,
    those before a resume too: the checkpoint keeps the history). ``step_bar``: a progress bar over its steps (in the
    main process only: the bars of parallel workers would overwrite each other on one terminal line; the parent's
    bar counts their units instead). ``initialiser(model, u, cfg, x_sample)`` initialises the model and returns the
    summary row's initialisation columns."""
    from rnnmf.runtime import seed_everything
    from rnnmf.train import fit

    train, x_test, y_test = load_data(cfg, u["T"], device)
    seed_everything(u["seed"])  # per unit: its numbers do not depend on which units ran before it in this process
    model = SequenceClassifier(u["cell"], train.step_dim, int(cfg.model.hidden))
    x_sample = train.batch(torch.arange(min(len(train), 2048)))[0]
    used = initialiser(model, u, cfg, x_sample.cpu())
    model.to(device)
    optimizer = make_optimizer(model.parameters(), cfg, u["cell"])
    eval_bs, steps = int(cfg.eval.batch_size), int(cfg.train.steps)
    if not step_bar and not cfg.run.quiet:
        say(f"{cfg.job}: {unit_name(u)}: training (budget {steps} steps)")
    res = fit(model, optimizer, train.batches(int(cfg.train.batch_size), u["seed"]),
              lambda m, b: F.cross_entropy(m(b[0]), b[1]), steps,
              evaluate=lambda m: {"test_acc": accuracy(m, x_test, y_test, eval_bs, seed=u["seed"])},
              eval_every=int(cfg.train.eval_every), checkpoint_path=out_dir / "checkpoints" / f"{unit_name(u)}.pt",
              checkpoint_every=cfg.train.checkpoint_every,
              clip_grad_norm=cfg.train.clip_grad_norm, clip_per_tensor=cfg.train.clip_per_tensor, device=device,
              quiet=bool(cfg.run.quiet) or not step_bar, desc=unit_name(u),
              stop_when=(lambda r: r["test_acc"] >= float(cfg.target_acc)) if cfg.train.stop_at_target else None)
    accs = [(r["step"], r["test_acc"]) for r in res.history]
    hit, reached = steps_to(accs, float(cfg.target_acc), steps)
    say(f"{cfg.job}: {unit_name(u)}: " + (f"{cfg.target_acc:.0%} at step {hit}" if reached else
         f"below {cfg.target_acc:.0%} after {steps} steps") + f" (final {accs[-1][1]:.3f}, {res.wall_s:.0f} s)")
    curves = [{**u, "step": r["step"], "test_acc": r["test_acc"], "train_loss": r["train_loss"], "wall_s": r["wall_s"]}
              for r in res.history]
    return {**u, "steps_to_90": hit, "target_acc": float(cfg.target_acc), "reached": reached, "budget": steps,
            "final_acc": accs[-1][1], "best_acc": max(a for _, a in accs), **used, "hidden": int(cfg.model.hidden),
            "status": "diverged" if res.diverged else "ok", "wall_s": res.wall_s}, curves


def train_units(cfg, points: list[dict], *, out_dir: str, step_bar: bool = False,
                initialiser=paper_initialiser) -> Output:
    """The sweep runner's ``train_batch`` (here, in a pool worker or a Slurm job): train ``points``; their
    summary.csv rows and curves.csv rows go back to the parent, which writes them."""
    device = setup(cfg)
    rows, curves = [], []
    for u in points:
        row, curve = train_unit(cfg, u, device, Path(out_dir), step_bar=step_bar, initialiser=initialiser)
        rows.append(row)
        curves += curve
    return Output(rows, {"curves.csv": curves})


def train_all(cfg, out_dir: Path, todo: list[dict], initialiser=paper_initialiser) -> None:
    """Train every unit of ``todo`` not yet in ``summary.csv`` through the sweep runner."""
    in_process = int(cfg.run.jobs) == 1 and cfg.run.executor == "local"
    # One unit per batch, longest sequences first. summary.csv is the sweep's CSV (one row per finished unit); a
    # unit's curves.csv rows come back with its summary row and are written just before it, each once.
    sweep(cfg, todo, functools.partial(train_units, out_dir=str(out_dir), step_bar=in_process, initialiser=initialiser),
          csv_path=out_dir / "summary.csv", columns=SUMMARY_COLUMNS, key_columns=UNIT_KEY, group_by=lambda u: u["T"],
          batch_size=1, cost=lambda batch: batch[0]["T"], extra={"curves.csv": (CURVE_COLUMNS, CURVE_KEY)},
          desc=f"{cfg.job} units", quiet=in_process)


def run(cfg, out_dir) -> dict:
    out_dir, t0 = Path(out_dir), time.perf_counter()
    train_all(cfg, out_dir, units(cfg))
    draw("seqmnist", out_dir)
    return summarize(out_dir, wall_s=time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------------- outputs
def with_steps(s):
    """``summary.csv`` rows with ``steps``: ``steps_to_90`` where the run reached the target, else inf, so a run that
    never reached it counts as "> its budget" in a median, never as the budget itself (Fig. 3 and its GRU/LSTM job)."""
    reached = s["reached"].astype(str).str.lower().eq("true")
    return s.assign(steps=s["steps_to_90"].where(reached, math.inf))


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
    s = with_steps(s)
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
