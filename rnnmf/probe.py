"""How deep a random network's memory of its first input reaches: a linear probe at every depth, and T_max.

The theory of Sec. 3 describes the network at initialisation: at Σ12 = 0 the correlation of two inputs' states
relaxes to c* as e^(−t/τ) (eq. 3 and 7), so what the state after t noise steps still holds about the image decays on
the timescale τ. Fig. 2 measures this through training; here it is measured on the initial network itself:

1. ``features``: with the weights frozen the state after T noise steps is the state at step T of ONE forward pass
   (the recurrence is causal), so one pass of ``RNNEnsemble.states_at`` gives the features at every depth of a grid.
2. ``probe_accuracy``: a linear classifier of the digit per depth, fitted on ``n_train`` examples and scored on
   held-out ones: multinomial logistic regression (``logistic``, L-BFGS in float64) or one-vs-all ridge
   regression in closed form (``ridge``, the cross-check), both on features standardised with training statistics.
3. ``t_max``: the deepest depth whose held-out accuracy exceeds the threshold, interpolated linearly in log T
   between the grid depths that bracket the last crossing; censored ``above`` (still over the threshold at the
   deepest depth) or ``below`` (under it at the shallowest).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from rnnmf.errors import RnnmfError
from rnnmf.seeds import derive_seed

METHODS = ("logistic", "ridge")


def depth_grid(start: int, stop: int, ratio: float) -> list[int]:
    """Integer depths from ``start`` to ``stop`` (both included), neighbours a factor ``ratio`` apart where the
    integers allow it (every integer below 1/(ratio − 1))."""
    if not (1 <= start <= stop) or not ratio > 1:
        raise RnnmfError(f"depth grid start={start}, stop={stop}, ratio={ratio} is invalid; valid: 1 <= start <= stop,"
                         " ratio > 1")
    num = int(math.ceil(math.log(stop / start) / math.log(ratio))) + 1
    return sorted({int(round(t)) for t in np.geomspace(start, stop, max(num, 1))} | {start, stop})


@torch.no_grad()
def features(model, images: torch.Tensor, depths: Sequence[int], sigma_x: float, seed: int,
             chunk: int = 1024) -> torch.Tensor:
    """States (D, K, B, N) of an ``RNNEnsemble`` after each image of ``images`` (B, M) and t noise steps, for t in
    ``depths``, in chunks of ``chunk`` examples (each chunk its own noise stream, seeded by (seed, chunk index))."""
    parts = []
    for i, start in enumerate(range(0, len(images), chunk)):
        g = torch.Generator(device=images.device).manual_seed(derive_seed(seed, i, scheme="epoch"))
        parts.append(model.states_at(images[start:start + chunk], depths, sigma_x, g))
    return torch.cat(parts, dim=2)


def _standardise(train: torch.Tensor, test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per problem and feature: zero mean, unit variance on the training examples (a constant feature stays 0)."""
    mean = train.mean(-2, keepdim=True)
    sd = train.std(-2, keepdim=True).clamp_min(1e-12)
    return (train - mean) / sd, (test - mean) / sd


def probe_accuracy(train: torch.Tensor, y_train: torch.Tensor, test: torch.Tensor, y_test: torch.Tensor, *,
                   method: str = "logistic", l2: float = 1e-3, max_iter: int = 200,
                   num_classes: int = 10) -> torch.Tensor:
    """Held-out accuracy (P,) of a linear probe per problem: ``train`` (P, n, N) and ``test`` (P, m, N) hold P
    independent feature sets (depths × members) for the same examples.

    ``logistic``: minimise mean cross-entropy + (l2/2)·‖W‖² (bias unpenalised) per problem, all problems in one
    L-BFGS run on the summed objective (the problems share no parameter, so its gradient is each problem's own),
    float64. ``ridge``: one-vs-all least squares on centred one-hot targets with penalty l2·n·‖W‖², closed form;
    the class with the largest output wins."""
    if method not in METHODS:
        raise RnnmfError(f"probe method={method!r} is invalid; valid: {', '.join(METHODS)}")
    xtr, xte = _standardise(train.double(), test.double())
    P, n, N = xtr.shape
    onehot = torch.nn.functional.one_hot(y_train, num_classes).double()
    if method == "ridge":
        yc = onehot - onehot.mean(0)
        gram = xtr.transpose(1, 2) @ xtr + l2 * n * torch.eye(N, dtype=xtr.dtype)
        w = torch.linalg.solve(gram, xtr.transpose(1, 2) @ yc)  # (P, N, C)
        scores = xte @ w
    else:
        w = torch.zeros(P, N, num_classes, dtype=torch.float64, requires_grad=True)
        b = torch.zeros(P, 1, num_classes, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], lr=1, max_iter=max_iter, tolerance_grad=1e-9, tolerance_change=1e-12,
                                history_size=20, line_search_fn="strong_wolfe")
        target = y_train.repeat(P)

        def closure():
            opt.zero_grad()
            logits = torch.baddbmm(b, xtr, w).reshape(P * n, num_classes)
            loss = torch.nn.functional.cross_entropy(logits, target, reduction="sum") / n
            loss = loss + 0.5 * l2 * w.pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        scores = torch.baddbmm(b.detach(), xte, w.detach())
    return (scores.argmax(-1) == y_test).double().mean(-1)


