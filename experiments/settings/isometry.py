"""Settings of the dynamical-isometry job, Sec. 3.2.2 (``conf/isometry.yaml``; the job: ``experiments.isometry``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from experiments.memory import check_memory
from experiments.schema import setting
from experiments.settings import Common
from rnnmf.errors import RnnmfError

#: ``rnnmf.sim.jacobian.CELLS`` and ``WEIGHTS``, here without torch
CELLS = ("minimal", "vanilla")
WEIGHTS = ("gaussian", "orthogonal")
INITS = ("critical", "off_critical")
TYINGS = ("untied", "tied")


@dataclass(frozen=True)
class Minimal:
    q_star: float = setting("Algorithm 1's target q*", gt=0.0)
    mu_b: list[float] = setting("bias means of the critical minimalRNNs", empty=True)
    mu_b_ref: float = setting("the critical minimalRNN shown in the density and tied-vs-untied panels (in mu_b)")


@dataclass(frozen=True)
class Vanilla:
    q_star: float = setting("target q* of the critical vanilla RNN", gt=0.0)


@dataclass(frozen=True)
class Density:
    T: list[int] = setting("steps whose histograms go to density.csv (a subset of T)", min=1, empty=True)
    bins: int = setting(min=1)


@dataclass(frozen=True)
class Settings(Common):
    cells: list[Literal["minimal", "vanilla"]] = setting()
    inits: list[Literal["critical", "off_critical"]] = setting()
    weights: list[Literal["gaussian", "orthogonal"]] = setting("recurrent W: Gaussian or sigma_w x Haar orthogonal")
    tying: list[Literal["untied", "tied"]] = setting()
    R: float = setting("input second moment E[x~^2]", gt=0.0)
    minimal: Minimal = setting()
    vanilla: Vanilla = setting()
    hidden: list[int] = setting("widths N", min=2)
    networks: int = setting("random networks per condition at the largest N (the jackknife needs two)", min=2)
    T: list[int] = setting("steps at which J's singular values are taken", min=1)
    density: Density = setting()
    chunk: int | None = setting("networks per batch (null: all of a condition)", min=1)


# ------------------------------------------------------------------------------------------- what relates keys
def hyper(cfg, cell: str, init: str, mu_b: float) -> dict:
    """σ_w, σ_v, σ_b and the fixed point the networks start at (Q* for the minimalRNN, q* for the vanilla RNN)."""
    from rnnmf.theory import critical_minimal, critical_vanilla
    from rnnmf.theory import minimal as mt
    from rnnmf.theory import vanilla as vt

    R = float(cfg.R)
    if init == "critical" and cell == "minimal":
        c = critical_minimal(float(cfg.minimal.q_star), mu_b=mu_b, R=R)  # Algorithm 1; InfeasibleError if sigma_v^2 < 0
        return {"sigma_w": math.sqrt(c.sigma_w_sq), "sigma_v": math.sqrt(c.sigma_v_sq), "sigma_b": 0.0,
                "h0_var": float(c.Q_star), "Q_star_stable": bool(c.Q_star_stable)}
    if init == "critical":
        q = float(cfg.vanilla.q_star)
        c = critical_vanilla(q, R=R)
        return {"sigma_w": math.sqrt(c.sigma_w_sq), "sigma_v": math.sqrt(c.sigma_v_sq), "sigma_b": 0.0, "h0_var": q,
                "Q_star_stable": True}
    # Sec. 4.2: sigma_w^2 = sigma_v^2 = 1, sigma_b^2 = 0 (and mu_b = 0)
    h0 = mt.Q_star(1.0, 1.0, R, mu_b=0.0).Q_star if cell == "minimal" else vt.q_star(1.0, 1.0, R)
    return {"sigma_w": 1.0, "sigma_v": 1.0, "sigma_b": 0.0, "h0_var": float(h0), "Q_star_stable": True}


def memory_bytes(cfg) -> int:
    """Peak memory of the largest condition: ~3 (chunk, N, N) float64 matrices (J, the step Jacobian and their
    product) plus the singular values kept for every recorded T."""
    hidden = sorted({int(n) for n in cfg.hidden}, reverse=True)
    peak = 0
    for n in hidden:
        networks = int(cfg.networks) * hidden[0] // n
        chunk = networks if cfg.chunk is None else min(int(cfg.chunk), networks)
        peak = max(peak, 3 * chunk * n * n * 8 + len(cfg.T) * networks * n * 8)
    return peak


def cross_check(cfg) -> None:
    """Sub-lists, a feasible critical initialisation in the theory's domain, the memory."""
    Ts = [int(t) for t in cfg.T]
    dT = [int(t) for t in cfg.density.T]
    if set(dT) - set(Ts):
        raise RnnmfError(f"density.T={dT!r} is invalid; valid: steps listed in T={Ts}")
    mus = [float(m) for m in cfg.minimal.mu_b]
    if "minimal" in cfg.cells and "critical" in cfg.inits:
        if not mus:
            raise RnnmfError("minimal.mu_b=[] is invalid; valid: a non-empty list of bias means")
        if float(cfg.minimal.mu_b_ref) not in mus:
            raise RnnmfError(f"minimal.mu_b_ref={cfg.minimal.mu_b_ref!r} is invalid; valid: one of minimal.mu_b={mus}")
    check_memory(memory_bytes(cfg), "the largest condition's Jacobians", "hidden, networks or chunk")
    for cell in cfg.cells:  # infeasible critical requests and q* outside the theory's domain raise here
        for init in cfg.inits:
            for mu_b in (mus if (cell, init) == ("minimal", "critical") else [0.0]):
                hyper(cfg, cell, init, mu_b)
