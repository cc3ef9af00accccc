"""Monte Carlo of random GRUs and LSTMs with torch's gate equations (docs/gated-mean-field.md, sec. 5).

Two input sequences enter one network (as in :mod:`rnnmf.sim.montecarlo`); inputs are Gaussian with second moment R
and per-step cosine Sigma12^t, fresh at every step.  Measured per step and network: c, the cosine of the hidden
states h_a, h_b (raw, not centred: the quantity the gated theory tracks, Q12 / Q); q, the mean of h^2; and C, the
cosine of the LSTM's cell states (the GRU's c again).

* Untied weights, exact in distribution at O(N) per step: given the two states, each gate's pre-activation pair
  (W_k h_a + V_k x_a + b_k, W_k h_b + V_k x_b + b_k) is Gaussian with covariance (sigma_w_k^2 Gram(h) +
  sigma_v_k^2 Gram(x)) / N + sigma_b_k^2, row by row (``montecarlo.untied_preactivations``), and different gates use
  different rows of torch's weight matrices, so they are independent.  The GRU's candidate draws W_in x + b_in and
  W_hn h + b_hn separately, since the reset gate multiplies only the second.
* Tied weights: one set of real matrices per network, batched with bmm, each network from its own generator.
* Start at the fixed point.  GRU: h^0 Gaussian with mean m* and second moment Q* (the theory's state moments; nothing
  else of the law enters the diagonal maps).  LSTM: c^0 drawn from the stationary law of c
  (``rnnmf.theory.lstm.stationary_sample``) and h^0 = o tanh(c^0) with a fresh output gate.  ``start="same"`` gives
  both inputs the same state; ``"independent"`` independent draws from the same law.

:func:`jacobian_norms` measures the Frobenius norm of exact end-to-end Jacobians (mean eigenvalue of J J^T) and
:func:`module_growth` the growth of back-propagated gradients in torch's own ``nn.GRU``/``nn.LSTM``, through autograd.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from rnnmf.draws import gaussian, per_network
from rnnmf.errors import RnnmfError
from rnnmf.sim._checks import check_run
from rnnmf.sim.montecarlo import (
    CHUNK_BYTES,
    DTYPES,
    SimResult,
    _cosine_of,
    correlated_pair,
    derive_seed,
    gram,
    untied_preactivations,
)
from rnnmf.theory.gated import GATES, check_cell

STARTS = ("same", "independent")


# ------------------------------------------------------------------------------------------------- start states
def fixed_point(cell: str, p: dict) -> dict:
    """The theory's fixed point that the networks start from: GRU {Q, m}; LSTM {Q} (p: floats incl. R)."""
    from rnnmf.theory import gru, lstm

    if cell == "gru":
        Q, m = gru.fixed_point(**p)
        return {"Q": float(Q), "m": float(m)}
    return {"Q": float(lstm.fixed_point(**p).Q_star)}


def _start(cell: str, p: dict, fp: dict, shape, start: str, gen: torch.Generator, dtype, device):
    """(H, C) of shape (*shape[:-1], 2, N) at the fixed point; C is None for the GRU."""
    cos = 1.0 if start == "same" else 0.0
    if cell == "gru":
        var = max(fp["Q"] - fp["m"] ** 2, 0.0)
        return correlated_pair(shape, var, cos, gen, dtype=dtype, device=device).add_(fp["m"]), None
    from rnnmf.theory import gated, lstm

    *lead, n = shape
    count = int(np.prod(lead)) * n
    u = torch.rand((2, count), generator=gen, dtype=torch.float64).numpy()
    params = {k: v for k, v in p.items() if k != "sigma12"}
    ca = lstm.stationary_sample(u[0], **params)
    cb = ca if start == "same" else lstm.stationary_sample(u[1], **params)
    C = torch.stack([torch.from_numpy(ca).reshape(*lead, n), torch.from_numpy(cb).reshape(*lead, n)], dim=-2)
    C = C.to(dtype=dtype, device=device)
    q_o = gated.gate_var(p, "o", fp["Q"])
    z = torch.randn((*lead, 2, n), generator=gen, dtype=dtype, device=device)
    if start == "same":
        z[..., 1, :] = z[..., 0, :]
    return torch.sigmoid(p["mu_o"] + math.sqrt(q_o) * z) * torch.tanh(C), C


# ------------------------------------------------------------------------------------------------- one step
def gru_update(r_pre, z_pre, A, B, H):
    """torch's GRU given its pre-activations: n = tanh(A + r B), h' = (1 - z) n + z h (A = W_in x + b_in,
    B = W_hn h + b_hn)."""
    r, z = torch.sigmoid(r_pre), torch.sigmoid(z_pre)
    n = torch.tanh(A + r * B)
    return n + z * (H - n)


