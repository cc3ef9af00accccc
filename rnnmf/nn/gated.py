"""Initialisers for torch's own ``nn.GRU`` and ``nn.LSTM`` in mean-field form (docs/gated-mean-field.md, sec. 4).

Per layer and direction, gate by gate (torch's row order: GRU r, z, n; LSTM i, f, g, o):

- ``weight_hh``: each gate's H x H block sigma_w_k times a Haar-orthogonal matrix ("orthogonal") or
  N(0, sigma_w_k^2 / H) entries ("gaussian");
- ``weight_ih``: N(0, sigma_v_k^2 / M) with M the layer's input size;
- ``bias_ih`` carries each gate's whole bias, N(mu_k, sigma_b_k^2); ``bias_hh`` is zero except the GRU's b_hn
  (inside r * (W_hn h + b_hn)), N(mu_hn, sigma_b_hn^2).

:func:`init_critical_gated` solves chi_1 = 1 (``rnnmf.theory.critical_gated``) layer by layer: layer 0 sees inputs of
second moment R, layer k > 0 the hidden states of layer k - 1, whose second moment is that layer's Q*.

:func:`calibrate_gated` (``init_critical(..., calibrate=True)``) goes beyond mean field: it measures a one-layer
module's own chi_1 (``rnnmf.sim.gated.module_chi_1``) and rescales every recurrent block by one factor to where that
crosses 1 (docs/gated-mean-field.md, sec. 7); :func:`calibrate_layers` does it for every layer and direction of a
stack, each layer driven by the outputs of the calibrated layers below.

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
    chi_1 on inputs of second moment R and rescale its recurrent weights to where it crosses 1, layer by layer and
    direction by direction (:func:`calibrate_layers`: layer k driven by the outputs of the calibrated layers below);
    each layer's ``calibration`` says by how much (a (forward, reverse) pair for a bidirectional module).
    """
    cell = torch_cell(module)
    _check_weights(weights)
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
        cals = calibrate_layers(module, float(R), theories=out, **options)
        out = [dataclasses.replace(res, calibration=cal) for res, cal in zip(out, cals, strict=True)]
    return out


@dataclass(frozen=True)
class Calibration:
    """What :func:`calibrate_gated` did: ``scale`` multiplied every recurrent block (so the recurrent scale is now
    ``sigma_w`` = scale times the theory's when it solved for sigma_w), the module's measured chi_1 (and its standard
    error over chains) at scale 1 and at the end, the number of measurements, the tolerance, whether the crossing of
    chi_1 = 1 was bracketed by measurements on both sides, and whether the calibration is accepted (bracketed and
    within the tolerance).  ``R`` is the second moment of the inputs it was driven by (measured from the layer
    below for layers > 0 of a stack)."""

    scale: float
    sigma_w: float | None  # the calibrated common recurrent scale (None unless the theory solved for sigma_w)
    chi_1: float
    chi_1_se: float
    chi_1_before: float
    evaluations: int
    tolerance: float
    converged: bool
    bracketed: bool = False
    R: float | None = None


