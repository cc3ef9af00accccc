"""Settings of Fig. 2's trainability sweep (``conf/trainability.yaml``; the job: ``experiments.trainability``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from experiments.memory import check_memory
from experiments.schema import setting
from experiments.settings import Axis, Common
from rnnmf.errors import RnnmfError

#: the paper's panels (a-h) and ours for the gated cells (i-p)
PaperPanel = Literal["a", "b", "c", "d", "e", "f", "g", "h"]
Panel = Literal[PaperPanel, "i", "j", "k", "l", "m", "n", "o", "p"]
INPUT_SIZE, NUM_CLASSES = 784, 10

# The sections below that end in "AtInit" hold what a panel's network is at initialisation; the memory probe
# (``experiments.settings.memory_probe``) reads them as they are, this job extends them with its training budget.


@dataclass(frozen=True)
class TaskAtInit:
    sigma_x: float = setting("std of the NOISE inputs x ~ N(0, sigma_x^2) of the T noise steps (seqmnist's "
                             "model.sigma_wx is another thing: an input map's scale)", gt=0.0)


@dataclass(frozen=True)
class Task(TaskAtInit):
    hidden: int = setting("hidden size N of every network", min=1)
    batch_size: int = setting(min=1)
    eval_examples: int = setting(min=1)


@dataclass(frozen=True)
class VanillaAtInit:
    sigma_v: float = setting(min=0.0)


@dataclass(frozen=True)
class Vanilla(VanillaAtInit):
    steps: int = setting(min=1)
    lr: float = setting(gt=0.0)


@dataclass(frozen=True)
class MinimalAtInit:
    sigma_v: float = setting(min=0.0)
    sigma_w: float = setting("fixed in panels c, d", min=0.0)
    mu_b_e: float = setting("fixed in panels e, f")
    mu_b_g: float = setting("fixed in panels g, h")


@dataclass(frozen=True)
class Minimal(MinimalAtInit):
    steps: int = setting(min=1)
    lr: float = setting(gt=0.0)


@dataclass(frozen=True)
class GatedCell:
    sigma_w: float = setting("every gate's recurrent scale, fixed in the memory-gate bias panels", min=0.0)
    mu: float = setting("the memory gate's bias (GRU mu_z, LSTM mu_f), fixed in the sigma_w panels")


@dataclass(frozen=True)
class Gated:
    """Panels i-p (beyond the paper): torch's GRU and LSTM (``rnnmf.nn.gated_ensemble``)."""

    sigma_v: float = setting("every gate's input scale, weight_ih ~ N(0, sigma_v^2 / 784)", min=0.0)
    steps: int = setting(min=1)
    lr: float = setting(gt=0.0)
    population: int = setting("unit pairs of the LSTM theory's population (tau at Sigma12 = 0 is sampled)",
                              min=256)
    gru: GatedCell = setting()
    lstm: GatedCell = setting()


@dataclass(frozen=True)
class Init:
    weights: Literal["gaussian", "orthogonal"] = setting()
    sigma_wx: float = setting("the minimalRNN's input map x~ = tanh(W_x x), (W_x)_ij ~ N(0, sigma_wx^2 / 784)",
                              gt=0.0)


@dataclass(frozen=True)
class Train:
    optimizer: Literal["adam", "sgd"] = setting()
    trainable: Literal["all", "readout"] = setting()


@dataclass(frozen=True)
class Depths:
    """A depth lattice, geometrically spaced, both ends included."""

    start: int = setting(min=1)
    stop: int = setting(min=1)
    num: int = setting(min=1)


@dataclass(frozen=True)
class DepthsPerCell:
    vanilla: Depths = setting()
    minimal: Depths = setting()
    gru: Depths = setting()
    lstm: Depths = setting()


@dataclass(frozen=True)
class GridAtInit:
    """The paper's panels' swept axes; ``T``, the depths, is each job's own (a subclass re-declares it, which keeps
    it first: dataclass fields keep the position of their first declaration)."""

    T: object = setting()
    vanilla_sigma_w: Axis = setting()
    minimal_mu_b: Axis = setting()
    minimal_sigma_w: Axis = setting()


@dataclass(frozen=True)
class Grid(GridAtInit):
    T: DepthsPerCell = setting()
    gated_sigma_w: Axis = setting("panels k, l, o, p")
    gated_mu: Axis = setting("panels i, j (GRU mu_z), m, n (LSTM mu_f)")


@dataclass(frozen=True)
class Ensemble:
    max_members: int = setting(min=1)
    max_mb: float = setting(gt=0.0)
    vanilla_input_steps: int | None = setting(min=1)


@dataclass(frozen=True)
class Boundary:
    metric: Literal["train_acc", "test_acc"] = setting()
    threshold: float = setting(gt=0.0, lt=1.0)
    margin: float = setting(min=0.0)
    seeds: int = setting(min=1)


