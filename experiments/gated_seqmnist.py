"""Beyond the paper (issue 19): Fig. 3's sequential MNIST for torch's ``nn.GRU`` and ``nn.LSTM``.

Does the mean-field critical point (docs/gated-mean-field.md) train the gated cells people use faster than how they
are usually initialised? Three initialisations per cell, each a resumable unit of ``experiments.seqmnist``'s
training loop (the same data, read-out, optimiser, evaluation and CSVs; the cell built by ``rnnmf.nn.make_rnn``):

* ``critical``: ``rnnmf.nn.init_critical`` at the measured input power R (the standardised pixels: R ~ 1), as lm's
  ``init=critical`` does it: every gate's input weights with sigma_v^2 R = 1, sigma_b = 0, the memory gate's bias
  mean ``critical.gru.mu_z`` / ``critical.lstm.mu_f``, and the common recurrent scale sigma_w solved for chi_1 = 1
  (eq. 26), each gate's recurrent block sigma_w times an orthogonal (``critical.weights``) matrix;
* ``torch_default``: the module as torch constructs it (every parameter U(+-1/sqrt(H)));
* ``heuristic``: ``rnnmf.nn.init_heuristic``: orthogonal recurrent blocks, Glorot/Xavier-uniform input weights,
  biases 0 except the memory gate's, ``heuristic.memory_bias`` (the LSTM's forget gate; the GRU's update gate z,
  positive because torch keeps memory where z -> 1: h' = (1 - z) n + z h).

The ``weights`` column says what the recurrent blocks are (orthogonal, gaussian, or uniform for torch's default).
``summary.csv`` records each initialisation in mean-field form: sigma_w_sq and sigma_v_sq (per gate, weight variance
times fan-in), mu_b (the memory gate's bias mean), R, and chi_1 and Q* from ``rnnmf.theory`` (gru / lstm) at those
statistics (q_star is empty: it belongs to the paper's cells). Outputs: ``curves.csv``, ``summary.csv`` (Fig. 3's
columns), ``fig3_gated.png/pdf`` and ``table.md`` from the CSVs alone (``experiments.figures.gated_seqmnist``).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from experiments.figures import draw
from experiments.seqmnist import SequenceClassifier, train_all, with_steps
from experiments.settings.gated_seqmnist import INITS, cells
from rnnmf.io import read_rows

#: what each initialisation makes the recurrent blocks ("critical" follows ``critical.weights``)
BLOCKS = {"torch_default": "uniform", "heuristic": "orthogonal"}


def units(cfg) -> list[dict]:
    """Every (cell, T, init, weights, seed) to train, in config order."""
    seeds = [int(cfg.seed) + k for k in range(int(cfg.n_seeds))]
    return [{"cell": c, "T": int(T), "init": i, "weights": BLOCKS.get(i, str(cfg.critical.weights)), "seed": s}
            for T in cfg.lengths for c in cells(cfg) for i in cfg.inits for s in seeds]


def initialise(model: SequenceClassifier, u: dict, cfg, x_sample: torch.Tensor) -> dict:
    """Initialise ``model.rnn`` (a torch GRU/LSTM) for one unit; return the summary row's initialisation columns.
    ``seqmnist.train_unit``'s initialiser; h⁰ = 0 (model.h0_std stays 0)."""
    from rnnmf.data import second_moment
    from rnnmf.nn import init_critical, init_heuristic
    from rnnmf.theory import gru, lstm
    from rnnmf.theory.gated import MEMORY_GATE, as_float_dict, resolve, torch_default

    cell, rnn = u["cell"], model.rnn
    R = second_moment(x_sample)  # the cell's input per unit: the standardised pixels
    gate = f"mu_{MEMORY_GATE[cell]}"
    gen = torch.Generator().manual_seed(u["seed"])
    if u["init"] == "critical":
        sigma_v = 1.0 / math.sqrt(R)
        (res,) = init_critical(rnn, R=R, weights=str(cfg.critical.weights), solve_for="sigma_w", sigma_v=sigma_v,
                               sigma_b=0.0, generator=gen, **{gate: float(cfg.critical[cell][gate])})
        stats = {"sigma_w": float(res.value), "sigma_v": sigma_v, "sigma_b": 0.0, gate: float(cfg.critical[cell][gate])}
    elif u["init"] == "heuristic":
        stats = init_heuristic(rnn, memory_bias=float(cfg.heuristic.memory_bias), generator=gen)
    else:  # torch's own draw, made when seqmnist.train_unit built the model (after seeding every RNG)
        stats = torch_default(cell, rnn.input_size, rnn.hidden_size)
    d = (gru if cell == "gru" else lstm).diagonal(R=R, **stats)
    p = as_float_dict(resolve(cell, R=R, **stats)[0])  # per gate; every gate has the same scales here
    return {"sigma_w_sq": p[f"sigma_w_{MEMORY_GATE[cell]}"] ** 2, "sigma_v_sq": p[f"sigma_v_{MEMORY_GATE[cell]}"] ** 2,
            "mu_b": p[gate], "q_star": None, "Q_star": float(d["Q_star"]), "R": R, "chi_1": float(d["chi_1"])}


def run(cfg, out_dir) -> dict:
    out_dir, t0 = Path(out_dir), time.perf_counter()
    train_all(cfg, out_dir, units(cfg), initialiser=initialise)
    draw("gated_seqmnist", out_dir)
    return summarize(out_dir, wall_s=time.perf_counter() - t0)


def summarize(out_dir: Path, wall_s: float | None = None) -> dict:
    """Headline numbers: steps to 90% per (cell, T, init) (median over seeds; "> budget" when never reached), and per
    (cell, T) whether critical reached it in fewer steps than each other initialisation
    (``<cell>_T<T>_critical_faster_than_<init>``: a run that never reached the target counts as beyond its budget, so
    two such runs are a tie, not a win) and the best test accuracy of each initialisation."""
    s = read_rows(Path(out_dir) / "summary.csv")
    summary: dict = {}
    if s.empty:
        return summary
    s = with_steps(s)
    keys = ["cell", "T", "init"]
    g, budget, best = (s.groupby(keys)[c].median() for c in ("steps", "budget", "best_acc"))
    for (cell, T, init), v in g.items():
        summary[f"{cell}_T{T}_{init}_steps_to_90"] = int(v) if math.isfinite(v) else f"> {int(budget[(cell, T, init)])}"
        summary[f"{cell}_T{T}_{init}_best_acc"] = round(float(best[(cell, T, init)]), 4)
    for (cell, T), sub in g.groupby(level=["cell", "T"]):
        steps = {i: v for (_, _, i), v in sub.items()}
        if "critical" not in steps:
            continue
        for other in (i for i in INITS if i != "critical" and i in steps):
            summary[f"{cell}_T{T}_critical_faster_than_{other}"] = bool(steps["critical"] < steps[other])
    if wall_s is not None:
        summary["wall_s"] = round(wall_s, 1)
    return summary
