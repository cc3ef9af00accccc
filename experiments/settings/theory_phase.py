"""Settings of the theory's phase maps (``conf/theory_phase.yaml``; the job: ``experiments.theory_phase``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from experiments.memory import check_memory
from experiments.schema import plain, setting
from experiments.settings import Common
from rnnmf.errors import RnnmfError

#: bytes per grid point of one phase_map call: ~40 float64 arrays over the grid (inputs, the fixed points, the
#: moments and the outputs), measured as 2-3 kB per point with the lattice chunks, with a margin
BYTES_PER_POINT = 4096
Name = Literal["sigma_w", "sigma_v", "R", "sigma_b", "mu_b", "sigma12"]


@dataclass(frozen=True)
class Axis:
    name: Name = setting("the hyper-parameter on this axis")
    start: float = setting()
    stop: float = setting()


@dataclass(frozen=True)
class Fixed:
    """The hyper-parameters not on an axis (sigma's are standard deviations)."""

    sigma_w: float = setting(min=0.0)
    sigma_v: float = setting(min=0.0)
    sigma_b: float = setting(min=0.0)
    mu_b: float = setting()
    R: float = setting(gt=0.0)


@dataclass(frozen=True)
class Settings(Common):
    cell: Literal["vanilla", "minimal"] = setting()
    x: Axis = setting()
    y: Axis = setting()
    num: int = setting("grid points per axis", min=2)
    sigma12: float = setting("input cosine similarity Sigma_12", min=-1.0, max=1.0)
    fixed: Fixed = setting()


# ------------------------------------------------------------------------------------------- what relates keys
def fixed(cfg) -> dict:
    """The fixed hyper-parameters this cell takes, less the two on the axes."""
    from rnnmf.theory.phase import PARAMS

    valid = PARAMS[cfg.cell]
    return {k: v for k, v in plain(cfg.fixed).items() if k in valid and k not in (cfg.x.name, cfg.y.name)}


def cross_check(cfg) -> None:
    """The axes of this cell, the memory of the grid, the numerical domain at the grid's corners."""
    from rnnmf.theory.phase import PARAMS, phase_map

    for axis in (cfg.x, cfg.y):
        if axis.name not in PARAMS[cfg.cell]:
            raise RnnmfError(f"unknown axis {axis.name!r} for cell {cfg.cell!r}; valid: {', '.join(PARAMS[cfg.cell])}")
    check_memory(cfg.num**2 * BYTES_PER_POINT, f"a {cfg.num} x {cfg.num} grid (num={cfg.num})", "num")
    # the library checks ranges and the numerical domain (negative sigma's, |Sigma12| > 1, R <= 0, q* beyond what
    # the quadrature resolves) on a 2 x 2 corner grid, cheaply: the domain's bound grows towards the corners
    try:
        phase_map(cfg.cell, cfg.x.name, [cfg.x.start, cfg.x.stop], cfg.y.name, [cfg.y.start, cfg.y.stop],
                  fixed=fixed(cfg), sigma12=cfg.sigma12)
    except RnnmfError as exc:  # say which keys the grid's corners came from
        raise RnnmfError(f"the grid {cfg.x.name} = x.start..x.stop = {cfg.x.start}..{cfg.x.stop}, {cfg.y.name} = "
                         f"y.start..y.stop = {cfg.y.start}..{cfg.y.stop}: {exc}") from None
