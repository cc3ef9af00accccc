"""Initialisers for `rnnmf.nn` models (MinimalRNN, VanillaRNN and their untied forms), in the paper's parametrisation.

- W (the recurrent matrix, N × N): W_ij ~ N(0, σ_w²/N) ("gaussian"), or σ_w times a Haar-orthogonal matrix
  ("orthogonal"), whose singular values are then all exactly σ_w (Sec. 3.1: the vanilla RNN reaches dynamical
  isometry only with orthogonal W; for the minimalRNN it hardly matters, Fig. 3).
- V (the input matrix): V_ij ~ N(0, σ_v²/fan_in), fan_in = input size for the vanilla RNN (eq. 1, layer 0) and N for
  the minimalRNN, whose V acts on x̃ ∈ R^N (eq. 5; appendix eq. 14 writes σ_v²/M with M = dim x̃).
- b ~ N(μ_b, σ_b²) elementwise.
- W_x (the minimalRNN's input map Φ(x) = tanh(W_x x)): N(0, σ_x²/input_size); sigma_x=None leaves W_x as it is, so
  that R can be measured with `estimate_R` first and stays true.

Untied forms get an independent draw for every step t. Every function samples through ``rnnmf.draws`` on the CPU (or
on the generator's device) in float64 and copies into the parameters, so a seeded generator gives the same weights on
any device.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from rnnmf.draws import gaussian, recurrent_matrix
from rnnmf.errors import RnnmfError
from rnnmf.nn.base import RecurrentBase
from rnnmf.theory import CriticalInit, critical_minimal, critical_vanilla

WEIGHTS = ("orthogonal", "gaussian")


def _check_module(module: nn.Module, fn: str, extra: str = "") -> RecurrentBase:
    if not isinstance(module, RecurrentBase):
        raise RnnmfError(
            f"{fn} got a {type(module).__name__}; valid: MinimalRNN, VanillaRNN, UntiedMinimalRNN, "
            f"UntiedVanillaRNN{extra}"
        )
    return module


def _check_weights(weights: str) -> str:
    if weights not in WEIGHTS:
        raise RnnmfError(f"weights={weights!r} is invalid; valid: {', '.join(WEIGHTS)}")
    return weights


def _check_scale(name: str, value: float, allow_negative: bool = False) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise RnnmfError(f"{name}={value!r} is invalid; valid: a finite number") from None
    if not math.isfinite(value) or (value < 0 and not allow_negative):
        raise RnnmfError(f"{name}={value!r} is invalid; valid: a finite number{'' if allow_negative else ' >= 0'}")
    return value


@torch.no_grad()
def init_explicit(
    module: nn.Module,
    sigma_w: float,
    sigma_v: float,
    sigma_b: float = 0.0,
    mu_b: float = 0.0,
    weights: str = "orthogonal",
    sigma_x: float | None = 1.0,
    generator: torch.Generator | None = None,
) -> None:
    """Set every layer's W, V, b (and the minimalRNN's W_x) from the given standard deviations (not variances)."""
    module = _check_module(module, "init_explicit")
    weights = _check_weights(weights)
    sigma_w, sigma_v = _check_scale("sigma_w", sigma_w), _check_scale("sigma_v", sigma_v)
    sigma_b = _check_scale("sigma_b", sigma_b)
    sigma_x = None if sigma_x is None else _check_scale("sigma_x", sigma_x)
    mu_b = _check_scale("mu_b", mu_b, allow_negative=True)
    for c in module.cells():
        c.W.copy_(recurrent_matrix(c.W.shape, sigma_w, weights, generator))
        c.V.copy_(gaussian(c.V.shape, sigma_v / math.sqrt(c.V.shape[-1]), generator=generator))
        c.b.copy_(gaussian(c.b.shape, sigma_b, mu_b, generator))
        if c.W_x is not None and sigma_x is not None:
            c.W_x.copy_(gaussian(c.W_x.shape, sigma_x / math.sqrt(c.W_x.shape[-1]), generator=generator))


def init_critical(
    module: nn.Module,
    q_star: float | None = None,
    R: float | None = None,
    mu_b: float = 0.0,
    weights: str = "orthogonal",
    sigma_x: float | None = 1.0,
    generator: torch.Generator | None = None,
    **gated,
) -> CriticalInit | list:
    """Critical initialisation (Sec. 4.2): σ_w², σ_v² with χ₁ = 1 and σ_b² = 0, from the mean-field theory.

    minimalRNN: Algorithm 1 (`rnnmf.theory.critical_minimal(q_star, mu_b=..., R=...)`); vanilla RNN: eq. 4
    (`rnnmf.theory.critical_vanilla(q_star, R=..., mu_b=...)`). R is the second moment of the cell's input per unit
    (of x̃ for the minimalRNN, of x for the vanilla RNN). Returns the theory's CriticalInit; its Q_star (minimalRNN)
    is where Algorithm 1 starts h⁰. Raises rnnmf.errors.InfeasibleError when the request has no solution (σ_v² < 0), and
    warns (RuntimeWarning) when Algorithm 1's Q* is an unstable fixed point of the Q map (eq. 35-36).

    torch's own `nn.GRU` and `nn.LSTM` (every layer): χ₁ = 1 from their mean-field theory (docs/gated-mean-field.md);
    pass R and, as keywords, `solve_for` ("sigma_w", or "mu_z"/"mu_f") and the other gate statistics (sigma_v,
    mu_z, ...); q_star, mu_b and sigma_x do not apply. Returns a list of GatedCriticalInit, one per layer
    (`rnnmf.nn.gated.init_critical_gated`). ``calibrate=True`` then measures the module's own χ₁, layer by layer and
    direction by direction, and rescales its recurrent weights to where it crosses 1 (beyond mean field:
    `rnnmf.nn.gated.calibrate_layers`).
    """
    if isinstance(module, (nn.GRU, nn.LSTM)):
        from rnnmf.nn.gated import init_critical_gated

        if q_star is not None or mu_b != 0.0:
            raise RnnmfError("q_star and mu_b do not apply to a torch GRU/LSTM; give R and the gate statistics "
                             "(e.g. mu_z=2.0, sigma_v=1.0) as keywords")
        return init_critical_gated(module, R, weights=weights, generator=generator, **gated)
    module = _check_module(module, "init_critical", ", torch.nn.GRU, torch.nn.LSTM")
    if gated:
        raise RnnmfError(f"unknown argument(s) {', '.join(sorted(gated))} for a {type(module).__name__}; the gate "
                         "statistics apply to torch.nn.GRU and torch.nn.LSTM only")
    if q_star is None or R is None:
        raise RnnmfError("init_critical needs q_star and R for a MinimalRNN or VanillaRNN")
    _check_weights(weights)
    if module.cells()[0].W_x is not None:
        res = critical_minimal(q_star, mu_b=mu_b, R=R)
        if res.Q_star_stable is False:
            warnings.warn(
                f"critical init q_star={q_star}, mu_b={mu_b}, R={R}: Q*={res.Q_star:.4g} is an unstable fixed point "
                "of the Q map, so h will drift away from it (see CriticalInit.xi_Q)",
                RuntimeWarning,
                stacklevel=2,
            )
    else:
        res = critical_vanilla(q_star, R=R, mu_b=mu_b)
    init_explicit(
        module,
        sigma_w=math.sqrt(float(res.sigma_w_sq)),
        sigma_v=math.sqrt(float(res.sigma_v_sq)),
        sigma_b=math.sqrt(float(res.sigma_b_sq)),
        mu_b=mu_b,
        weights=weights,
        sigma_x=sigma_x,
        generator=generator,
    )
    return res


def init_off_critical(
    module: nn.Module,
    weights: str = "orthogonal",
    sigma_x: float | None = 1.0,
    generator: torch.Generator | None = None,
) -> None:
    """The paper's common off-critical initialisation (Sec. 4.2): σ_w² = σ_v² = 1, σ_b² = 0, μ_b = 0."""
    init_explicit(module, 1.0, 1.0, 0.0, 0.0, weights=weights, sigma_x=sigma_x, generator=generator)


@torch.no_grad()
def estimate_R(module: nn.Module, x: torch.Tensor) -> float:
    """R of Algorithm 1 and eq. 4: the mean square of the first layer's input per unit, over a sample `x` laid out as
    the module expects. For the minimalRNN that is x̃ = tanh(W_x x) with the current W_x; for the vanilla RNN, x.

    The theory assumes the inputs' norm is the same at every step (Sec. 3.2: R^t = R); this averages over steps too.
    The mean is taken in float64 (``rnnmf.data.second_moment``): a float32 sum over millions of inputs drifts.
    """
    from rnnmf.data import second_moment

    (c, *_) = _check_module(module, "estimate_R").cells()
    x = x.to(dtype=c.W.dtype, device=c.W.device)
    return second_moment(x if c.W_x is None else torch.tanh(x @ c.W_x.t()))
