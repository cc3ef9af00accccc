"""Initialisers for torch's own ``nn.GRU`` and ``nn.LSTM`` in mean-field form (docs/gated-mean-field.md, sec. 4).

Per layer and direction, gate by gate (torch's row order: GRU r, z, n; LSTM i, f, g, o):

- ``weight_hh``: each gate's H x H block sigma_w_k times a Haar-orthogonal matrix ("orthogonal") or
  N(0, sigma_w_k^2 / H) entries ("gaussian");
- ``weight_ih``: N(0, sigma_v_k^2 / M) with M the layer's input size;
- ``bias_ih`` carries each gate's whole bias, N(mu_k, sigma_b_k^2); ``bias_hh`` is zero except the GRU's b_hn
  (inside r * (W_hn h + b_hn)), N(mu_hn, sigma_b_hn^2).

:func:`init_critical_gated` solves chi_1 = 1 (``rnnmf.theory.critical_gated``) layer by layer: layer 0 sees inputs of
second moment R, layer k > 0 the hidden states of layer k - 1, whose second moment is that layer's Q*.

:func:`calibrate_gated` (``init_critical(..., calibrate=True)``) goes beyond mean field for a one-layer module: it
measures the module's own chi_1 (``rnnmf.sim.gated.module_chi_1``) and rescales every recurrent block by one factor
until that is 1 (docs/gated-mean-field.md, sec. 7).

:func:`init_heuristic` is the common recipe it is compared with (Fig. 3 beyond the paper, job gated_seqmnist):
orthogonal recurrent blocks, Glorot/Xavier-uniform input weights, zero biases except the memory gate's.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from rnnmf.draws import gaussian, recurrent_matrix, uniform
from rnnmf.errors import RnnmfError
from rnnmf.nn.init import _check_weights
from rnnmf.theory.critical import GatedCriticalInit, critical_gated
from rnnmf.theory.gated import GATES, MEMORY_GATE, as_float_dict, bias_names, resolve


def torch_cell(module: nn.Module) -> str:
    """"gru" or "lstm" for a torch module this module can initialise; RnnmfError otherwise."""
    if isinstance(module, nn.GRU):
        return "gru"
    if isinstance(module, nn.LSTM):
        if module.proj_size:
            raise RnnmfError(f"nn.LSTM with proj_size={module.proj_size} is not covered by the mean-field theory; "
                             "valid: proj_size=0")
        return "lstm"
    raise RnnmfError(f"got a {type(module).__name__}; valid: torch.nn.GRU, torch.nn.LSTM")


def _directions(module: nn.Module):
    return ("", "_reverse") if module.bidirectional else ("",)


@torch.no_grad()
def _set_layer(module: nn.Module, cell: str, layer: int, p: dict, weights: str, generator) -> None:
    H = module.hidden_size
    gates = GATES[cell]
    for sfx in _directions(module):
        W = getattr(module, f"weight_hh_l{layer}{sfx}")
        V = getattr(module, f"weight_ih_l{layer}{sfx}")
        M = V.shape[1]
        for k, g in enumerate(gates):
            rows = slice(k * H, (k + 1) * H)
            W[rows].copy_(recurrent_matrix((H, H), p[f"sigma_w_{g}"], weights, generator))
            V[rows].copy_(gaussian((H, M), p[f"sigma_v_{g}"] / math.sqrt(M), generator=generator))
        if not module.bias:
            nonzero = [b for b in bias_names(cell) if p[f"mu_{b}"] or p[f"sigma_b_{b}"]]
            if nonzero:
                raise RnnmfError(f"the module has bias=False but bias statistics were given for {', '.join(nonzero)}; "
                                 "valid: mu and sigma_b of 0 for a module without biases")
            continue
        b_ih = getattr(module, f"bias_ih_l{layer}{sfx}")
        b_hh = getattr(module, f"bias_hh_l{layer}{sfx}")
        b_hh.zero_()
        for k, g in enumerate(gates):
            b_ih[k * H:(k + 1) * H].copy_(gaussian((H,), p[f"sigma_b_{g}"], p[f"mu_{g}"], generator))
        if cell == "gru":
            b_hh[2 * H:].copy_(gaussian((H,), p["sigma_b_hn"], p["mu_hn"], generator))


def init_gated(module: nn.Module, *, weights: str = "orthogonal", generator: torch.Generator | None = None,
               **params) -> dict:
    """Set every layer of a torch ``nn.GRU``/``nn.LSTM`` from per-gate statistics (standard deviations; names as in
    ``rnnmf.theory.gated``: sigma_w, sigma_v, sigma_b for every gate, or sigma_w_z, mu_f, ...).  Returns the resolved
    per-gate values."""
    cell = torch_cell(module)
    _check_weights(weights)
    p, shape, _ = resolve(cell, R=1.0, **params)  # R does not enter the weights
    if shape != ():
        raise RnnmfError(f"init_gated takes scalar statistics; got arrays of shape {shape}")
    p = as_float_dict(p)
    p.pop("R")
    for layer in range(module.num_layers):
        _set_layer(module, cell, layer, p, weights, generator)
    return p


def init_critical_gated(module: nn.Module, R: float, *, solve_for: str = "sigma_w", weights: str = "orthogonal",
                        generator: torch.Generator | None = None, calibrate: bool | dict = False,
                        **params) -> list[GatedCriticalInit]:
    """Critical initialisation (chi_1 = 1, eq. 26) of every layer of a torch ``nn.GRU``/``nn.LSTM``.

    ``R`` is the second moment of the module's input per unit; ``solve_for`` is "sigma_w" (a common scale of the
    recurrent weights) or the memory gate's bias ("mu_z" for the GRU, "mu_f" for the LSTM); ``params`` fixes the rest.
    Layer k > 0 is solved for inputs of second moment Q* of layer k - 1.  Returns one ``GatedCriticalInit`` per layer
    (its ``Q_star`` says where that layer's h settles); raises InfeasibleError when chi_1 = 1 cannot be reached.

    ``calibrate`` (True, or a dict of :func:`calibrate_gated`'s options): then measure the initialised module's own
    chi_1 on inputs of second moment R and rescale its recurrent weights until that is 1 within the tolerance; the
    result's ``calibration`` says by how much (one-layer unidirectional modules only).
    """
    cell = torch_cell(module)
    _check_weights(weights)
    if calibrate is not False and (module.num_layers != 1 or module.bidirectional):
        raise RnnmfError(f"calibrate needs a one-layer unidirectional module; got num_layers={module.num_layers}, "
                         f"bidirectional={module.bidirectional}")
    if R is None:
        raise RnnmfError("init_critical for a torch GRU/LSTM needs R, the second moment of its input per unit")
    out = []
    r = float(R)
    for layer in range(module.num_layers):
        res = critical_gated(cell, R=r, solve_for=solve_for, **params)
        stats = as_float_dict(resolve(cell, R=r, **res.params)[0])
        stats.pop("R")
        _set_layer(module, cell, layer, stats, weights, generator)
        out.append(res)
        r = res.Q_star
    if calibrate is not False:
        options = {} if calibrate is True else dict(calibrate)
        out[0] = dataclasses.replace(out[0], calibration=calibrate_gated(module, float(R), theory=out[0], **options))
    return out


#: a calibration that shrinks weight_hh below this factor has not found a critical recurrent scale: the module's
#: chi_1 came to 1 because the recurrent weights were all but removed (a GRU at mu_z = 5 reaches sigma(5)^2 = 0.987
#: from its update gate alone, README "Beyond the paper"); such a result is returned with converged=False
MIN_SCALE = 0.1


@dataclass(frozen=True)
class Calibration:
    """What :func:`calibrate_gated` did: ``scale`` multiplied every recurrent block (so the recurrent scale is now
    ``sigma_w`` = scale times the theory's when it solved for sigma_w), the module's measured chi_1 (and its standard
    error over chains) at scale 1 and at the end, the number of measurements, the tolerance and whether it was met."""

    scale: float
    sigma_w: float | None  # the calibrated common recurrent scale (None unless the theory solved for sigma_w)
    chi_1: float
    chi_1_se: float
    chi_1_before: float
    evaluations: int
    tolerance: float
    converged: bool


@torch.no_grad()
def calibrate_gated(module: nn.Module, R: float, *, theory: GatedCriticalInit | None = None, tolerance: float = 0.02,
                    max_evaluations: int = 8, batch: int = 8, tangents: int = 4, burn_in: int = 1000,
                    warm_burn_in: int = 300, steps: int = 40, seed: int = 0) -> Calibration:
    """Rescale a one-layer torch ``nn.GRU``/``nn.LSTM``'s recurrent weights (``weight_hh``, every gate by one
    factor x) until its measured chi_1 (``rnnmf.sim.gated.module_chi_1`` on inputs of second moment R) is 1 within
    ``tolerance`` (docs/gated-mean-field.md, sec. 7).  Beyond mean field: the theory is for untied weights, and
    torch's tied modules can settle in a state of another law (persistent recurrent fields).

    A secant search in log x on log chi_1, started from the theory's slope d log chi_1 / d log sigma_w at the
    critical point when ``theory`` (its ``GatedCriticalInit``) is given (else 1); the first measurement burns in
    ``burn_in`` steps from a zero state, later ones ``warm_burn_in`` from the previous state.  Each measurement costs
    about burn-in + 4 ``steps`` module steps at ``batch`` chains: O(N^2) per step.  Warns (RuntimeWarning) and keeps
    the best scale found when ``max_evaluations`` do not reach the tolerance.
    """
    from rnnmf.sim.gated import module_chi_1

    cell = torch_cell(module)
    if module.num_layers != 1 or module.bidirectional:
        raise RnnmfError(f"calibrate_gated needs a one-layer unidirectional module; got num_layers="
                         f"{module.num_layers}, bidirectional={module.bidirectional}")
    if not 0 < tolerance < 1 or max_evaluations < 1:
        raise RnnmfError(f"tolerance={tolerance!r}, max_evaluations={max_evaluations!r} are invalid; valid: "
                         "0 < tolerance < 1, max_evaluations >= 1")
    W = module.weight_hh_l0
    base = W.detach().clone()
    slope = _theory_slope(cell, theory) if theory is not None else 1.0
    state, tried = None, []  # (log x, log chi_1, se, x)

    def measure(u):
        nonlocal state
        W.copy_(base * math.exp(u))
        res = module_chi_1(module, R, batch=batch, tangents=tangents, steps=steps, seed=seed, state=state,
                           burn_in=burn_in if state is None else warm_burn_in)
        state = res["state"]
        tried.append((u, math.log(res["chi_1"]), res["chi_1_se"]))
        return tried[-1][1]

    u, f = 0.0, measure(0.0)
    while abs(math.expm1(f)) > tolerance and len(tried) < max_evaluations:
        if len(tried) >= 2:  # secant through the two nearest measurements
            (u0, f0, _), (u1, f1, _) = sorted(tried, key=lambda t: abs(t[1]))[:2]
            if f1 != f0 and abs(u1 - u0) > 1e-12:
                slope = max((f1 - f0) / (u1 - u0), 1e-3)
            u, f = u0, f0
        u = u - f / slope
        f = measure(u)
    u, f, se = min(tried, key=lambda t: abs(t[1]))
    W.copy_(base * math.exp(u))
    converged = abs(math.expm1(f)) <= tolerance and math.exp(u) >= MIN_SCALE
    if not converged:
        why = (f"the module's chi_1 is {math.exp(f):.4g} after {len(tried)} measurements (tolerance {tolerance:g})"
               if abs(math.expm1(f)) > tolerance else
               f"chi_1 = {math.exp(f):.4g} only with weight_hh scaled by {math.exp(u):.2g} < {MIN_SCALE}: the gates "
               "alone set chi_1 at this bias, and the module has no critical recurrent scale")
        warnings.warn(f"calibrate_gated: {why}; keeping scale {math.exp(u):.4g}", RuntimeWarning, stacklevel=2)
    sigma_w = math.exp(u) * theory.value if theory is not None and theory.solve_for == "sigma_w" else None
    return Calibration(math.exp(u), sigma_w, math.exp(f), se, math.exp(tried[0][1]), len(tried), float(tolerance),
                       converged)


def _theory_slope(cell: str, res: GatedCriticalInit) -> float:
    """d log chi_1 / d log x of the untied theory at its critical point, x a common factor on every recurrent scale
    (a central difference, 1e-3 in log x): the secant search's first slope."""
    from rnnmf.theory import gru, lstm

    theory = gru if cell == "gru" else lstm
    names = [f"sigma_w_{g}" for g in GATES[cell]]
    p = as_float_dict(resolve(cell, R=res.R, **res.params)[0])
    p.pop("R")
    chi = [float(theory.chi_1(R=res.R, **{**p, **{k: p[k] * math.exp(e) for k in names}})) for e in (-1e-3, 1e-3)]
    return max((math.log(chi[1]) - math.log(chi[0])) / 2e-3, 1e-3)


@torch.no_grad()
def init_heuristic(module: nn.Module, *, memory_bias: float = 1.0, generator: torch.Generator | None = None) -> dict:
    """The common initialisation recipe of a torch ``nn.GRU``/``nn.LSTM`` (every layer and direction):

    - ``weight_hh``: each gate's H x H block a Haar-orthogonal matrix (every singular value 1);
    - ``weight_ih``: Glorot/Xavier uniform over the whole (gates * H) x M matrix, as ``nn.init.xavier_uniform_``
      draws it: U(+-a), a = sqrt(6 / (M + gates * H)), variance 2 / (M + gates * H);
    - biases zero, except the memory gate's in ``bias_ih``: the LSTM's forget gate f (Gers et al. 2000; Jozefowicz
      et al. 2015) and, for the GRU, the update gate z, whose bias must be *positive* to keep memory in torch's
      convention h' = (1 - z) * n + z * h. ``bias_hh`` is zero, so the gate's total bias is ``memory_bias``.

    Returns the layer-0 statistics in mean-field form (``rnnmf.theory.gated`` names: sigma_w, sigma_v as standard
    deviations of weight * sqrt(fan), bias means), for the theory's chi_1 of this initialisation.
    """
    cell = torch_cell(module)
    gates, memory = GATES[cell], MEMORY_GATE[cell]
    H = module.hidden_size
    out = {}
    for layer in range(module.num_layers):
        for sfx in _directions(module):
            W = getattr(module, f"weight_hh_l{layer}{sfx}")
            V = getattr(module, f"weight_ih_l{layer}{sfx}")
            M = V.shape[1]
            for k in range(len(gates)):
                W[k * H:(k + 1) * H].copy_(recurrent_matrix((H, H), 1.0, "orthogonal", generator))
            V.copy_(uniform(V.shape, math.sqrt(6.0 / (M + V.shape[0])), generator))
            if module.bias:
                getattr(module, f"bias_hh_l{layer}{sfx}").zero_()
                b_ih = getattr(module, f"bias_ih_l{layer}{sfx}")
                b_ih.zero_()
                b_ih[gates.index(memory) * H:(gates.index(memory) + 1) * H] = float(memory_bias)
            if layer == 0 and not out:
                out = {"sigma_w": 1.0, "sigma_v": math.sqrt(2.0 * M / (M + V.shape[0])), "sigma_b": 0.0,
                       f"mu_{memory}": float(memory_bias) if module.bias else 0.0}
    return out