@dataclass(frozen=True)
class Settings(Common):
    profile: Literal["smoke", "quick", "cpu", "paper"] = setting(
        "sizes: smoke (seconds), quick (a 2-core CPU), cpu (Fig. 2's claim on a 2-core CPU, untied panels), paper")
    panels: list[Panel] = setting("which of Fig. 2's panels to run")
    task: Task = setting()
    vanilla: Vanilla = setting()
    minimal: Minimal = setting()
    gated: Gated = setting()
    init: Init = setting()
    train: Train = setting()
    grid: Grid = setting()
    ensemble: Ensemble = setting()
    boundary: Boundary = setting()


# ------------------------------------------------------------------------------------------- what relates keys
#: Fig. 2's panels: the cell, the weight tying ("weights") and the swept hyper-parameter
PANELS: dict[str, dict[str, Any]] = {
    "a": {"cell": "vanilla", "weights": "untied", "vary": "sigma_w"},
    "b": {"cell": "vanilla", "weights": "tied", "vary": "sigma_w"},
    "c": {"cell": "minimal", "weights": "untied", "vary": "mu_b"},
    "d": {"cell": "minimal", "weights": "tied", "vary": "mu_b"},
    "e": {"cell": "minimal", "weights": "untied", "vary": "sigma_w"},
    "f": {"cell": "minimal", "weights": "tied", "vary": "sigma_w"},
    "g": {"cell": "minimal", "weights": "untied", "vary": "sigma_w"},
    "h": {"cell": "minimal", "weights": "tied", "vary": "sigma_w"},
    # beyond the paper (issue 19): torch's GRU and LSTM, along the memory-gate bias and the recurrent scale
    "i": {"cell": "gru", "weights": "untied", "vary": "mu_z"},
    "j": {"cell": "gru", "weights": "tied", "vary": "mu_z"},
    "k": {"cell": "gru", "weights": "untied", "vary": "sigma_w"},
    "l": {"cell": "gru", "weights": "tied", "vary": "sigma_w"},
    "m": {"cell": "lstm", "weights": "untied", "vary": "mu_f"},
    "n": {"cell": "lstm", "weights": "tied", "vary": "mu_f"},
    "o": {"cell": "lstm", "weights": "untied", "vary": "sigma_w"},
    "p": {"cell": "lstm", "weights": "tied", "vary": "sigma_w"},
}
CELLS = ("vanilla", "minimal", "gru", "lstm")
GATED = ("gru", "lstm")
GATED_PANELS = "ijklmnop"


def axis_values(spec) -> list[float]:
    """A swept axis {start, stop, num}: linearly spaced, both ends included."""
    return [round(float(v), 6) for v in np.linspace(spec.start, spec.stop, int(spec.num))]


def panel_settings(cfg, panel: str) -> dict[str, Any]:
    """The fixed hyper-parameters of one panel and the swept axis, from the config."""
    p = PANELS[panel]
    if p["cell"] in GATED:  # mu_b holds the memory gate's bias (mu_z, mu_f) in the points and columns
        g = cfg.gated
        out = {**p, "sigma_v": float(g.sigma_v), "steps": int(g.steps)}
        fixed = g[p["cell"]]
        if p["vary"] == "sigma_w":
            return out | {"sigma_w": None, "mu_b": float(fixed.mu), "values": axis_values(cfg.grid.gated_sigma_w)}
        return out | {"sigma_w": float(fixed.sigma_w), "mu_b": None, "values": axis_values(cfg.grid.gated_mu)}
    fixed = cfg.vanilla if p["cell"] == "vanilla" else cfg.minimal
    out = {**p, "sigma_v": float(fixed.sigma_v), "steps": int(fixed.steps)}
    if p["cell"] == "vanilla":
        out.update(sigma_w=None, mu_b=0.0, values=axis_values(cfg.grid.vanilla_sigma_w))
    elif p["vary"] == "mu_b":
        out.update(sigma_w=float(fixed.sigma_w), mu_b=None, values=axis_values(cfg.grid.minimal_mu_b))
    else:
        out.update(sigma_w=None, mu_b=float(fixed.mu_b_e if panel in "ef" else fixed.mu_b_g),
                   values=axis_values(cfg.grid.minimal_sigma_w))
    return out


def input_R(cell: str, sigma_x: float, sigma_wx: float) -> float:
    """R seen by the recurrence at the noise steps: σ_x² (vanilla, GRU, LSTM: the weights act on the raw noise),
    E[tanh(z)²], z ~ N(0, σ_x̃² σ_x²) (minimalRNN)."""
    if cell != "minimal":
        return float(sigma_x) ** 2
    from rnnmf.theory.gaussian import TANH_POLE, expect_1d

    return float(expect_1d(lambda u: np.tanh(u) ** 2, (sigma_wx * sigma_x) ** 2, 0.0, pole=TANH_POLE))


def ensemble_shape(cell: str, weights: str, T: int, vanilla_input_steps: int | None) -> dict:
    """The ensemble's time layout: tied, or untied over the T + 1 inputs (image + T noise steps)."""
    if weights == "tied":
        return {"steps": None}
    if cell in GATED:
        return {"steps": T + 1}
    return {"steps": T + 1, "input_steps": vanilla_input_steps if cell == "vanilla" else None}


