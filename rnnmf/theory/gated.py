"""Hyper-parameters of torch's gated cells (``nn.GRU``, ``nn.LSTM``), mean-field form (docs/gated-mean-field.md eq. 3).

Every gate k has its own recurrent weight scale sigma_w_k (weight_hh rows ~ N(0, sigma_w_k^2 / N)), input weight scale
sigma_v_k (weight_ih rows ~ N(0, sigma_v_k^2 / M)), bias mean mu_k and bias standard deviation sigma_b_k.  The bias of
a gate is torch's b_ih + b_hh, one number per unit, except the GRU's candidate n, whose b_hn sits inside
r * (W_hn h + b_hn): there mu_n, sigma_b_n describe b_in and mu_hn, sigma_b_hn describe b_hn.

    GRU gates  r (reset), z (update), n (candidate)        torch row order of weight_ih/weight_hh: r, z, n
    LSTM gates i (input), f (forget), g (cell), o (output)  torch row order: i, f, g, o

``sigma_w``, ``sigma_v`` and ``sigma_b`` set every gate at once; a per-gate name (``sigma_w_z``, ``sigma_b_hn``, ...)
overrides its gate.  Bias means default to 0.  The input enters through its second moment R = |x|^2 / M and, for a pair
of inputs, their cosine Sigma12 (eq. 4).
"""

from __future__ import annotations

import math

import numpy as np

from rnnmf.errors import RnnmfError
from rnnmf.theory import _validate as V

CELLS = ("gru", "lstm")
GATES = {"gru": ("r", "z", "n"), "lstm": ("i", "f", "g", "o")}
#: the gate whose bias sets the memory: the GRU's update gate z (h' = (1 - z) n + z h), the LSTM's forget gate f
MEMORY_GATE = {"gru": "z", "lstm": "f"}


def bias_names(cell: str) -> tuple[str, ...]:
    """Names of the bias terms: one per gate, plus the GRU's b_hn ("hn")."""
    return GATES[cell] + (("hn",) if cell == "gru" else ())


def param_names(cell: str) -> tuple[str, ...]:
    """Every per-gate hyper-parameter name of ``cell`` (what :func:`resolve` returns besides R and sigma12)."""
    gates, biases = GATES[cell], bias_names(cell)
    return (tuple(f"sigma_w_{g}" for g in gates) + tuple(f"sigma_v_{g}" for g in gates)
            + tuple(f"sigma_b_{b}" for b in biases) + tuple(f"mu_{b}" for b in biases))


def check_cell(cell: str) -> str:
    if cell not in CELLS:
        raise RnnmfError(f"unknown gated cell {cell!r}; valid: {', '.join(CELLS)}")
    return cell


def resolve(cell: str, *, R, sigma_w=None, sigma_v=None, sigma_b=0.0, sigma12=None, **per_gate):
    """Check and broadcast the hyper-parameters of ``cell``: (dict of flat float arrays, shape, all_scalar).

    The dict has R, every name of :func:`param_names` and, when given, sigma12.  A per-gate value given as None falls
    back to the shared one; a recurrent or input scale left unset everywhere is an error that names it.
    """
    check_cell(cell)
    valid = set(param_names(cell))
    unknown = sorted(set(per_gate) - valid)
    if unknown:
        raise RnnmfError(f"unknown {cell} hyper-parameter(s) {', '.join(unknown)}; valid: sigma_w, sigma_v, sigma_b, "
                         f"R, sigma12, {', '.join(param_names(cell))}")
    shared = {"sigma_w": sigma_w, "sigma_v": sigma_v, "sigma_b": sigma_b}
    values = {"R": R}
    for name in param_names(cell):
        value = per_gate.get(name)
        if value is None:
            value = 0.0 if name.startswith("mu_") else shared[name[: len("sigma_w")]]
        if value is None:
            short = name[: len("sigma_w")]
            raise RnnmfError(f"{cell}: {name} is not set; give {short} (every gate) or {name}")
        values[name] = value
    if sigma12 is not None:
        values["sigma12"] = sigma12
    return V.broadcast(**values)


def gate_var(p: dict, gate: str, Q):
    """Variance of gate k's pre-activation, sigma_w_k^2 Q + sigma_v_k^2 R + sigma_b_k^2 (eq. 4, diagonal).

    For the GRU's candidate "n" this is the input part only (A = W_in x + b_in); its recurrent part B is separate.
    """
    if gate == "n":
        return p["sigma_v_n"] ** 2 * p["R"] + p["sigma_b_n"] ** 2
    return p[f"sigma_w_{gate}"] ** 2 * Q + p[f"sigma_v_{gate}"] ** 2 * p["R"] + p[f"sigma_b_{gate}"] ** 2


def gate_cov(p: dict, gate: str, Q12, sigma12):
    """Covariance of gate k's pre-activations under two inputs (eq. 4, off-diagonal; the bias is shared)."""
    if gate == "n":
        return p["sigma_v_n"] ** 2 * p["R"] * sigma12 + p["sigma_b_n"] ** 2
    return p[f"sigma_w_{gate}"] ** 2 * Q12 + p[f"sigma_v_{gate}"] ** 2 * p["R"] * sigma12 + p[f"sigma_b_{gate}"] ** 2


def torch_default(cell: str, input_size: int, hidden_size: int) -> dict:
    """The statistics of torch's default initialisation, every parameter ~ U(-1/sqrt(H), 1/sqrt(H)) (variance 1/(3H)).

    sigma_w = 1/sqrt(3) for every gate, sigma_v = sqrt(M / (3H)), bias means 0 and bias standard deviations
    sqrt(2/(3H)) (b_ih + b_hh) or, for the GRU's b_in and b_hn, sqrt(1/(3H)).  Feed the result to ``summary``.
    """
    check_cell(cell)
    H, M = int(hidden_size), int(input_size)
    one = 1.0 / (3.0 * H)
    out = {}
    for g in GATES[cell]:
        out[f"sigma_w_{g}"] = math.sqrt(H * one)
        out[f"sigma_v_{g}"] = math.sqrt(M * one)
        out[f"sigma_b_{g}"] = math.sqrt((1.0 if (cell, g) == ("gru", "n") else 2.0) * one)
        out[f"mu_{g}"] = 0.0
    if cell == "gru":
        out["sigma_b_hn"], out["mu_hn"] = math.sqrt(one), 0.0
    return out


def as_float_dict(p: dict, i: int = 0) -> dict:
    """The i-th point of a resolved (flat) parameter dict as plain floats (for the samplers and initialisers)."""
    return {k: float(np.atleast_1d(v)[i]) for k, v in p.items()}