def lstm_update(i_pre, f_pre, g_pre, o_pre, C):
    """torch's LSTM given its pre-activations: c' = f c + i g, h' = o tanh(c'); returns (h', c')."""
    C = torch.sigmoid(f_pre) * C + torch.sigmoid(i_pre) * torch.tanh(g_pre)
    return torch.sigmoid(o_pre) * torch.tanh(C), C


def _untied_step(cell, p, H, C, X, gen):
    G_h = gram(H)

    def pre(gate, sigma_w=None, sigma_v=None, sigma_b=None, mu=None):
        return untied_preactivations(
            H, X, sigma_w=p[f"sigma_w_{gate}"] if sigma_w is None else sigma_w,
            sigma_v=p[f"sigma_v_{gate}"] if sigma_v is None else sigma_v,
            sigma_b=p[f"sigma_b_{gate}"] if sigma_b is None else sigma_b, mu_b=p[f"mu_{gate}"] if mu is None else mu,
            generator=gen, G_h=G_h)

    if cell == "gru":
        A = pre("n", sigma_w=0.0)
        B = pre("n", sigma_v=0.0, sigma_b=p["sigma_b_hn"], mu=p["mu_hn"])
        return gru_update(pre("r"), pre("z"), A, B, H), None
    return lstm_update(pre("i"), pre("f"), pre("g"), pre("o"), C)


class _TiedNets:
    """Real weights for ``count`` networks: W_hh (count, G N, N), W_ih (count, G N, N), biases (count, 1, G N)."""

    def __init__(self, cell, p, n, first, count, seed, dtype, device):
        gates = GATES[cell]
        G = len(gates)
        self.cell, self.n = cell, n
        self.W = torch.empty((count, G * n, n), dtype=dtype, device=device)
        self.V = torch.empty((count, G * n, n), dtype=dtype, device=device)
        self.b = torch.empty((count, 1, G * n), dtype=dtype, device=device)
        self.b_hn = torch.zeros((count, 1, n), dtype=dtype, device=device)
        self.gens = []
        like = {"dtype": dtype, "device": device}
        for j in range(count):
            gen = torch.Generator(device=device).manual_seed(derive_seed(seed, "tied-gated", first + j))
            for k, g in enumerate(gates):
                rows = slice(k * n, (k + 1) * n)
                self.W[j, rows] = gaussian((n, n), p[f"sigma_w_{g}"] / math.sqrt(n), generator=gen, **like)
                self.V[j, rows] = gaussian((n, n), p[f"sigma_v_{g}"] / math.sqrt(n), generator=gen, **like)
                # z·σ_b + μ from unit normals, as the untied step draws them (in float32 a draw of N(μ, σ_b²)
                # directly rounds once where this rounds twice)
                self.b[j, 0, rows] = gaussian(n, generator=gen, **like).mul_(p[f"sigma_b_{g}"]).add_(p[f"mu_{g}"])
            if cell == "gru":
                self.b_hn[j] = gaussian((1, n), generator=gen, **like).mul_(p["sigma_b_hn"]).add_(p["mu_hn"])
            self.gens.append(gen)

    def step(self, H, C, X):
        n = self.n
        rec = torch.bmm(H, self.W.mT)  # (count, 2, G N)
        inp = torch.baddbmm(self.b, X, self.V.mT)
        part = lambda T, k: T[..., k * n:(k + 1) * n]  # noqa: E731
        if self.cell == "gru":
            return gru_update(part(rec, 0) + part(inp, 0), part(rec, 1) + part(inp, 1), part(inp, 2),
                              part(rec, 2) + self.b_hn, H), None
        pre = [part(rec, k) + part(inp, k) for k in range(4)]
        return lstm_update(*pre, C)


# ------------------------------------------------------------------------------------------------- simulate
def _check(cell, sigma12, hidden, networks, dtype, start, chunk):
    check_cell(cell)
    check_run(sigma12, hidden, networks, dtype, chunk, DTYPES)
    if start not in STARTS:
        raise RnnmfError(f"start={start!r} is invalid; valid: {', '.join(STARTS)}")


def _measure(H, C):
    Gh = gram(H)
    return _cosine_of(Gh), 0.5 * (Gh[..., 0, 0] + Gh[..., 1, 1]) / H.shape[-1], _cosine_of(gram(C if C is not None
                                                                                             else H))


