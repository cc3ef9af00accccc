"""Settings of Fig. 3's sequential MNIST job (``conf/seqmnist.yaml``; the job: ``experiments.seqmnist``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from experiments.memory import check_memory
from experiments.schema import setting
from experiments.settings import Common, chosen_cells
from rnnmf.errors import RnnmfError

CELLS = ("vanilla", "minimal")
#: old spellings of keys: the key that replaced each (an override with the old one is refused, naming the new)
RENAMED = {"model.sigma_x": "model.sigma_wx"}


@dataclass(frozen=True)
class Model:
    hidden: int = setting("hidden size N", min=1)
    h0: Literal["zeros", "q_star"] = setting("h^0 = 0, or h^0 ~ N(0, Q*) per example (Algorithm 1)")
    sigma_wx: float = setting("the minimalRNN's input map x~ = tanh(W_x x), W_x ~ N(0, sigma_wx^2 / M) (the library's "
                              "sigma_x argument; trainability's task.sigma_x is a noise std, another thing)", gt=0.0)


@dataclass(frozen=True)
class Critical:
    q_star: float = setting("the fixed point q* at which chi_1 = 1 is solved", gt=0.0)
    mu_b: float = setting()


@dataclass(frozen=True)
class CriticalPerCell:
    vanilla: Critical = setting()
    minimal: Critical = setting()


@dataclass(frozen=True)
class LearningRates:
    vanilla: float = setting(gt=0.0)
    minimal: float = setting(gt=0.0)


@dataclass(frozen=True)
class TrainLoop:
    """Fig. 3's training loop; each job adds its per-cell learning rates ``lr`` (seqmnist, gated_seqmnist)."""

    optimizer: Literal["rmsprop", "adam", "sgd"] = setting()
    batch_size: int = setting(min=1)
    steps: int = setting("optimiser steps per run (the budget)", min=1)
    stop_at_target: bool = setting()
    eval_every: int = setting(min=1)
    checkpoint_every: int | None = setting("null: at every evaluation", min=1)
    clip_grad_norm: float | None = setting(gt=0.0)
    clip_per_tensor: bool = setting()


@dataclass(frozen=True)
class Train(TrainLoop):
    lr: LearningRates = setting()


@dataclass(frozen=True)
class Eval:
    examples: int | None = setting("a fixed subset of the test split; null: all 10,000", min=1)
    batch_size: int = setting(min=1)


@dataclass(frozen=True)
class Settings(Common):
    cells: list[Literal["vanilla", "minimal", "all"]] = setting("cells to train ([all]: both; the CLI's --cell)")
    lengths: list[int] = setting("T values, divisors of 784 (the CLI's --T; cross_check says which)", empty=True)
    inits: list[Literal["critical", "off_critical"]] = setting()
    weights: list[Literal["orthogonal", "gaussian"]] = setting()
    n_seeds: int = setting(min=1)
    target_acc: float = setting(gt=0.0, max=1.0)
    model: Model = setting()
    critical: CriticalPerCell = setting()
    train: Train = setting()
    eval: Eval = setting()


# ------------------------------------------------------------------------------------------- what relates keys
def cells(cfg) -> list[str]:
    """``cells`` as a list of cell names; ``all`` (the CLI's ``--cell all``) means both."""
    return chosen_cells(cfg, CELLS)


def legacy_view(view: dict) -> dict:
    """The hashed config as it was spelled before ``model.sigma_wx`` replaced ``model.sigma_x`` (issue 15), so that
    a run folder keeps its name."""
    model = view.get("model")
    if isinstance(model, dict) and "sigma_wx" in model:
        view = {**view, "model": {("sigma_x" if k == "sigma_wx" else k): v for k, v in model.items()}}
    return view


def run_bytes(cfg, weights: Callable[[int, int], int], blocks: int = 1) -> int:
    """One training run (float32): the MNIST split on the device (60,000 x 784), the model with its gradient and
    optimiser state (~4 copies of ``weights(N, T)`` weights), the activations BPTT keeps (~8 (T, batch, N) per
    block of gate rows) and an evaluation batch ((T, eval batch, N) per block)."""
    examples = 10_000 if cfg.eval.examples is None else min(int(cfg.eval.examples), 10_000)  # the test split's size
    N, B, E = int(cfg.model.hidden), min(int(cfg.train.batch_size), 60_000), min(int(cfg.eval.batch_size), examples)
    T = max(int(t) for t in cfg.lengths)
    return 4 * (60_000 * 784 + 4 * weights(N, T) + 8 * blocks * T * B * N + 2 * blocks * T * E * N)


def memory_bytes(cfg) -> int:
    """One run of the vanilla RNN or minimalRNN: ~3 N^2 + N x 784/T weights (:func:`run_bytes`)."""
    return run_bytes(cfg, lambda N, T: 3 * N * N + N * (784 // T) + 10 * N)


def check_lengths(cfg, memory: Callable[[object], int]) -> None:
    """T values that divide 784 (at least one), then one training run's memory ``memory(cfg)`` (bytes, which needs
    valid T values), before torch's import."""
    from rnnmf.data.checks import check_seq_len

    if not list(cfg.lengths):
        raise RnnmfError("lengths=[] is invalid; valid: T values dividing 784, e.g. [196, 784]")
    for T in cfg.lengths:
        check_seq_len(T)
    check_memory(memory(cfg), "one training run", "model.hidden, train.batch_size or eval.batch_size")


def cross_check(cfg) -> None:
    """T divides 784, the memory, every critical initialisation (sigma_v^2 >= 0: its sign does not depend on the R
    measured later, see rnnmf.theory.require_feasible) and the MNIST files (downloaded here when possible)."""
    from rnnmf.data.checks import check_mnist

    check_lengths(cfg, memory_bytes)
    from rnnmf.theory import require_feasible  # numpy and scipy: after the checks that need neither

    for cell in cells(cfg):
        if "critical" in list(cfg.inits):
            crit = cfg.critical[cell]
            require_feasible(cell, float(crit.q_star), mu_b=float(crit.mu_b),
                             what=f"critical.{cell}.q_star={crit.q_star}, critical.{cell}.mu_b={crit.mu_b}")
    check_mnist(cfg.data.root)
