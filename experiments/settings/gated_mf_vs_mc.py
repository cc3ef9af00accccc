"""Settings of Fig. 1's check for torch's GRU and LSTM, beyond the paper (``conf/gated_mf_vs_mc.yaml``; the job:
``experiments.gated_mf_vs_mc``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from experiments.schema import setting
from experiments.settings import Common
from experiments.settings.mf_vs_mc import Axis, FixedPoints, Schedule, Timescales, check_schedule
from rnnmf.errors import RnnmfError


@dataclass(frozen=True)
class Model:
    """Statistics shared by every gate (standard deviations)."""

    R: float = setting("input second moment per unit", gt=0.0)
    sigma_v: float = setting("input weights: weight_ih ~ N(0, sigma_v^2 / M)", min=0.0)
    sigma_b: float = setting("bias standard deviation (b_ih + b_hh of a gate)", min=0.0)


@dataclass(frozen=True)
class GRUBiases:
    """The GRU's bias means other than mu_z (the grid axis); null: the theory's default."""

    mu_r: float | None = setting()
    mu_n: float | None = setting()
    mu_hn: float | None = setting()


@dataclass(frozen=True)
class LSTMBiases:
    """The LSTM's bias means other than mu_f (the grid axis); null: the theory's default."""

    mu_i: float | None = setting()
    mu_g: float | None = setting()
    mu_o: float | None = setting()


@dataclass(frozen=True)
class Sim:
    hidden: int = setting(min=1)
    networks: int = setting(min=1)
    tied_hidden: int = setting(min=1)
    tied_networks: int = setting(min=1)
    dtype: Literal["float32", "float64"] = setting()


@dataclass(frozen=True)
class Theory:
    population: int = setting("LSTM pair law: population size", min=1)


@dataclass(frozen=True)
class Jacobian:
    T: list[int] = setting(min=1)
    hidden: int = setting(min=1)
    networks: int = setting(min=1)


@dataclass(frozen=True)
class Critical:
    bias: list[float] = setting("memory-gate biases at which chi_1 = 1 is solved", empty=True)
    hidden: int = setting(min=1)
    input_size: int = setting(min=1)
    weights: Literal["orthogonal", "gaussian"] = setting()
    batch: int = setting(min=1)
    burn_in: int = setting(min=0)
    steps: int = setting(min=1)
    calibrate: bool = setting("beyond mean field: also rescale weight_hh to where the module's measured chi_1 crosses "
                              "1 (rnnmf.nn.gated.calibrate_gated) and measure it again with fresh inputs")


@dataclass(frozen=True)
class Settings(Common):
    cell: Literal["gru", "lstm"] = setting()
    model: Model = setting()
    gru: GRUBiases = setting()
    lstm: LSTMBiases = setting()
    sigma_w: list[float] = setting("recurrent weight scales: weight_hh ~ N(0, sigma_w^2 / N)", min=0.0)
    bias: Axis = setting("the memory gate's bias mean: mu_z (GRU) or mu_f (LSTM)")
    schedule: Schedule = setting()
    sim: Sim = setting()
    theory: Theory = setting()
    fixed_points: FixedPoints = setting()
    timescales: Timescales = setting()
    jacobian: Jacobian = setting()
    critical: Critical = setting()


#: keys that were removed: where their meaning went (an override is refused with this reason)
REMOVED = {"tolerance": "the acceptance limit on max |c_theory - c_mc_untied| is claim gru.c_t / lstm.c_t in "
                          "experiments/claims.py (C_T_TOLERANCE = 0.02), the one table of our tolerances"}


# ------------------------------------------------------------------------------------------- what relates keys
def axis(spec) -> list[float]:
    return [round(float(x), 10) for x in np.linspace(float(spec.start), float(spec.stop), int(spec.num))]


def params(cfg, sigma_w: float, bias: float) -> dict:
    """Every per-gate statistic of one grid point (floats), from ``model`` and the cell's own section."""
    from rnnmf.theory.gated import MEMORY_GATE, as_float_dict, resolve

    cell = cfg.cell
    extra = {k: float(v) for k, v in cfg[cell].items() if v is not None}
    kw = dict(R=float(cfg.model.R), sigma_w=sigma_w, sigma_v=float(cfg.model.sigma_v),
              sigma_b=float(cfg.model.sigma_b), **extra)
    kw[f"mu_{MEMORY_GATE[cell]}"] = bias
    return as_float_dict(resolve(cell, **kw)[0])


def cross_check(cfg) -> None:
    """The bias range, the schedule, and every statistic's range via the theory's own checks."""
    if float(cfg.bias.stop) < float(cfg.bias.start):
        raise RnnmfError(f"bias={dict(cfg.bias)!r} is invalid; valid: num >= 1 and stop >= start")
    check_schedule(cfg)
    params(cfg, float(cfg.sigma_w[0]), axis(cfg.bias)[0])