def simulate_gated(cell: str, p: dict, *, sigma12: Sequence[float], hidden: int, networks: int, tied: bool = False,
                   start: str = "same", seed: int = 0, dtype: str = "float32", device: str | torch.device = "cpu",
                   chunk: int | None = None) -> SimResult:
    """Run ``networks`` random ``cell`` networks of width ``hidden`` for T = len(sigma12) steps from the fixed point.

    ``p``: the hyper-parameters as floats, every per-gate name plus R (``rnnmf.theory.gated.resolve``).  Untied
    networks share one generator; tied ones draw everything from their own (``chunk`` networks per batch, default:
    as many as fit 1 GiB of weights), so results do not depend on the chunk size.  Returns a ``SimResult`` whose c is
    the hidden-state cosine, q = mean h^2 and C the LSTM's cell-state cosine.
    """
    sigma12 = [float(s) for s in sigma12]
    _check(cell, sigma12, hidden, networks, dtype, start, chunk)
    device = torch.device(device)
    tdtype = DTYPES[dtype]
    fp = fixed_point(cell, {k: v for k, v in p.items() if k != "sigma12"})
    with torch.no_grad():
        if not tied:
            gen = torch.Generator(device=device).manual_seed(int(seed))
            parts = [_run(cell, p, fp, sigma12, hidden, networks, start, gen, tdtype, device, None)]
        else:
            G = len(GATES[cell])
            if chunk is None:
                chunk = max(1, CHUNK_BYTES // (2 * G * hidden * hidden * torch.finfo(tdtype).bits // 8))
            parts = []
            for first in range(0, networks, chunk):
                count = min(chunk, networks - first)
                nets = _TiedNets(cell, p, hidden, first, count, seed, tdtype, device)
                parts.append(_run(cell, p, fp, sigma12, hidden, count, start, None, tdtype, device, nets))
    c, q, C = (np.concatenate([part[i] for part in parts], axis=1) for i in range(3))
    return SimResult(c=c, q=q, C=C)


def _run(cell, p, fp, sigma12, n, count, start, gen, dtype, device, nets):
    """Untied (``nets`` None): one generator for the batch. Tied: every network draws its start and inputs from its
    own generator (``nets.gens``), so a network's numbers do not depend on the chunk it is in."""
    if nets is None:
        H, C = _start(cell, p, fp, (count, n), start, gen, dtype, device)
    else:
        starts = [_start(cell, p, fp, (n,), start, g, dtype, device) for g in nets.gens]
        H = torch.stack([h for h, _ in starts])
        C = None if cell == "gru" else torch.stack([c for _, c in starts])
    out = ([], [], [])
    for s12 in sigma12:
        if nets is None:
            X = correlated_pair((count, n), p["R"], s12, gen, dtype=dtype, device=device)
            H, C = _untied_step(cell, p, H, C, X, gen)
        else:
            X = torch.stack([correlated_pair((n,), p["R"], s12, g, dtype=dtype, device=device) for g in nets.gens])
            H, C = nets.step(H, C, X)
        for lst, v in zip(out, _measure(H, C), strict=True):
            lst.append(v)
    return tuple(torch.stack(v).double().cpu().numpy() for v in out)


# ------------------------------------------------------------------------------------------------- Jacobians
def _draw_step_weights(cell, p, n, gens, dtype, device, x_norm2):
    """One untied step for every network: recurrent matrices W (count, N, N) per recurrent term, input contributions
    V x (count, N) per gate (V x ~ N(0, sigma_v^2 |x|^2 / N) exactly for a fresh V) and biases.

    GRU: the recurrent terms are r, z and "hn" (W_hn h + b_hn); its candidate's input part W_in x + b_in ("n") has no
    recurrent term.  LSTM: every gate i, f, g, o has both.
    """
    rec = ["r", "z", "hn"] if cell == "gru" else list(GATES[cell])
    inp = ["r", "z", "n"] if cell == "gru" else list(GATES[cell])
    biases = inp + (["hn"] if cell == "gru" else [])

    def normal(*shape):
        return per_network(gens, shape, dtype=dtype, device=device)

    W = {g: normal(n, n).mul_(p[f"sigma_w_{'n' if g == 'hn' else g}"] / math.sqrt(n)) for g in rec}
    vx = {g: normal(n).mul_((p[f"sigma_v_{g}"] * torch.sqrt(x_norm2 / n)).unsqueeze(-1)) for g in inp}
    b = {g: normal(n).mul_(p[f"sigma_b_{g}"]).add_(p[f"mu_{g}"]) for g in biases}
    return W, vx, b


def jacobian_norms(cell: str, p: dict, *, hidden: int, networks: int, steps: int, seed: int = 0,
                   tied: bool = False, dtype=torch.float64, device: str | torch.device = "cpu") -> np.ndarray:
    """||J_t||_F^2 / dim for the exact end-to-end Jacobian J_t of the state over t = 1..steps: shape (steps, networks).

    The state is h (GRU, dim N) or (c, h) (LSTM, dim 2N); its mean over networks is the mean eigenvalue of J J^T that
    the theory predicts (GRU: chi_1^t, eq. 14; LSTM: ``rnnmf.theory.lstm.jacobian_mean``, eq. 24).  Networks start at
    the fixed point (see the module docstring) and are driven by fresh inputs of second moment R.  Untied: fresh W, V,
    b every step (W as full matrices, V x drawn directly); tied: one draw per network.
    """
    check_cell(cell)
    n = int(hidden)
    device = torch.device(device)
    gens = [torch.Generator(device=device).manual_seed(derive_seed(seed, "gated-jacobian", k)) for k in range(networks)]
    fp = fixed_point(cell, {k: v for k, v in p.items() if k != "sigma12"})
    H, C = _start(cell, p, fp, (networks, n), "same", gens[0], dtype, device)
    h, c = H[:, 0, :], (None if C is None else C[:, 0, :])
    dim = n if cell == "gru" else 2 * n
    J = torch.eye(dim, dtype=dtype, device=device).expand(networks, dim, dim).clone()
    out = np.empty((steps, networks))
    weights = None
    with torch.no_grad():
        for t in range(steps):
            x2 = torch.stack([torch.randn(n, generator=g, dtype=dtype, device=device).pow_(2).sum() for g in gens])
            x2 = x2 * p["R"]
            if weights is None or not tied:
                weights = _draw_step_weights(cell, p, n, gens, dtype, device, x2)
            W, vx, b = weights
            pre = {g: b[g] + (vx[g] if g in vx else 0.0) for g in b}
            for g in W:
                pre[g] = pre[g] + torch.bmm(W[g], h.unsqueeze(-1)).squeeze(-1)
            if cell == "gru":
                h, J = _gru_jacobian_step(pre, W, h, J)
            else:
                h, c, J = _lstm_jacobian_step(pre, W, c, J, n)
            out[t] = (J.pow(2).sum(dim=(-2, -1)) / dim).cpu().numpy()
    return out


def _gru_jacobian_step(pre, W, h, J):
    """J <- (D_z + D_bz W_z + D_bn W_n + D_br W_r) J (eq. 13)."""
    r, z = torch.sigmoid(pre["r"]), torch.sigmoid(pre["z"])
    B = pre["hn"]  # W_hn h + b_hn (its "input part" is zero)
    n_ = torch.tanh(pre["n"] + r * B)
    tp = 1.0 - n_ * n_
    bz = (h - n_) * z * (1 - z)
    bn = (1 - z) * tp * r
    br = (1 - z) * tp * B * r * (1 - r)
    Jn = z.unsqueeze(-1) * J
    Jn += bz.unsqueeze(-1) * torch.bmm(W["z"], J)
    Jn += bn.unsqueeze(-1) * torch.bmm(W["hn"], J)
    Jn += br.unsqueeze(-1) * torch.bmm(W["r"], J)
    return n_ + z * (h - n_), Jn


def _lstm_jacobian_step(pre, W, c, J, n):
    """Rows of J for (c', h') from those of (c, h) (eq. 21)."""
    i, f, o = (torch.sigmoid(pre[k]) for k in "ifo")
    g = torch.tanh(pre["g"])
    Jc, Jh = J[:, :n, :], J[:, n:, :]
    c_new = f * c + i * g
    t = torch.tanh(c_new)
    Mc = (c * f * (1 - f)).unsqueeze(-1) * torch.bmm(W["f"], Jh)
    Mc += (g * i * (1 - i)).unsqueeze(-1) * torch.bmm(W["i"], Jh)
    Mc += (i * (1 - g * g)).unsqueeze(-1) * torch.bmm(W["g"], Jh)
    Jc_new = f.unsqueeze(-1) * Jc + Mc
    Jh_new = (o * (1 - t * t)).unsqueeze(-1) * Jc_new + (t * o * (1 - o)).unsqueeze(-1) * torch.bmm(W["o"], Jh)
    return o * t, c_new, torch.cat([Jc_new, Jh_new], dim=1)


# ------------------------------------------------------------------------------------------------- torch modules
def module_growth(module: torch.nn.Module, R: float, *, batch: int = 8, burn_in: int = 100, steps: int = 30,
                  seed: int = 0) -> dict:
    """Measure how a torch ``nn.GRU``/``nn.LSTM`` (unidirectional) propagates gradients at stationarity.

    The module is driven from a zero state by inputs x ~ N(0, R) for ``burn_in`` steps, then ``steps`` more one step at
    a time through its own forward.  A random cotangent g at the last step is back-propagated (autograd) and
    E|dL/ds^t|^2 recorded at every state s^t = h^t (GRU) or (c^t, h^t) (LSTM), all layers; with L = <g, s^T> it is
    the mean squared singular value of the product of Jacobians from t to T (Hutchinson, isotropic g).  Returns
    ``growth`` = the per-step ratio, geometric mean over the last ``steps`` // 2 steps back (the stationary regime),
    ``per_step`` (every ratio).  The one-step mean squared singular value is :func:`module_one_step`.
    """
    is_lstm = isinstance(module, torch.nn.LSTM)
    if not isinstance(module, (torch.nn.GRU, torch.nn.LSTM)) or module.bidirectional:
        raise RnnmfError(f"module_growth got a {type(module).__name__}; valid: a unidirectional torch.nn.GRU or "
                         "torch.nn.LSTM")
    gen = torch.Generator().manual_seed(int(seed))
    w = module.weight_ih_l0
    H, M = module.hidden_size, module.input_size
    dtype = w.dtype

    def x_at():
        return (math.sqrt(R) * torch.randn((1, batch, M), generator=gen, dtype=dtype))

    L = module.num_layers
    h = torch.zeros((L, batch, H), dtype=dtype)
    c = torch.zeros((L, batch, H), dtype=dtype)
    with torch.no_grad():
        for _ in range(burn_in):
            out = module(x_at(), (h, c) if is_lstm else h)
            h, c = (out[1][0], out[1][1]) if is_lstm else (out[1], c)
    states = []
    h = h.clone().requires_grad_(True)
    c = c.clone().requires_grad_(True)
    states.append((h, c))
    for _ in range(steps):
        out = module(x_at(), (h, c) if is_lstm else h)
        h, c = (out[1][0], out[1][1]) if is_lstm else (out[1], c)
        h.retain_grad()
        c.retain_grad() if is_lstm else None
        states.append((h, c))
    g_h = torch.randn(h.shape, generator=gen, dtype=dtype)
    loss = (g_h * h).sum()
    if is_lstm:
        loss = loss + (torch.randn(c.shape, generator=gen, dtype=dtype) * c).sum()
    loss.backward()
    norms = []
    for hs, cs in states:
        v = float(hs.grad.pow(2).sum())
        if is_lstm:
            v += float(cs.grad.pow(2).sum())
        norms.append(v)
    norms = np.array(norms[::-1])  # norms[k]: k steps back from T
    ratios = norms[1:] / norms[:-1]
    window = ratios[len(ratios) // 2:]
    res = {"growth": float(np.exp(np.mean(np.log(window)))), "per_step": ratios}
    return res


# ------------------------------------------------------------------------------------------------- one step
def gru_step_msv(W: dict, h, pre: dict) -> torch.Tensor:
    """||dh'/dh||_F^2 / N per sample, exactly (eq. 13), for recurrent matrices W["r"], W["z"], W["hn"] ((N, N) or
    (batch, N, N)) and the step's pre-activations (torch's convention: pre["n"] = W_in x + b_in, pre["hn"] =
    W_hn h + b_hn inside r * (.)).  Rows of J are formed one sample at a time (O(N^2) memory)."""
    r, z = torch.sigmoid(pre["r"]), torch.sigmoid(pre["z"])
    B = pre["hn"]
    n_ = torch.tanh(pre["n"] + r * B)
    tp = 1.0 - n_ * n_
    coef = {"z": (h - n_) * z * (1 - z), "hn": (1 - z) * tp * r, "r": (1 - z) * tp * B * r * (1 - r)}
    out = torch.empty(h.shape[0], dtype=h.dtype)
    for k in range(h.shape[0]):
        J = torch.diag(z[k])
        for g, cf in coef.items():
            J = J + cf[k].unsqueeze(-1) * (W[g] if W[g].dim() == 2 else W[g][k])
        out[k] = J.pow(2).sum() / h.shape[1]
    return out


def lstm_step_msv(W: dict, c, pre: dict, metric=None) -> torch.Tensor:
    """The one-step mean squared singular value of d(c', h')/d(c, h) per sample, exactly (eq. 21), in the metric of
    ``metric`` (``rnnmf.theory.lstm.one_step_metric``: weights w(c) on dc, w_h on dh, before and after the step,
    eq. 27) or, with None, the plain (1/2N) ||J||_F^2.  W: recurrent matrices per gate i, f, g, o."""
    i, f, o = (torch.sigmoid(pre[k]) for k in "ifo")
    g = torch.tanh(pre["g"])
    c_new = f * c + i * g
    t = torch.tanh(c_new)
    dc_dh = {"f": c * f * (1 - f), "i": g * i * (1 - i), "g": i * (1 - g * g)}
    a, b = o * (1 - t * t), t * o * (1 - o)  # dh'/dc' and the output gate's factor
    if metric is None:
        w_c, w_new, w_h = torch.ones_like(c), torch.ones_like(c), 1.0
    else:
        w_c = torch.as_tensor(metric.w(c.double().numpy()), dtype=c.dtype)
        w_new = torch.as_tensor(metric.w(c_new.double().numpy()), dtype=c.dtype)
        w_h = float(metric.w_h)
    n = c.shape[1]
    out = torch.empty(c.shape[0], dtype=c.dtype)
    for k in range(c.shape[0]):
        mat = {key: (W[key] if W[key].dim() == 2 else W[key][k]) for key in "ifgo"}
        Jcc = f[k]  # diagonal
        Jch = sum(dc_dh[key][k].unsqueeze(-1) * mat[key] for key in "fig")
        Jhc = a[k] * f[k]  # diagonal
        Jhh = a[k].unsqueeze(-1) * Jch + b[k].unsqueeze(-1) * mat["o"]
        # sum_ab J_ab^2 W'_a / W_b over the four blocks (rows: c', h'; columns: c, h)
        total = (w_new[k] * Jcc * Jcc / w_c[k]).sum() + (w_new[k].unsqueeze(-1) * Jch * Jch).sum() / w_h
        total = total + (w_h * Jhc * Jhc / w_c[k]).sum() + (Jhh * Jhh).sum()
        out[k] = total / (2 * n)
    return out


def module_one_step(module: torch.nn.Module, R: float, *, batch: int = 8, burn_in: int = 1000, seed: int = 0,
                    metric=None) -> dict:
    """The exact one-step mean squared singular value of a one-layer torch ``nn.GRU``/``nn.LSTM`` at stationarity.

    The module is driven from a zero state by inputs x ~ N(0, R) per unit for ``burn_in`` steps (its own forward, its
    own dtype), then the Jacobian of one more step is formed from its weights in float64: GRU ||dh'/dh||_F^2 / N
    (eq. 14's chi_1); LSTM the (c, h) Jacobian in ``metric`` (eq. 27; None: the plain (1/2N) ||J||_F^2).  Returns
    {one_step (mean over the batch), one_step_se, one_step_plain, one_step_plain_se (the plain value; the same as
    one_step for the GRU), Q (mean h^2 at the end)}.  A slow memory needs a long burn-in: at
    a critical update-gate bias of 5 torch's GRU still drifts after 150 steps (docs/gated-mean-field.md, sec. 6).
    """
    is_lstm = isinstance(module, torch.nn.LSTM)
    if not isinstance(module, (torch.nn.GRU, torch.nn.LSTM)) or module.bidirectional or module.num_layers != 1:
        raise RnnmfError(f"module_one_step got a {type(module).__name__}; valid: a one-layer unidirectional "
                         "torch.nn.GRU or torch.nn.LSTM")
    gen = torch.Generator().manual_seed(int(seed))
    H, M = module.hidden_size, module.input_size
    dtype = module.weight_ih_l0.dtype
    h = torch.zeros((1, batch, H), dtype=dtype)
    c = torch.zeros((1, batch, H), dtype=dtype)
    with torch.no_grad():
        for _ in range(int(burn_in)):
            x = math.sqrt(R) * torch.randn((1, batch, M), generator=gen, dtype=dtype)
            if is_lstm:
                _, (h, c) = module(x, (h, c))
            else:
                _, h = module(x, h)
        x = math.sqrt(R) * torch.randn((batch, M), generator=gen, dtype=torch.float64)
        d = torch.float64
        W_hh, W_ih = module.weight_hh_l0.detach().to(d), module.weight_ih_l0.detach().to(d)
        b_ih = module.bias_ih_l0.detach().to(d) if module.bias else torch.zeros(W_ih.shape[0], dtype=d)
        b_hh = module.bias_hh_l0.detach().to(d) if module.bias else torch.zeros(W_hh.shape[0], dtype=d)
        h0, c0 = h[0].to(d), c[0].to(d)
        gi, gh = x @ W_ih.T + b_ih, h0 @ W_hh.T + b_hh
        rows = lambda T, k: T[:, k * H:(k + 1) * H]  # noqa: E731
        blk = lambda k: W_hh[k * H:(k + 1) * H]  # noqa: E731
        if is_lstm:
            pre = {g: rows(gi, k) + rows(gh, k) for k, g in enumerate("ifgo")}
            mats = {g: blk(k) for k, g in enumerate("ifgo")}
            v = lstm_step_msv(mats, c0, pre, metric)
            plain = lstm_step_msv(mats, c0, pre) if metric is not None else v
        else:
            pre = {"r": rows(gi, 0) + rows(gh, 0), "z": rows(gi, 1) + rows(gh, 1), "n": rows(gi, 2),
                   "hn": rows(gh, 2)}
            v = plain = gru_step_msv({"r": blk(0), "z": blk(1), "hn": blk(2)}, h0, pre)
    return _one_step_result(v, plain, h0)


def _one_step_result(v, plain, h) -> dict:
    def se(x):
        return float(x.std() / math.sqrt(x.numel())) if x.numel() > 1 else 0.0

    return {"one_step": float(v.mean()), "one_step_se": se(v), "one_step_plain": float(plain.mean()),
            "one_step_plain_se": se(plain), "Q": float(h.pow(2).mean())}


def untied_one_step(cell: str, p: dict, *, hidden: int, batch: int = 8, steps: int = 300, seed: int = 0,
                    metric=None) -> dict:
    """The exact one-step mean squared singular value of untied networks (the theory's setting) at width ``hidden``:
    ``batch`` networks run ``steps`` untied steps from the fixed point (O(N) sampler), then one step with full
    Gaussian recurrent matrices whose Jacobian is formed exactly (GRU eq. 14, LSTM eq. 27 with ``metric``).  Inputs
    enter through their contributions V x + b ~ N(mu, sigma_v^2 R + sigma_b^2) per unit.  Returns what
    :func:`module_one_step` returns for torch's tied module."""
    check_cell(cell)
    d = torch.float64
    gen = torch.Generator().manual_seed(derive_seed(seed, "untied-one-step"))
    fp = fixed_point(cell, {k: v for k, v in p.items() if k != "sigma12"})
    H, C = _start(cell, p, fp, (batch, hidden), "same", gen, d, "cpu")
    with torch.no_grad():
        for _ in range(int(steps)):
            H, C = _untied_step(cell, p, H, C, correlated_pair((batch, hidden), p["R"], 1.0, gen, dtype=d), gen)
        h = H[:, 0]

        def normal(*shape):
            return torch.randn(shape, generator=gen, dtype=d)

        def field(gate, sigma_v, sigma_b, mu):
            return mu + math.sqrt(sigma_v ** 2 * p["R"] + sigma_b ** 2) * normal(batch, hidden)

        rec = ["r", "z", "hn"] if cell == "gru" else list(GATES[cell])
        W = {g: normal(batch, hidden, hidden).mul_(p[f"sigma_w_{'n' if g == 'hn' else g}"] / math.sqrt(hidden))
             for g in rec}
        pre = {g: torch.bmm(W[g], h.unsqueeze(-1)).squeeze(-1) for g in rec}
        for g in rec:
            if g == "hn":
                pre[g] += field(g, 0.0, p["sigma_b_hn"], p["mu_hn"])
            else:
                pre[g] += field(g, p[f"sigma_v_{g}"], p[f"sigma_b_{g}"], p[f"mu_{g}"])
        if cell == "gru":
            pre["n"] = field("n", p["sigma_v_n"], p["sigma_b_n"], p["mu_n"])
            v = plain = gru_step_msv(W, h, pre)
        else:
            v = lstm_step_msv(W, C[:, 0], pre, metric)
            plain = lstm_step_msv(W, C[:, 0], pre) if metric is not None else v
    return _one_step_result(v, plain, h)


# ------------------------------------------------------------------------------------------------- chi_1 of a module
def _tangent_step(cell: str, W: torch.Tensor, gi: torch.Tensor, state: tuple, tan: tuple, b_hh: torch.Tensor):
    """One step of the state and its tangents (eq. 13, 21) from torch's weights: ``W`` = weight_hh (G H, H), ``gi`` =
    W_ih x + b_ih (rows: chains), ``state`` = (h,) or (h, c) of shape (chains, H), ``tan`` the same with a tangent
    axis (chains, K, H).  Returns (state', tan')."""
    H = W.shape[1]
    part = lambda T, k: T[..., k * H:(k + 1) * H]  # noqa: E731
    h = state[0]
    gh = h @ W.T + b_hh
    dgh = tan[0] @ W.T  # W dh for every gate, (chains, K, G H)
    if cell == "gru":
        r, z = torch.sigmoid(part(gi, 0) + part(gh, 0)), torch.sigmoid(part(gi, 1) + part(gh, 1))
        B = part(gh, 2)
        n_ = torch.tanh(part(gi, 2) + r * B)
        tp = 1.0 - n_ * n_
        cz, cn, cr = (h - n_) * z * (1 - z), (1 - z) * tp * r, (1 - z) * tp * B * r * (1 - r)
        dh = (z[:, None] * tan[0] + cz[:, None] * part(dgh, 1) + cn[:, None] * part(dgh, 2)
              + cr[:, None] * part(dgh, 0))
        return (n_ + z * (h - n_),), (dh,)
    c = state[1]
    i, f, g, o = (act(part(gi, k) + part(gh, k)) for k, act in
                  enumerate((torch.sigmoid, torch.sigmoid, torch.tanh, torch.sigmoid)))
    c_new = f * c + i * g
    t = torch.tanh(c_new)
    dc = (f[:, None] * tan[1] + (c * f * (1 - f))[:, None] * part(dgh, 1) + (g * i * (1 - i))[:, None] * part(dgh, 0)
          + (i * (1 - g * g))[:, None] * part(dgh, 2))
    dh = (t * o * (1 - o))[:, None] * part(dgh, 3) + (o * (1 - t * t))[:, None] * dc
    return (o * t, c_new), (dh, dc)


def module_chi_1(module: torch.nn.Module, R: float, *, batch: int = 8, tangents: int = 4, burn_in: int = 1000,
                 steps: int = 40, seed: int = 0, state: tuple | None = None,
                 inputs: torch.Tensor | None = None) -> dict:
    """chi_1 of a one-layer torch ``nn.GRU``/``nn.LSTM`` as the module realises it: the per-step growth of the mean
    squared singular value of the state's Jacobian product at stationarity (docs/gated-mean-field.md eq. 23, sec. 7).

    ``batch`` chains are driven by inputs x ~ N(0, R) per unit for ``burn_in`` steps of the module's own forward, from
    a zero state (or from ``state``, a previous result's, e.g. at a nearby weight scale); then each carries
    ``tangents`` isotropic tangents of its state (h, or (c, h)) through ``steps`` more steps, formed exactly in
    float64 from the module's weights (eq. 13, 21) and renormalised every step.  The ratio |J v|^2 / |v|^2 of a
    width-N state concentrates at large N, so the geometric mean of the ratios over the last half of the steps (after
    the tangent has relaxed to its stationary direction) estimates the growth rate; for untied weights it is chi_1.
    Unlike a one-step value it needs no metric on the LSTM's (c, h): every metric gives the same long-run growth.

    ``inputs`` (optional, shape (burn_in + steps, batch, input_size)) replaces the Gaussian inputs by a given
    sequence, e.g. the outputs of the layer below in a stack (``rnnmf.nn.gated.calibrate_layers``); R is then unused.

    Returns {chi_1, chi_1_se (over the chains), one_step (the first step's mean ratio from isotropic tangents: the
    plain one-step mean squared singular value), Q (mean h^2 after the burn-in), state (the chains' state then, for
    a warm start)}.  Deterministic given ``seed`` (common random numbers for a search over a weight scale).
    """
    is_lstm = isinstance(module, torch.nn.LSTM)
    if not isinstance(module, (torch.nn.GRU, torch.nn.LSTM)) or module.bidirectional or module.num_layers != 1 \
            or (is_lstm and module.proj_size):
        raise RnnmfError(f"module_chi_1 got a {type(module).__name__}; valid: a one-layer unidirectional "
                         "torch.nn.GRU or torch.nn.LSTM (proj_size=0)")
    if steps < 2 or tangents < 1 or batch < 1 or burn_in < 0:
        raise RnnmfError(f"module_chi_1: steps={steps}, tangents={tangents}, batch={batch}, burn_in={burn_in} are "
                         "invalid; valid: steps >= 2, tangents >= 1, batch >= 1, burn_in >= 0")
    cell = "lstm" if is_lstm else "gru"
    gen = torch.Generator().manual_seed(int(seed))
    H, M = module.hidden_size, module.input_size
    dtype = module.weight_ih_l0.dtype
    if inputs is not None and tuple(inputs.shape) != (int(burn_in) + int(steps), batch, M):
        raise RnnmfError(f"module_chi_1: inputs of shape {tuple(inputs.shape)}; valid: (burn_in + steps, batch, "
                         f"input_size) = ({int(burn_in) + int(steps)}, {batch}, {M})")
    scale = math.sqrt(float(R))

    def x_at(t, d):  # the input of step t, shape (batch, M)
        if inputs is not None:
            return inputs[t].to(d)
        return scale * torch.randn((batch, M), generator=gen, dtype=d)

    if state is None:
        state = tuple(torch.zeros((1, batch, H), dtype=dtype) for _ in range(2 if is_lstm else 1))
    with torch.no_grad():
        for t in range(int(burn_in)):
            x = x_at(t, dtype)[None]
            out = module(x, state if is_lstm else state[0])[1]
            state = tuple(out) if is_lstm else (out,)
        end = state
        d = torch.float64
        W, V = module.weight_hh_l0.detach().to(d), module.weight_ih_l0.detach().to(d)
        b_ih = module.bias_ih_l0.detach().to(d) if module.bias else torch.zeros(V.shape[0], dtype=d)
        b_hh = module.bias_hh_l0.detach().to(d) if module.bias else torch.zeros(W.shape[0], dtype=d)
        s = tuple(x[0].to(d) for x in state)
        K = int(tangents)
        tan = tuple(torch.randn((batch, K, H), generator=gen, dtype=d) for _ in s)
        logs = torch.empty((int(steps), batch, K), dtype=d)
        for k in range(int(steps)):
            before = sum(t.pow(2).sum(dim=-1) for t in tan)
            gi = x_at(int(burn_in) + k, d) @ V.T + b_ih
            s, tan = _tangent_step(cell, W, gi, s, tan, b_hh)
            after = sum(t.pow(2).sum(dim=-1) for t in tan)
            logs[k] = torch.log(after / before)
            tan = tuple(t / after.sqrt()[..., None] for t in tan)
    per_chain = logs[int(steps) // 2:].mean(dim=(0, 2))  # log growth per step, per chain
    chi = float(per_chain.mean().exp())
    se = float(per_chain.std() / math.sqrt(batch)) * chi if batch > 1 else 0.0
    return {"chi_1": chi, "chi_1_se": se, "one_step": float(logs[0].exp().mean()),
            "Q": float(end[0].double().pow(2).mean()), "state": end}
