"""Settings of Fig. 2 at initialisation, the linear probe of the frozen random network (``conf/memory_probe.yaml``;
the job: ``experiments.memory_probe``). The panels' hyper-parameters are Fig. 2's (``experiments.settings.
trainability``), read through :func:`panel_view`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from experiments.memory import check_memory
from experiments.schema import setting
from experiments.settings import Common
from experiments.settings.trainability import (
    GridAtInit,
    MinimalAtInit,
    PaperPanel,
    TaskAtInit,
    VanillaAtInit,
    check_panel_domain,
    ensemble_shape,
    member_params,
    panel_settings,
)
from experiments.settings.trainability import Init as TrainabilityInit
from rnnmf.errors import RnnmfError

#: init.open_first_gate needs a gate bias of the image step's own: the untied minimalRNN panels
OPEN_GATE_PANELS = ("c", "e", "g")


@dataclass(frozen=True)
class Task(TaskAtInit):
    n_train: int = setting("probe training examples (a fixed subset of MNIST's training split)", min=2)
    n_test: int = setting("held-out examples (a fixed subset of MNIST's test split)", min=1)
    chunk: int = setting("examples per forward pass (memory: depths x chunk x N x members floats)", min=1)


@dataclass(frozen=True)
class Init(TrainabilityInit):
    open_first_gate: bool = setting("panels c, e, g: the image step's gate bias -40, so h^1 = x~(image) (the image "
                                    "written whole into the state; the network otherwise as drawn)")


@dataclass(frozen=True)
class ProbeDepths:
    """The probe's depths: integers from start to stop, neighbours at most a factor ``ratio`` apart."""

    start: int = setting(min=1)
    stop: int = setting(min=1)
    ratio: float = setting(gt=1.0)


@dataclass(frozen=True)
class Grid(GridAtInit):
    T: ProbeDepths = setting()


@dataclass(frozen=True)
class Probe:
    threshold: float = setting("'remembered': held-out accuracy above this (chance 0.1)", gt=0.0, lt=1.0)
    l2: float = setting("ridge penalty l2 * n_train * |W|^2 (logistic: (l2/2)|W|^2), standardised features", gt=0.0)
    window: int = setting("the logistic cross-check is fitted at this many depths either side of the ridge "
                          "crossing (0: none)", min=0)
    max_iter: int = setting("L-BFGS iterations of the logistic probe", min=1)


@dataclass(frozen=True)
class Ensemble:
    max_members: int = setting("columns of one panel run as one ensemble", min=1)
    vanilla_input_steps: int | None = setting(min=1)


@dataclass(frozen=True)
class Settings(Common):
    panels: list[PaperPanel] = setting("which of Fig. 2's panels to probe (the paper's: a-h)")
    widths: list[int] = setting("hidden sizes N", min=1)
    seeds: int = setting("networks per (column, width): seed, seed + 1, ...", min=1)
    task: Task = setting()
    vanilla: VanillaAtInit = setting()
    minimal: MinimalAtInit = setting()
    init: Init = setting()
    grid: Grid = setting()
    probe: Probe = setting()
    ensemble: Ensemble = setting()


# ------------------------------------------------------------------------------------------- what relates keys
def panel_view(cfg):
    """The trainability job's view of this config, for ``panel_settings`` and ``grid_columns``, which also read the
    training budgets: a probe of the initial network has none (zero here)."""
    from omegaconf import OmegaConf

    view = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    return OmegaConf.merge(view, {"vanilla": {"steps": 0}, "minimal": {"steps": 0}})


def depth_count(cfg) -> int:
    """An upper bound on the number of probe depths (``rnnmf.probe.depth_grid``: integers start..stop, neighbours
    at most ``ratio`` apart), without torch."""
    t = cfg.grid.T
    return min(int(t.stop) - int(t.start) + 1, int(math.log(int(t.stop) / int(t.start)) / math.log(t.ratio)) + 2)


def member_bytes(cell: str, weights: str, hidden: int, cfg) -> float:
    """One member, float32: its parameters (untied ones count per step), twice (the float64 draw is cast), plus its
    features at every depth and two states."""
    stop, B = int(cfg.grid.T.stop), int(cfg.task.n_train) + int(cfg.task.n_test)
    params = member_params(cell, hidden, **ensemble_shape(cell, weights, stop, cfg.ensemble.vanilla_input_steps))
    depths = depth_count(cfg)
    return 4.0 * (4 * params + (depths + 4) * min(B, int(cfg.task.chunk)) * hidden + depths * B * hidden)


def cross_check(cfg) -> None:
    """The depth grid, open_first_gate's panels, the theory's domain over every panel's columns, one member's
    memory, and the MNIST files, all before the run folder exists."""
    from rnnmf.data.checks import check_mnist

    t = cfg.grid.T
    if t.start > t.stop:
        raise RnnmfError(f"grid.T={{start: {t.start}, stop: {t.stop}, ratio: {t.ratio}}} is invalid; valid: "
                         "start <= stop")
    if cfg.init.open_first_gate and set(cfg.panels) - set(OPEN_GATE_PANELS):
        raise RnnmfError(f"init.open_first_gate=true with panels {list(cfg.panels)} is invalid; valid: panels from "
                         f"{', '.join(OPEN_GATE_PANELS)} (untied minimalRNN: its own gate bias at the image step)")
    view = panel_view(cfg)
    for p in cfg.panels:
        s = panel_settings(view, p)
        check_panel_domain(cfg, p, s)
        check_memory(member_bytes(s["cell"], s["weights"], max(cfg.widths), cfg),
                     f"one network of panel {p} at N={max(cfg.widths)}", "widths, grid.T.stop or task.n_train")
    check_mnist(cfg.data.root, download=False)  # a missing file is one DataError line naming it