@torch.no_grad()
def calibrate_gated(module: nn.Module, R: float, *, theory: GatedCriticalInit | None = None, tolerance: float = 0.02,
                    target: float | None = None, max_evaluations: int = 10, max_step: float = 2.0, batch: int = 8,
                    tangents: int = 4, burn_in: int = 1000, warm_burn_in: int = 300, steps: int = 40, seed: int = 0,
                    inputs=None) -> Calibration:
    """Rescale a one-layer torch ``nn.GRU``/``nn.LSTM``'s recurrent weights (``weight_hh``, every gate by one
    factor x) to where its measured chi_1 (``rnnmf.sim.gated.module_chi_1`` on inputs of second moment R) crosses 1
    (docs/gated-mean-field.md, sec. 7).  Beyond mean field: the theory is for untied weights, and torch's tied
    modules can settle in a state of another law (persistent recurrent fields).

    The answer is the crossing of chi_1(x) = 1, not the first x whose chi_1 is near 1: at x -> 0 chi_1 tends to the
    memory gate's E[z^2] or E[f^2], which can itself be within ``tolerance`` of 1 (a GRU at mu_z = 5: 0.979).  So
    the search (in log x on log chi_1) first brackets the crossing, stepping from the theory's slope
    d log chi_1 / d log sigma_w at the critical point (``theory``, its ``GatedCriticalInit``; else 1) and then by
    secants, each step at most a factor ``max_step`` in x; then it narrows the bracket (secant through the two
    measurements nearest 1, bisection in log x when that leaves the bracket) until a bracketed measurement is within
    ``target`` (default ``tolerance`` / 4) of 1.  It keeps the bracket's end nearest 1 (without a bracket, the
    measurement nearest 1), and the result is accepted (``converged``) when there is a bracket and that end is within
    ``tolerance``; otherwise it warns (RuntimeWarning).  The first measurement burns in ``burn_in`` steps from a
    zero state, later ones ``warm_burn_in`` from the previous state, all with the same random inputs (``seed``).
    Each costs about burn-in + 4 ``steps`` module steps at ``batch`` chains: O(N^2) per step.  ``inputs``: a
    callable (burn-in length -> an input sequence of shape (length + steps, batch, input_size)) that replaces the
    Gaussian inputs (a stack's layer k > 0, :func:`calibrate_layers`).
    """
    from rnnmf.sim import gated as sim

    cell = torch_cell(module)
    if module.num_layers != 1 or module.bidirectional:
        raise RnnmfError(f"calibrate_gated needs a one-layer unidirectional module (calibrate_layers takes stacks); "
                         f"got num_layers={module.num_layers}, bidirectional={module.bidirectional}")
    target = tolerance / 4 if target is None else target
    if not 0 < tolerance < 1 or not 0 < target <= tolerance or max_evaluations < 2 or not max_step > 1:
        raise RnnmfError(f"tolerance={tolerance!r}, target={target!r}, max_evaluations={max_evaluations!r}, "
                         f"max_step={max_step!r} are invalid; valid: 0 < target <= tolerance < 1, "
                         "max_evaluations >= 2, max_step > 1")
    W = module.weight_hh_l0
    base = W.detach().clone()
    slope = _theory_slope(cell, theory) if theory is not None else 1.0
    state, tried = None, []  # (log x, log chi_1, se)

    def measure(u):
        nonlocal state
        W.copy_(base * math.exp(u))
        n = burn_in if state is None else warm_burn_in
        res = sim.module_chi_1(module, R, batch=batch, tangents=tangents, steps=steps, seed=seed, state=state,
                               burn_in=n, inputs=None if inputs is None else inputs(n))
        state = res["state"]
        tried.append((u, math.log(res["chi_1"]), res["chi_1_se"]))

    measure(0.0)
    while len(tried) < max_evaluations:
        bracket = _bracket(tried)
        if bracket is not None and abs(math.expm1(_nearest(bracket)[1])) <= target:
            break
        measure(_next_scale(tried, bracket, slope, math.log(max_step), math.log1p(target)))
    bracket = _bracket(tried)
    bracketed = bracket is not None
    u, f, se = _nearest(bracket if bracketed else tried)
    W.copy_(base * math.exp(u))
    converged = bracketed and abs(math.expm1(f)) <= tolerance
    if not converged:
        xs = sorted(math.exp(t[0]) for t in tried)
        why = (f"the module's chi_1 is {math.exp(f):.4g} after {len(tried)} measurements (tolerance {tolerance:g})"
               if bracketed else
               f"no crossing of chi_1 = 1 was bracketed by {len(tried)} measurements at weight_hh factors "
               f"{xs[0]:.3g}-{xs[-1]:.3g} (chi_1 {math.exp(min(t[1] for t in tried)):.4g}-"
               f"{math.exp(max(t[1] for t in tried)):.4g})")
        warnings.warn(f"calibrate_gated: {why}; keeping scale {math.exp(u):.4g}", RuntimeWarning, stacklevel=2)
    sigma_w = math.exp(u) * theory.value if theory is not None and theory.solve_for == "sigma_w" else None
    return Calibration(math.exp(u), sigma_w, math.exp(f), se, math.exp(tried[0][1]), len(tried), float(tolerance),
                       converged, bracketed, float(R))


