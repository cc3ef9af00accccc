"""Monte-Carlo simulation of random minimalRNNs and vanilla RNNs driven by two input sequences (Fig. 1).

Each simulated network is one draw of W_ij ~ N(0, σ_w²/N), V_ij ~ N(0, σ_v²/N), b_i ~ N(μ_b, σ_b²), fed two input
sequences x̃_a^t, x̃_b^t. The two inputs enter the SAME network (the paper's "two identical copies", sec. 3.1) from the
SAME hidden state h^0, so the hidden-state cosine starts at C^0 = 1 unless ``C0`` says otherwise.

Modelling choices, all made explicit here because the mean-field theory leaves them open:

* Inputs. The theory depends on x̃ only through its second moment R and the per-step cosine Σ12^t (eq. 6-7, 17).
  We draw them Gaussian, fresh at every step and for every network: per unit, (x̃_a,i, x̃_b,i) has variance R and
  correlation Σ12^t, so x̃_a = √R z_1 and x̃_b = √R (Σ12 z_1 + √(1 − Σ12²) z_2). The input dimension is N (the
  minimalRNN's x̃ lives in the hidden space; the vanilla RNN uses M = N as well, harmless since V scales as σ_v²/M).
* Start. minimalRNN: h^0 ~ N(0, Q*) per unit (the diagonal fixed point, so Q^t = Q*, q^t = q* at once; the paper's
  "Q* is used to initialize h^0 to avoid the transient"). Vanilla RNN: h^0 = tanh(e^0) with e^0 ~ N(μ_b, q*).
  ``C0`` < 1 starts the second copy at cosine C0 (minimal: of h^0; vanilla: of e^0), for timescale measurements.
* Measurement. c^t is the cosine of the centred pre-activations, (e_a − μ_b)·(e_b − μ_b) / (|e_a − μ_b| |e_b − μ_b|),
  across the N units of one network; callers average over networks (standard error std/√networks). q^t is the mean of
  (e − μ_b)² over units and the two inputs, C^t the cosine of the hidden states.
* Bias. b is shared by the two inputs of one network, so σ_b² enters the off-diagonal of q as well as the diagonal
  (eq. 17/38; eq. 2 and 6 write σ_b² I). Untied: b is fresh at every step; tied: one b for the whole sequence.

Untied weights (fresh W, V, b every step, the mean-field setting of sec. 3.1) are simulated exactly in distribution at
O(N) work per step per network: given h_a and h_b, the rows of a fresh W are independent, so the pairs
((W h_a)_i, (W h_b)_i) are i.i.d. Gaussian with covariance (σ_w²/N)·Gram(h_a, h_b); the same holds for V x̃ with σ_v²,
and the two are independent. So (e_a − b, e_b − b)_i = L z_i with L the Cholesky factor of the summed 2×2 covariance.
:func:`naive_untied_preactivations` draws the full matrices instead; the tests check the two agree in distribution.

Tied weights use real N×N matrices, batched over networks with ``bmm`` and processed in chunks of networks to fit
memory. Every tied network draws everything (W, V, b, h^0, inputs) from its own generator, so the results do not
depend on the chunk size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnnmf.draws import gaussian, recurrent_matrix
from rnnmf.errors import RnnmfError
from rnnmf.seeds import derive_seed
from rnnmf.sim._checks import check_run

CELLS = ("minimal", "vanilla")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
#: default memory for one chunk of tied networks (W and V of every network in it)
CHUNK_BYTES = 1 << 30


@dataclass
class SimResult:
    """Per-step, per-network measurements, each of shape (T, networks); row t-1 holds step t = 1..T."""

    c: np.ndarray  # cosine of the centred pre-activations e^t − μ_b
    q: np.ndarray  # mean squared centred pre-activation, over units and both inputs
    C: np.ndarray  # cosine of the hidden states h^t

    @property
    def networks(self) -> int:
        return self.c.shape[1]

    def c_mean(self) -> np.ndarray:
        return self.c.mean(axis=1)

    def c_se(self) -> np.ndarray:
        """Standard error of :meth:`c_mean` over networks (std / √networks; 0 for one network)."""
        if self.networks < 2:
            return np.zeros(self.c.shape[0])
        return self.c.std(axis=1, ddof=1) / math.sqrt(self.networks)

    def q_mean(self) -> np.ndarray:
        return self.q.mean(axis=1)


# ------------------------------------------------------------------------------------------------------ helpers
def _generator(seed: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(int(seed))


def correlated_pair(shape: Sequence[int], var: float, cos: float, generator: torch.Generator, *,
                    dtype=torch.float32, device="cpu") -> torch.Tensor:
    """Y of shape (*shape[:-1], 2, shape[-1]): Y[..., 0, :] and Y[..., 1, :] have entries N(0, var) with entrywise
    correlation ``cos`` (y_b = cos·y_a + √(1 − cos²)·independent), independent across entries."""
    *lead, n = shape
    Y = torch.randn((*lead, 2, n), generator=generator, dtype=dtype, device=device)
    s = math.sqrt(var)
    Y[..., 1, :] = s * (cos * Y[..., 0, :] + math.sqrt(max(1.0 - cos * cos, 0.0)) * Y[..., 1, :])
    Y[..., 0, :] *= s
    return Y


def gram(Y: torch.Tensor) -> torch.Tensor:
    """Y Yᵀ over the unit axis: (..., 2, N) -> (..., 2, 2) dot products of the two copies."""
    return Y @ Y.transpose(-1, -2)


def _cosine_of(G: torch.Tensor) -> torch.Tensor:
    """The cosine of the two vectors whose Gram matrix is G (0 where one vanishes)."""
    den = torch.sqrt(G[..., 0, 0] * G[..., 1, 1])
    return torch.where(den > 0, G[..., 0, 1] / den.clamp_min(torch.finfo(G.dtype).tiny), torch.zeros_like(den))


def _measure(E: torch.Tensor, G_h: torch.Tensor, mu_b: float):
    """c, q, C of one step for every network from the pre-activations E and the Gram matrix of the new h."""
    D = E - mu_b
    G_e = gram(D)
    return _cosine_of(G_e), 0.5 * (G_e[..., 0, 0] + G_e[..., 1, 1]) / E.shape[-1], _cosine_of(G_h)


# ------------------------------------------------------------------------------------------ the untied sampler
def untied_preactivations(H: torch.Tensor, X: torch.Tensor, *, sigma_w: float, sigma_v: float, sigma_b: float,
                          mu_b: float, generator: torch.Generator, G_h: torch.Tensor | None = None) -> torch.Tensor:
    """E = (W h_a + V x_a + b, W h_b + V x_b + b) for fresh W, V, b: exact in distribution, O(N) work.

    H and X are (..., 2, N): the hidden states and inputs of the two copies a, b (axis −2); every leading index is an
    independent network. Row i of (W h_a, W h_b) is N(0, (σ_w²/N) G_h) with G_h = H Hᵀ the 2×2 Gram matrix,
    independently over i; V x̃ likewise with σ_v² and G_x, independent of W h. So (e_a − b, e_b − b)_i = L z_i with
    L the Cholesky factor of the summed covariance. The bias b_i ~ N(μ_b, σ_b²) is added to both copies (shared, fresh
    per step). ``G_h`` may be passed when already known (it is the previous step's measurement). Returns E (..., 2, N).
    """
    n = H.shape[-1]
    G_h = gram(H) if G_h is None else G_h
    G_x = gram(X)
    s_aa = (sigma_w**2 * G_h[..., 0, 0] + sigma_v**2 * G_x[..., 0, 0]) / n
    s_ab = (sigma_w**2 * G_h[..., 0, 1] + sigma_v**2 * G_x[..., 0, 1]) / n
    # 2x2 Cholesky: l22² is the squared norm of copy b's part orthogonal to copy a, taken from the residual vectors
    # h_b − α h_a and x_b − α x_a rather than as s_bb − l21² (which cancels to float noise of order √eps·s when the
    # copies coincide; this way identical copies give identical pre-activations, as the full matrices would)
    alpha = (s_ab / s_aa.clamp_min(torch.finfo(H.dtype).tiny)).unsqueeze(-1)
    r_h = H[..., 1, :] - alpha * H[..., 0, :]
    r_x = X[..., 1, :] - alpha * X[..., 0, :]
    l22 = torch.sqrt((sigma_w**2 * (r_h * r_h).sum(-1) + sigma_v**2 * (r_x * r_x).sum(-1)) / n)
    l11 = torch.sqrt(s_aa)
    L = torch.zeros((*s_aa.shape, 2, 2), dtype=H.dtype, device=H.device)
    L[..., 0, 0], L[..., 1, 0], L[..., 1, 1] = l11, alpha.squeeze(-1) * l11, l22
    E = L @ torch.randn(H.shape, generator=generator, dtype=H.dtype, device=H.device)
    if sigma_b:
        E += sigma_b * torch.randn((*H.shape[:-2], 1, n), generator=generator, dtype=H.dtype, device=H.device)
    return E.add_(mu_b)


def naive_untied_preactivations(H: torch.Tensor, X: torch.Tensor, *, sigma_w: float, sigma_v: float,
                                sigma_b: float, mu_b: float, generator: torch.Generator) -> torch.Tensor:
    """The same step by drawing the full N×N matrices W, V and the bias b of every network: O(N²), the reference."""
    n = H.shape[-1]
    lead = H.shape[:-2]
    kw = dict(generator=generator, dtype=H.dtype, device=H.device)
    W = torch.randn((*lead, n, n), **kw) * (sigma_w / math.sqrt(n))
    V = torch.randn((*lead, n, n), **kw) * (sigma_v / math.sqrt(n))
    b = mu_b + sigma_b * torch.randn((*lead, 1, n), **kw)
    return H @ W.transpose(-1, -2) + X @ V.transpose(-1, -2) + b


# --------------------------------------------------------------------------------------------------- the cells
def cell_update(cell: str, E: torch.Tensor, H: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """h^t from e^t: eq. 5 (minimalRNN: u = σ(e), h = u ⊙ h^{t−1} + (1 − u) ⊙ x̃) or eq. 1 (vanilla: h = tanh e)."""
    if cell == "minimal":
        return X + torch.sigmoid(E) * (H - X)
    return torch.tanh(E)


def _initial_state(cell: str, shape, h0_var: float, C0: float, mu_b: float, generator, dtype, device):
    Y = correlated_pair(shape, h0_var, C0, generator, dtype=dtype, device=device)
    return Y if cell == "minimal" else torch.tanh(Y + mu_b)


# --------------------------------------------------------------------------------------------------- simulate
def _check(cell, sigma12, hidden, networks, dtype, C0, R, h0_var, chunk):
    if cell not in CELLS:
        raise RnnmfError(f"cell={cell!r} is invalid; valid: {', '.join(CELLS)}")
    check_run(sigma12, hidden, networks, dtype, chunk, DTYPES, f" (fit {CHUNK_BYTES} bytes)")
    if not -1.0 <= C0 <= 1.0:
        raise RnnmfError(f"C0={C0!r} is invalid; valid: a cosine in [-1, 1]")
    if R < 0 or h0_var < 0:
        raise RnnmfError(f"R={R!r}, initial variance {h0_var!r}: valid: both >= 0")


def simulate(cell: str, *, sigma_w: float, sigma_v: float, sigma_b: float, mu_b: float, R: float,
             sigma12: Sequence[float], h0_var: float, hidden: int, networks: int, tied: bool = False,
             C0: float = 1.0, seed: int = 0, dtype: str = "float32", device: str | torch.device = "cpu",
             chunk: int | None = None) -> SimResult:
    """Run ``networks`` random ``cell`` networks of width ``hidden`` for T = len(sigma12) steps; measure c, q, C.

    ``sigma12[t-1]`` is the input cosine Σ12^t at step t. ``h0_var`` is Q* (minimal) or q* (vanilla), see the module
    docstring. ``tied=False``: fresh W, V, b every step (exact O(N) sampler, one generator for the whole batch).
    ``tied=True``: one W, V, b per network for all steps, ``chunk`` networks at a time (None: as many as fit
    ``CHUNK_BYTES``); each network has its own generator, so the chunk size does not change the results.
    Same arguments and seed, same numbers (on one device and dtype).
    """
    sigma12 = [float(s) for s in sigma12]
    _check(cell, sigma12, hidden, networks, dtype, C0, R, h0_var, chunk)
    device = torch.device(device)
    tdtype = DTYPES[dtype]
    params = dict(cell=cell, sigma_w=float(sigma_w), sigma_v=float(sigma_v), sigma_b=float(sigma_b),
                  mu_b=float(mu_b), R=float(R), sigma12=sigma12, h0_var=float(h0_var), C0=float(C0))
    with torch.no_grad():
        if not tied:
            out = _run_untied(**params, hidden=hidden, networks=networks, seed=seed, dtype=tdtype, device=device)
        else:
            if chunk is None:
                chunk = max(1, CHUNK_BYTES // (2 * hidden * hidden * torch.finfo(tdtype).bits // 8))
            parts = [_run_tied(**params, hidden=hidden, first=k, count=min(chunk, networks - k), seed=seed,
                               dtype=tdtype, device=device) for k in range(0, networks, chunk)]
            out = tuple(torch.cat([p[i] for p in parts], dim=1) for i in range(3))
    c, q, C = (t.double().cpu().numpy() for t in out)
    return SimResult(c=c, q=q, C=C)


def _run_untied(*, cell, sigma_w, sigma_v, sigma_b, mu_b, R, sigma12, h0_var, C0, hidden, networks, seed, dtype,
                device):
    gen = _generator(seed, device)
    H = _initial_state(cell, (networks, hidden), h0_var, C0, mu_b, gen, dtype, device)
    G_h = gram(H)
    cs, qs, Cs = [], [], []
    for s12 in sigma12:
        X = correlated_pair((networks, hidden), R, s12, gen, dtype=dtype, device=device)
        E = untied_preactivations(H, X, sigma_w=sigma_w, sigma_v=sigma_v, sigma_b=sigma_b, mu_b=mu_b,
                                  generator=gen, G_h=G_h)
        H = cell_update(cell, E, H, X)
        G_h = gram(H)
        c, q, C = _measure(E, G_h, mu_b)
        cs.append(c), qs.append(q), Cs.append(C)
    return torch.stack(cs), torch.stack(qs), torch.stack(Cs)


def _run_tied(*, cell, sigma_w, sigma_v, sigma_b, mu_b, R, sigma12, h0_var, C0, hidden, first, count, seed, dtype,
              device):
    """Networks first .. first+count−1, batched; network k draws everything from its own generator."""
    n, T = hidden, len(sigma12)
    W = torch.empty((count, n, n), dtype=dtype, device=device)
    V = torch.empty((count, n, n), dtype=dtype, device=device)
    b = torch.empty((count, 1, n), dtype=dtype, device=device)
    H = torch.empty((count, 2, n), dtype=dtype, device=device)       # hidden states of the copies a, b
    X = torch.empty((T, count, 2, n), dtype=dtype, device=device)    # all inputs, drawn up front
    for j in range(count):
        gen = _generator(derive_seed(seed, "tied-network", first + j), device)
        W[j] = recurrent_matrix((n, n), sigma_w, "gaussian", gen, dtype=dtype, device=device)
        V[j] = gaussian((n, n), sigma_v / math.sqrt(n), generator=gen, dtype=dtype, device=device)
        b[j] = gaussian((1, n), generator=gen, dtype=dtype, device=device)
        H[j] = _initial_state(cell, (n,), h0_var, C0, mu_b, gen, dtype, device)
        for t, s12 in enumerate(sigma12):
            X[t, j] = correlated_pair((n,), R, s12, gen, dtype=dtype, device=device)
    b = mu_b + sigma_b * b  # drawn standard, then scaled: σ_b = 0 is allowed
    cs, qs, Cs = [], [], []
    for t in range(T):
        # W @ Hᵀ (a matrix times two columns) ran 2.5x faster on the CPU than H @ Wᵀ with the same result
        E = torch.baddbmm(torch.bmm(W, H.mT), V, X[t].mT).mT + b  # rows: e_a = W h_a + V x_a + b, e_b likewise
        H = cell_update(cell, E, H, X[t])
        c, q, C = _measure(E, gram(H), mu_b)
        cs.append(c), qs.append(q), Cs.append(C)
    return torch.stack(cs), torch.stack(qs), torch.stack(Cs)


def simulate_minimal(*, Q_star: float, **kwargs) -> SimResult:
    """:func:`simulate` for the minimalRNN (eq. 5) started at h^0 ~ N(0, Q*)."""
    return simulate("minimal", h0_var=Q_star, **kwargs)


def simulate_vanilla(*, q_star: float, **kwargs) -> SimResult:
    """:func:`simulate` for the vanilla RNN (eq. 1) started at h^0 = tanh(e^0), e^0 ~ N(μ_b, q*)."""
    return simulate("vanilla", h0_var=q_star, **kwargs)


# ------------------------------------------------------------------------------------- timescale from a trajectory
def linear_regime(eps: np.ndarray, chi: float, tol: float = 0.1) -> np.ndarray:
    """Where a (theory) distance ε^t = |c^t − c*| decays at its linearised rate: ε^{t+1}/ε^t = χ_c* (Sec. 3.1).

    Step t is marked when a one-step log-ratio next to it, log(ε^{t+1}/ε^t) or log(ε^t/ε^{t−1}), is within
    ``tol``·|log χ| of log χ. Returns a boolean mask like ``eps``; all False unless 0 < χ < 1 (τ finite).
    """
    eps = np.asarray(eps, dtype=float)
    mask = np.zeros(eps.shape, bool)
    if not 0.0 < chi < 1.0 or eps.size < 2:
        return mask
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.log(eps[1:] / eps[:-1])
    ok = np.abs(rate - math.log(chi)) <= tol * abs(math.log(chi))  # NaN (ε = 0) compares False
    mask[:-1] |= ok
    mask[1:] |= ok
    return mask


def fit_timescale(t: np.ndarray, mean: np.ndarray, se: np.ndarray, target: float, linear: np.ndarray, *,
                  noise: float = 5.0, min_points: int = 3) -> dict:
    """τ from log|mean^t − target| ≈ a − t/τ, by weighted least squares over one window of steps.

    The window is the first run of consecutive steps that lie in ``linear`` (the linear regime, e.g. from
    :func:`linear_regime` on the theory trajectory) and where the measured distance exceeds ``noise`` standard
    errors; the weight of a step is (ε/se)², the inverse variance of log ε. Returns ``{tau, tau_se, t_from, t_to,
    points}``; tau is nan with fewer than ``min_points`` steps and inf if the distance does not decrease.
    """
    t, mean, se = (np.asarray(a, dtype=float) for a in (t, mean, se))
    eps = np.abs(mean - target)
    ok = np.asarray(linear, bool) & (eps > noise * se) & (eps > 0)
    out = {"tau": math.nan, "tau_se": math.nan, "t_from": math.nan, "t_to": math.nan, "points": 0}
    if not ok.any():
        return out
    start = int(np.argmax(ok))
    stop = start
    while stop + 1 < ok.size and ok[stop + 1]:
        stop += 1
    idx = np.arange(start, stop + 1)
    out.update(t_from=float(t[start]), t_to=float(t[stop]), points=int(idx.size))
    if idx.size < max(min_points, 2):
        return out
    y = np.log(eps[idx])
    w = (eps[idx] / np.maximum(se[idx], 1e-12)) ** 2
    X = np.stack([np.ones(idx.size), t[idx]], 1)
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    slope = float((cov @ (X.T @ (w * y)))[1])
    # the residual scatter, where larger than the standard errors claim, widens the error bar (never narrows it)
    resid = y - X @ (cov @ (X.T @ (w * y)))
    dof = idx.size - 2
    scale = max(1.0, float(w @ resid**2) / dof) if dof > 0 else 1.0
    slope_se = math.sqrt(cov[1, 1] * scale)
    if slope >= 0:
        out.update(tau=math.inf, tau_se=math.nan)
    else:
        out.update(tau=-1.0 / slope, tau_se=slope_se / slope**2)
    return out