def member_params(cell: str, hidden: int, steps: int | None = None, input_steps: int | None = None) -> int:
    """Parameters of one ensemble member, as ``rnnmf.nn.ensemble.RNNEnsemble.param_count`` counts them (a test
    holds the two equal): here so that the memory check needs no torch."""
    M, N, C, S = INPUT_SIZE, hidden, NUM_CLASSES, steps or 1
    if cell in GATED:  # rnnmf.nn.gated_ensemble.GatedEnsemble.param_count
        G = 3 if cell == "gru" else 4
        return S * (G * N * N + G * N + (N if cell == "gru" else 0)) + G * N * M + C * N + C
    P = min(S, input_steps or S) if cell == "vanilla" else 1
    return S * (N * N + N + (N * N if cell == "minimal" else 0)) + P * N * M + C * N + C


def member_bytes(cell: str, weights: str, T: int, hidden: int, batch_size: int,
                 vanilla_input_steps: int | None) -> float:
    """Memory of one ensemble member, float32: parameters with their gradient and two Adam moments (4 copies), plus
    ~6 saved (S, B, N) activations."""
    params = member_params(cell, hidden, **ensemble_shape(cell, weights, T, vanilla_input_steps))
    saved = {"gru": 18, "lstm": 24}.get(cell, 6)  # the gated cells' plain autograd keeps ~6 tensors per gate
    return 4.0 * (4 * params + saved * (T + 1) * batch_size * hidden)


def check_panel_domain(cfg, panel: str, s: dict) -> None:
    """One panel's columns (``s``: its ``panel_settings``) inside the theory's domain: swept sigma_w >= 0, then
    (sigma_w, sigma_v, R, mu_b) over their range (the gated cells: only a saturating memory gate); a refusal names
    the panel and the input statistics it was checked at."""
    from rnnmf.theory import check_domain

    sw = s["values"] if s["sigma_w"] is None else [s["sigma_w"]]
    mb = s["values"] if s["mu_b"] is None else [s["mu_b"]]
    if min(sw) < 0:
        raise RnnmfError(f"panel {panel}: sigma_w values {sw} are invalid; valid: numbers >= 0")
    try:
        if s["cell"] in GATED:  # the gated theory's only limit here: a saturating memory gate
            check_domain("minimal", mu_b=[min(mb), max(mb)])
        else:
            R = input_R(s["cell"], cfg.task.sigma_x, cfg.init.sigma_wx)
            check_domain(s["cell"], sigma_w=[min(sw), max(sw)], sigma_v=s["sigma_v"], R=R, mu_b=[min(mb), max(mb)])
    except RnnmfError as exc:
        raise RnnmfError(f"panel {panel} (task.sigma_x={cfg.task.sigma_x}, init.sigma_wx={cfg.init.sigma_wx}): "
                         f"{exc}") from None


def cross_check(cfg) -> None:
    """Depth lattices with start <= stop, swept sigma_w >= 0, the theory's domain over every panel's grid, one
    member's memory, and the MNIST files."""
    from rnnmf.data.checks import check_mnist

    for cell in CELLS:
        t = cfg.grid.T[cell]
        if t.start > t.stop:
            raise RnnmfError(f"grid.T.{cell}={{start: {t.start}, stop: {t.stop}, num: {t.num}}} is invalid; valid: "
                             "start <= stop (numbers of noise steps, geometrically spaced)")
    for p in cfg.panels:
        s = panel_settings(cfg, p)
        check_panel_domain(cfg, p, s)
        T = int(cfg.grid.T[s["cell"]].stop)
        check_memory(member_bytes(s["cell"], s["weights"], T, int(cfg.task.hidden), int(cfg.task.batch_size),
                                  cfg.ensemble.vanilla_input_steps),
                     f"one network of panel {p} at T={T}", "task.hidden, task.batch_size or grid.T")
    check_mnist(cfg.data.root, download=False)  # a missing file is one DataError line naming it


def legacy_view(view: dict) -> dict:
    """The hashed config covers the settings of the panels it runs: a run of the paper's panels (a-h) hashes as it
    did before the gated panels (i-p, issue 19) existed, so its run folder keeps its name; a run of gated panels only
    does not hash the vanilla and minimalRNN settings."""
    panels = set(view.get("panels") or [])
    grid = dict(view.get("grid") or {})
    depths = dict(grid.get("T") or {})
    if not panels & set(GATED_PANELS):
        drop, cells = ("gated",), GATED
        grid = {k: v for k, v in grid.items() if not k.startswith("gated_")}
    elif panels <= set(GATED_PANELS):
        drop, cells = ("vanilla", "minimal"), ("vanilla", "minimal")
        grid = {k: v for k, v in grid.items() if not k.startswith(("vanilla_", "minimal_"))}
    else:
        return view
    grid["T"] = {k: v for k, v in depths.items() if k not in cells}
    return {k: v for k, v in view.items() if k not in drop} | {"grid": grid}