def _nearest(points):
    """The measurement (log x, log chi_1, se) nearest chi_1 = 1."""
    return min(points, key=lambda t: abs(t[1]))


def _bracket(tried):
    """Of the pairs of measurements adjacent in log x between which log chi_1 changes sign, the one with the
    measurement nearest 1 (None before chi_1 has been measured on both sides of 1).  Noise can make chi_1(x)
    non-monotone; every sign change is a crossing of the measured curve."""
    order = sorted(tried)
    pairs = [(a, b) for a, b in zip(order, order[1:], strict=False) if (a[1] < 0) != (b[1] < 0)]
    return min(pairs, key=lambda ab: abs(_nearest(ab)[1]), default=None)


def _next_scale(tried, bracket, slope, max_du, target):
    """The next log x of :func:`calibrate_gated`'s search (see its docstring)."""
    near = sorted(tried, key=lambda t: abs(t[1]))
    if bracket is not None:  # secant from the bracket's end nearest 1
        near.remove(_nearest(bracket))
        near.insert(0, _nearest(bracket))
    (u0, f0, _) = near[0]
    if len(near) >= 2 and abs(near[1][0] - u0) > 1e-12 and near[1][1] != f0:
        slope = (near[1][1] - f0) / (near[1][0] - u0)
    if bracket is None:  # step towards the other side of 1 (aim past it by the target when already near 1)
        slope = max(slope, 1e-3)
        aim = f0 + math.copysign(target, f0) if abs(f0) <= target else f0
        return u0 - max(-max_du, min(max_du, aim / slope))
    (ua, _, _), (ub, _, _) = bracket
    u = u0 - f0 / slope if slope > 0 else math.inf
    margin = 0.1 * (ub - ua)
    return u if ua + margin <= u <= ub - margin else 0.5 * (ua + ub)


def _layer_view(module: nn.Module, layer: int, sfx: str) -> nn.Module:
    """A one-layer unidirectional module of the same class whose parameters *are* layer ``layer``, direction ``sfx``
    of ``module`` (shared tensors: rescaling the view's weight_hh rescales the module's)."""
    V = getattr(module, f"weight_ih_l{layer}{sfx}")
    view = type(module)(V.shape[1], module.hidden_size, bias=module.bias)
    for name in ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if module.bias else ()):
        setattr(view, f"{name}_l0", getattr(module, f"{name}_l{layer}{sfx}"))
    return view


@torch.no_grad()
def _layer_outputs(views: dict, layer: int, x: torch.Tensor) -> torch.Tensor:
    """Layer ``layer``'s output sequence (T, batch, directions H) for the input sequence x, as torch's stack forms it
    (the reverse direction reads the sequence backwards)."""
    outs = []
    for sfx, view in views[layer].items():
        seq = x.flip(0) if sfx else x
        y = view(seq.to(view.weight_ih_l0.dtype))[0]
        outs.append(y.flip(0) if sfx else y)
    return torch.cat(outs, dim=-1)


