"""Settings of the GRU/LSTM phase maps, beyond the paper (``conf/gated_phase.yaml``; the job:
``experiments.gated_phase``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from experiments.schema import plain, setting
from experiments.settings import Common
from rnnmf.errors import RnnmfError

SHARED = ("R", "sigma_w", "sigma_v", "sigma_b")


@dataclass(frozen=True)
class Axis:
    name: str = setting("R, sigma_w, sigma_v, sigma_b, or any per-gate name (mu_z, mu_f, sigma_w_z, ...)")
    start: float = setting()
    stop: float = setting()


@dataclass(frozen=True)
class Fixed:
    """The shared statistics not on an axis (standard deviations)."""

    R: float = setting()
    sigma_v: float = setting()
    sigma_b: float = setting()
    sigma_w: float = setting()


@dataclass(frozen=True)
class GRUBiases:
    mu_r: float = setting()
    mu_z: float = setting()
    mu_n: float = setting()
    mu_hn: float = setting()


@dataclass(frozen=True)
class LSTMBiases:
    mu_i: float = setting()
    mu_f: float = setting()
    mu_g: float = setting()
    mu_o: float = setting()


@dataclass(frozen=True)
class Settings(Common):
    cell: Literal["gru", "lstm"] = setting()
    x: Axis = setting()
    y: Axis = setting()
    num: int = setting("grid points per axis", min=2)
    fixed: Fixed = setting()
    gru: GRUBiases = setting()
    lstm: LSTMBiases = setting()


# ------------------------------------------------------------------------------------------- what relates keys
def axes_valid(cell: str) -> tuple[str, ...]:
    from rnnmf.theory.gated import param_names

    return SHARED + param_names(cell)


def grid(cfg, num: int) -> dict:
    """Every statistic as an array over the (num x num) grid: the axes' values and the fixed ones."""
    import numpy as np

    xs = np.linspace(cfg.x.start, cfg.x.stop, num)
    ys = np.linspace(cfg.y.start, cfg.y.stop, num)
    X, Y = np.meshgrid(xs, ys)
    kw = {k: v for k, v in {**plain(cfg.fixed), **plain(cfg[cfg.cell])}.items() if k not in (cfg.x.name, cfg.y.name)}
    kw[cfg.x.name], kw[cfg.y.name] = X, Y
    return kw


def cross_check(cfg) -> None:
    """The axes of this cell, two different axes, and every value's range on the grid's corners."""
    from rnnmf.theory.gated import resolve

    valid = axes_valid(cfg.cell)
    for axis in (cfg.x, cfg.y):
        if axis.name not in valid:
            raise RnnmfError(f"unknown axis {axis.name!r} for cell {cfg.cell!r}; valid: {', '.join(valid)}")
    if cfg.x.name == cfg.y.name:
        raise RnnmfError(f"x.name and y.name must differ; both are {cfg.x.name!r}")
    resolve(cfg.cell, **grid(cfg, 2))  # every value's range, on the corners, without solving anything
