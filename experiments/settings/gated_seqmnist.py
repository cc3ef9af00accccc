"""Settings of Fig. 3's sequential MNIST for torch's GRU and LSTM, beyond the paper (``conf/gated_seqmnist.yaml``;
the job: ``experiments.gated_seqmnist``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from experiments.schema import setting
from experiments.settings import Common, chosen_cells
from experiments.settings.seqmnist import Eval, TrainLoop, check_lengths, run_bytes

CELLS = ("gru", "lstm")
INITS = ("critical", "torch_default", "heuristic")


@dataclass(frozen=True)
class Model:
    hidden: int = setting("hidden size H", min=1)


@dataclass(frozen=True)
class CriticalGRU:
    mu_z: float = setting("update-gate bias mean (positive keeps memory in torch's h' = (1 - z) n + z h)")


@dataclass(frozen=True)
class CriticalLSTM:
    mu_f: float = setting("forget-gate bias mean")


@dataclass(frozen=True)
class Critical:
    weights: Literal["orthogonal", "gaussian"] = setting("each gate's recurrent block")
    gru: CriticalGRU = setting()
    lstm: CriticalLSTM = setting()


@dataclass(frozen=True)
class Heuristic:
    memory_bias: float = setting("the LSTM's forget-gate bias, the GRU's update-gate bias (the rest are 0)")


@dataclass(frozen=True)
class LearningRates:
    gru: float = setting(gt=0.0)
    lstm: float = setting(gt=0.0)


@dataclass(frozen=True)
class Train(TrainLoop):
    lr: LearningRates = setting()


@dataclass(frozen=True)
class Settings(Common):
    cells: list[Literal["gru", "lstm", "all"]] = setting("cells to train ([all]: both; the CLI's --cell)")
    lengths: list[int] = setting("T values, divisors of 784 (the CLI's --T)", empty=True)
    inits: list[Literal["critical", "torch_default", "heuristic"]] = setting()
    n_seeds: int = setting(min=1)
    target_acc: float = setting(gt=0.0, max=1.0)
    model: Model = setting()
    critical: Critical = setting()
    heuristic: Heuristic = setting()
    train: Train = setting()
    eval: Eval = setting()


def cells(cfg) -> list[str]:
    """``cells`` as a list of cell names; ``all`` means both."""
    return chosen_cells(cfg, CELLS)


def memory_bytes(cfg) -> int:
    """One training run (float32), as Fig. 3's estimate (``seqmnist.run_bytes``) with the gated cells' 4 (LSTM)
    blocks of gate rows in the weights and the activations."""
    return run_bytes(cfg, lambda H, T: 4 * (H * H + H * (784 // T) + 2 * H) + 10 * H, blocks=4)


def cross_check(cfg) -> None:
    """T divides 784, the memory, the critical initialisation of each cell (chi_1 = 1 reachable: with sigma_v^2 R = 1
    it does not depend on the R measured later) and the MNIST files."""
    from rnnmf.data.checks import check_mnist

    check_lengths(cfg, memory_bytes)
    if "critical" in list(cfg.inits):
        from rnnmf.errors import InfeasibleError
        from rnnmf.theory import critical_gated

        for cell in cells(cfg):
            bias = {k: float(v) for k, v in dict(cfg.critical[cell]).items()}
            try:
                critical_gated(cell, R=1.0, sigma_v=1.0, sigma_b=0.0, **bias)
            except InfeasibleError as e:
                given = ", ".join(f"critical.{cell}.{k}={v}" for k, v in bias.items())
                raise InfeasibleError(f"{given}: {e}") from None
    check_mnist(cfg.data.root)
