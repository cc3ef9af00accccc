"""Settings of Fig. 1's mean field against Monte Carlo (``conf/mf_vs_mc.yaml``; the job: ``experiments.mf_vs_mc``).
Its schedule, fixed-point and timescale sections are shared with ``gated_mf_vs_mc``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from experiments.memory import check_memory
from experiments.schema import setting
from experiments.settings import Axis, Common
from rnnmf.errors import RnnmfError

#: ``rnnmf.sim.montecarlo.CHUNK_BYTES`` (tied networks per batch by default: as many as fit 1 GiB), without torch
CHUNK_BYTES = 1 << 30


@dataclass(frozen=True)
class Model:
    sigma_w: float = setting("recurrent weights' standard deviation", min=0.0)
    sigma_v: float = setting(min=0.0)
    sigma_b: float = setting(min=0.0)
    R: float = setting("input second moment", gt=0.0)


@dataclass(frozen=True)
class Schedule:
    """Sigma12^t = before for t < switch, after from t = switch."""

    before: float = setting(min=-1.0, max=1.0)
    after: float = setting(min=-1.0, max=1.0)
    switch: int = setting(min=1)
    steps: int = setting(min=2)


@dataclass(frozen=True)
class Sim:
    hidden: int = setting("N of the untied networks", min=1)
    networks: int = setting(min=1)
    tied_hidden: int | None = setting("null: sim.hidden", min=1)
    tied_networks: int | None = setting("null: sim.networks", min=1)
    chunk: int | None = setting("tied networks per batch; null: as many as fit 1 GiB of weights", min=1)
    dtype: Literal["float32", "float64"] = setting()


@dataclass(frozen=True)
class FixedPoints:
    window: int = setting("c* from Monte Carlo: the mean over the last `window` steps", min=1)
    tolerance: float = setting(gt=0.0)


@dataclass(frozen=True)
class Timescales:
    sigma12: list[float] = setting("Sigma12 of the timescale fits; [] fits none", min=-1.0, max=1.0, empty=True)
    steps: int = setting(min=2)
    hidden: int = setting(min=1)
    networks: int = setting(min=1)
    noise: float = setting(gt=0.0)
    linear_tol: float = setting(gt=0.0)
    min_points: int = setting(min=2)


@dataclass(frozen=True)
class Settings(Common):
    model: Model = setting()
    mu_b: Axis = setting("the Monte-Carlo grid of bias means, evenly spaced")
    theory_points: int = setting(min=2)
    schedule: Schedule = setting()
    sim: Sim = setting()
    fixed_points: FixedPoints = setting()
    timescales: Timescales = setting()

#: keys that were removed: where their meaning went (an override is refused with this reason)
REMOVED = {"tolerance": "the acceptance limit on max |c_theory - c_mc_untied| is claim fig1.c_t in "
                          "experiments/claims.py (C_T_TOLERANCE = 0.02), the one table of our tolerances"}


def legacy_view(view: dict) -> dict:
    """The hashed config as it was before ``tolerance`` moved to the claims table (issue 15), so that a run folder
    keeps its name: the removed key is hashed with the value every run had."""
    return view | {"tolerance": 0.02}


# ------------------------------------------------------------------------------------------- what relates keys
def sim_sizes(cfg) -> dict:
    sim = cfg.sim
    return {"hidden": int(sim.hidden), "networks": int(sim.networks),
            "tied_hidden": int(sim.tied_hidden if sim.tied_hidden is not None else sim.hidden),
            "tied_networks": int(sim.tied_networks if sim.tied_networks is not None else sim.networks)}


def memory_bytes(cfg) -> int:
    """Peak memory of one unit, the largest of its three simulations (they run one after another): an untied run
    holds ~20 (networks, N) arrays; a chunk of tied networks holds W and V (at least one network's, 2 N^2) and its
    inputs (T, chunk, 2, N)."""
    item = 8 if cfg.sim.dtype == "float64" else 4
    sizes, ts = sim_sizes(cfg), cfg.timescales
    untied = 20 * item * max(sizes["networks"] * sizes["hidden"], int(ts.networks) * int(ts.hidden))
    n, T = sizes["tied_hidden"], int(cfg.schedule.steps)
    per_net = 2 * n * n * item + 2 * T * n * item
    chunk = int(cfg.sim.chunk) if cfg.sim.chunk is not None else max(1, CHUNK_BYTES // (2 * n * n * item))
    return max(untied, min(chunk, sizes["tied_networks"]) * per_net)


def check_schedule(cfg) -> None:
    """switch and the fixed-point window within the schedule's steps (shared with gated_mf_vs_mc)."""
    steps, switch = int(cfg.schedule.steps), int(cfg.schedule.switch)
    if switch > steps:
        raise RnnmfError(f"schedule.switch={switch} is invalid; valid: 1 <= switch <= schedule.steps={steps}")
    if int(cfg.fixed_points.window) > steps:
        raise RnnmfError(f"fixed_points.window={cfg.fixed_points.window!r} is invalid; valid: 1 .. schedule.steps")


def cross_check(cfg) -> None:
    """The mu_b range, the schedule, the theory's numerical domain over the mu_b range, the memory."""
    from rnnmf.theory import check_domain

    if float(cfg.mu_b.stop) < float(cfg.mu_b.start):
        raise RnnmfError(f"mu_b={dict(cfg.mu_b)!r} is invalid; valid: stop >= start")
    check_schedule(cfg)
    m = cfg.model
    check_domain("minimal", sigma_w=m.sigma_w, sigma_v=m.sigma_v, R=m.R, sigma_b=m.sigma_b,
                 mu_b=[cfg.mu_b.start, cfg.mu_b.stop])
    check_memory(memory_bytes(cfg), "one mu_b unit's simulations", "sim.hidden, sim.networks, sim.tied_hidden, "
                 "sim.tied_networks, sim.chunk or timescales.hidden, timescales.networks")