def t_max(depths: Sequence[int], acc: Sequence[float], threshold: float) -> tuple[float, str]:
    """The deepest depth whose accuracy exceeds ``threshold``: (T_max, censored).

    After the last grid depth i with acc > threshold, T_max is where the straight line in log T from (T_i, acc_i)
    to (T_(i+1), acc_(i+1)) crosses the threshold. ``censored`` is ``above`` (acc > threshold at the deepest
    depth; T_max is that depth, a lower bound), ``below`` (no depth passes; T_max is NaN) or ``none``."""
    t = np.asarray(depths, float)
    a = np.asarray(acc, float)
    if len(t) != len(a) or len(t) == 0:
        raise RnnmfError(f"{len(t)} depths and {len(a)} accuracies; valid: the same number, at least one")
    above = np.flatnonzero(a > threshold)
    if len(above) == 0:
        return math.nan, "below"
    i = int(above[-1])
    if i == len(t) - 1:
        return float(t[-1]), "above"
    frac = (a[i] - threshold) / (a[i] - a[i + 1])
    return float(math.exp(math.log(t[i]) + frac * (math.log(t[i + 1]) - math.log(t[i])))), "none"


def binomial_sd(p: float, n: int) -> float:
    """Sampling sd of an accuracy p estimated on n held-out examples: √(p(1 − p)/n)."""
    return math.sqrt(p * (1 - p) / n)


def memory_depth(feats: torch.Tensor, y_train: torch.Tensor, y_test: torch.Tensor, depths: Sequence[int], *,
                 threshold: float, l2: float = 1e-3, window: int = 3, max_iter: int = 100) -> list[dict]:
    """T_max of every member from its features (D, K, B, N): the first ``len(y_train)`` examples train the probes,
    the rest score them. Per member: ``acc`` (D,), the ridge probe's held-out accuracy at every depth; ``T_max`` and
    ``censored`` from it (:func:`t_max`); and the logistic probe's ``T_max_logistic``, fitted only at the ``window``
    grid depths on either side of the ridge crossing (L-BFGS at every depth would cost ~50× the closed form), or
    NaN with ``censored_logistic`` ``outside`` when its crossing is not inside that window."""
    n = len(y_train)
    D, K = feats.shape[:2]
    train = feats[:, :, :n].reshape(D * K, n, -1)
    test = feats[:, :, n:].reshape(D * K, feats.shape[2] - n, -1)
    acc = probe_accuracy(train, y_train, test, y_test, method="ridge", l2=l2).view(D, K)
    out = []
    for k in range(K):
        a = acc[:, k].numpy()
        T, cens = t_max(depths, a, threshold)
        row = {"acc": a, "T_max": T, "censored": cens, "T_max_logistic": math.nan, "censored_logistic": cens}
        if cens == "none" and window > 0:
            i = int(np.searchsorted(np.asarray(depths, float), T))  # the first grid depth at or past the crossing
            lo, hi = max(0, i - window), min(D, i + window)
            sub = slice(lo, hi)
            acc_l = probe_accuracy(feats[sub, k, :n], y_train, feats[sub, k, n:], y_test, method="logistic", l2=l2,
                                   max_iter=max_iter).numpy()
            T_l, cens_l = t_max(depths[sub], acc_l, threshold)
            inside = cens_l == "none" or (cens_l == "above" and hi == D) or (cens_l == "below" and lo == 0)
            row.update(T_max_logistic=T_l if cens_l == "none" else math.nan,
                       censored_logistic=cens_l if inside else "outside")
        out.append(row)
    return out