def _each_layer(module: nn.Module, R: float, seed: int, burn_in: int, steps: int, batch: int):
    """Yield (layer, view, R_layer, inputs) for every layer and direction in order, ``inputs`` None for layer 0
    (Gaussian inputs of second moment R) and, for layer k > 0, a callable n -> the last n burn-in steps and the
    ``steps`` measured steps of that layer's input sequence: the outputs of layers < k (taken when the consumer
    asks for layer k, i.e. after it has done with the layers below) driven by x ~ N(0, R); R_layer is their second
    moment per unit after half the burn-in."""
    views = {layer: {sfx: _layer_view(module, layer, sfx) for sfx in _directions(module)}
             for layer in range(module.num_layers)}
    gen = torch.Generator().manual_seed(int(seed) + 7919)  # the stack's inputs: a stream apart from the measurements'
    below = math.sqrt(float(R)) * torch.randn((burn_in + steps, batch, module.input_size), generator=gen,
                                              dtype=torch.float64)
    for layer in range(module.num_layers):
        r_layer = float(R)
        if layer > 0:
            below = _layer_outputs(views, layer - 1, below)
            r_layer = float(below[burn_in // 2:].double().pow(2).mean())
        for sfx, view in views[layer].items():
            seq = below.flip(0) if sfx else below
            yield layer, view, r_layer, None if layer == 0 else (lambda n, seq=seq: seq[burn_in - n:])


def _per_layer(items: list, layers: int) -> list:
    """One entry per layer: the item, or a (forward, reverse) pair."""
    per = len(items) // layers
    return [items[k * per] if per == 1 else tuple(items[k * per:(k + 1) * per]) for k in range(layers)]


@torch.no_grad()
def calibrate_layers(module: nn.Module, R: float, *, theories: list[GatedCriticalInit] | None = None,
                     seed: int = 0, **options) -> list:
    """:func:`calibrate_gated` for every layer and direction of a torch ``nn.GRU``/``nn.LSTM``, in turn.

    Layer 0 (each direction) is driven by inputs x ~ N(0, R) as in :func:`calibrate_gated`.  Layer k > 0 is
    calibrated after the layers below it, driven by their actual output sequence (torch's stack: the concatenated
    directions of layer k - 1, from Gaussian inputs of second moment R through the calibrated layers below), whose
    second moment per unit, measured after half the burn-in, is that layer's R; a reverse direction reads its input
    sequence backwards, as torch's forward does.  ``theories``: each layer's ``GatedCriticalInit`` (for the first
    slope).  Returns one entry per layer: a ``Calibration`` (unidirectional) or a (forward, reverse) pair.
    """
    torch_cell(module)
    shape = dict(burn_in=int(options.get("burn_in", 1000)), steps=int(options.get("steps", 40)),
                 batch=int(options.get("batch", 8)))
    cals = [calibrate_gated(view, r, theory=None if theories is None else theories[layer], seed=seed, inputs=feed,
                            **options)
            for layer, view, r, feed in _each_layer(module, R, seed, **shape)]
    return _per_layer(cals, module.num_layers)


@torch.no_grad()
def layer_chi_1(module: nn.Module, R: float, *, seed: int = 0, burn_in: int = 1000, steps: int = 40, batch: int = 8,
                tangents: int = 4) -> list:
    """The measured chi_1 (``rnnmf.sim.gated.module_chi_1``) of every layer and direction of a torch
    ``nn.GRU``/``nn.LSTM``, each driven as :func:`calibrate_layers` drives it (layer 0 by x ~ N(0, R), layer k > 0 by
    the outputs of the layers below); one entry per layer: {chi_1, chi_1_se, R} or a (forward, reverse) pair."""
    from rnnmf.sim.gated import module_chi_1

    torch_cell(module)
    out = []
    for _, view, r, feed in _each_layer(module, R, seed, burn_in, steps, batch):
        res = module_chi_1(view, r, batch=batch, tangents=tangents, burn_in=burn_in, steps=steps, seed=seed,
                           inputs=None if feed is None else feed(burn_in))
        out.append({"chi_1": res["chi_1"], "chi_1_se": res["chi_1_se"], "R": r})
    return _per_layer(out, module.num_layers)


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
