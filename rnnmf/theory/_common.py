"""Small pieces shared by the vanilla and minimalRNN theories."""

from __future__ import annotations

import numpy as np


def timescale(chi, one_minus_chi=None):
    """tau = -1 / log(chi) (Sec. 3.1): +inf where chi >= 1 (no decay: critical or unstable).

    ``one_minus_chi``, when the caller can form 1 - chi without cancellation, gives tau accurately for chi -> 1
    (large mu_b).  Where chi <= 0 the deviation from c* still decays, alternating in sign, as |chi|^t, so
    tau = -1 / log|chi| (0 at chi = 0).
    """
    chi = np.asarray(chi, dtype=float)
    omega = 1.0 - chi if one_minus_chi is None else np.asarray(one_minus_chi, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        decay = np.where(chi > 0, np.log1p(-np.minimum(omega, 1.0)), np.log(np.abs(chi)))
        tau = np.where(omega <= 0, np.inf, -1.0 / decay)
    return np.where(chi == 0, 0.0, tau)
