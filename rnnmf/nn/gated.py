"""Initialisers for torch's own ``nn.GRU`` and ``nn.LSTM`` in mean-field form (docs/gated-mean-field.md, sec. 4).

Per layer and direction, gate by gate (torch's row order: GRU r, z, n; LSTM i, f, g, o):

- ``weight_hh``: each gate's H x H block sigma_w_k times a Haar-orthogonal matrix ("orthogonal") or
  N(0, sigma_w_k^2 / H) entries ("gaussian");
- ``weight_ih``: N(0, sigma_v_k^2 / M) with M the layer's input size;
- ``bias_ih`` carries each gate's whole bias, N(mu_k, sigma_b_k^2); ``bias_hh`` is zero except the GRU's b_hn
  (inside r * (W_hn h + b_hn)), N(mu_hn, sigma_b_hn^2).

:func:`init_critical_gated` solves chi_1 = 1 (``rnnmf.theory.critical_gated``) layer by layer: layer 0 sees inputs of
second moment R, layer k > 0 the hidden states of layer k - 1, whose second moment is that layer's Q*.

:func:`init_heuristic` is the common recipe it is compared with (Fig. 3 beyond the paper, job gated_seqmnist):
orthogonal recurrent blocks, Glorot/Xavier-uniform input weights, zero biases except the memory gate's.
"""

from __future__ import annotations

import math

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
                        generator: torch.Generator | None = None, **params) -> list[GatedCriticalInit]:
    """Critical initialisation (chi_1 = 1, eq. 26) of every layer of a torch ``nn.GRU``/``nn.LSTM``.

    ``R`` is the second moment of the module's input per unit; ``solve_for`` is "sigma_w" (a common scale of the
    recurrent weights) or the memory gate's bias ("mu_z" for the GRU, "mu_f" for the LSTM); ``params`` fixes the rest.
    Layer k > 0 is solved for inputs of second moment Q* of layer k - 1.  Returns one ``GatedCriticalInit`` per layer
    (its ``Q_star`` says where that layer's h settles); raises InfeasibleError when chi_1 = 1 cannot be reached.
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
    return out


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
