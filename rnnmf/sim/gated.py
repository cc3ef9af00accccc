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

from rnnmf.errors import RnnmfError
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
        for j in range(count):
            gen = torch.Generator(device=device).manual_seed(derive_seed(seed, "tied-gated", first + j))
            for k, g in enumerate(gates):
                rows = slice(k * n, (k + 1) * n)
                self.W[j, rows].normal_(0.0, p[f"sigma_w_{g}"] / math.sqrt(n), generator=gen)
                self.V[j, rows].normal_(0.0, p[f"sigma_v_{g}"] / math.sqrt(n), generator=gen)
                self.b[j, 0, rows].normal_(0.0, 1.0, generator=gen).mul_(p[f"sigma_b_{g}"]).add_(p[f"mu_{g}"])
            if cell == "gru":
                self.b_hn[j].normal_(0.0, 1.0, generator=gen).mul_(p["sigma_b_hn"]).add_(p["mu_hn"])
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
    if dtype not in DTYPES:
        raise RnnmfError(f"dtype={dtype!r} is invalid; valid: {', '.join(DTYPES)}")
    if start not in STARTS:
        raise RnnmfError(f"start={start!r} is invalid; valid: {', '.join(STARTS)}")
    for name, value in (("hidden", hidden), ("networks", networks)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RnnmfError(f"{name}={value!r} is invalid; valid: an integer >= 1")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise RnnmfError(f"chunk={chunk!r} is invalid; valid: an integer >= 1 or null")
    if len(sigma12) < 1 or any(not -1.0 <= s <= 1.0 for s in sigma12):
        raise RnnmfError(f"sigma12={list(sigma12)!r} is invalid; valid: a non-empty sequence of cosines in [-1, 1]")


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
        return torch.stack([torch.randn(shape, generator=gen, dtype=dtype, device=device) for gen in gens])

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
    ``per_step`` (every ratio) and, for a one-layer GRU, ``one_step`` = ||dh'/dh||_F^2 / N averaged over the batch
    (the one-step mean squared singular value, by Hutchinson's estimate with 16 probes per sample).
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
    if not is_lstm and L == 1:
        res["one_step"] = _gru_one_step(module, states[-2][0].detach(), x_at(), batch, seed=int(seed))
    return res


def _gru_one_step(module, h_prev, x, batch, probes: int = 16, seed: int = 0) -> float:
    """||dh'/dh||_F^2 / N through the module's forward, averaged over the batch: Hutchinson's estimate
    E_g |J^T g|^2 = tr(J J^T) with ``probes`` Gaussian g per sample (relative error ~ sqrt(2 / (probes N)) per sample,
    0.4% at N = 1024 with 16 probes), one backward pass each instead of N."""
    H = module.hidden_size
    gen = torch.Generator().manual_seed(int(seed))
    h = h_prev.clone().requires_grad_(True)
    out = module(x, h)[1]
    total = torch.zeros(batch, dtype=out.dtype)
    for _ in range(probes):
        g = torch.randn(out.shape, generator=gen, dtype=out.dtype)
        (grad,) = torch.autograd.grad(out, h, grad_outputs=g, retain_graph=True)
        total += grad.pow(2).sum(dim=(0, 2))
    return float(total.mean()) / probes / H
