"""Mean-field theory of vanilla RNNs and minimalRNNs (Chen, Pennington & Schoenholz, ICML 2018, Sec. 3, SI B-E).

    from rnnmf.theory import vanilla, minimal, critical_minimal
    minimal.chi_1(6.88, 1.39, 0.46, mu_b=0.0)     # Fig. 1 hyper-parameters: ~0.9988
    minimal.tau(6.88, 1.39, 0.46, mu_b=np.linspace(-4, 8, 200), sigma12=0.99)   # one vectorised call
    init = critical_minimal(q_star=2.0, mu_b=4.0, R=0.46)                  # Algorithm 1

Beyond the paper, torch's gated cells (docs/gated-mean-field.md): ``gru``, ``lstm`` and ``critical_gated``:
    gru.summary(R=1.0, sigma_w=1.0, sigma_v=1.0, mu_z=2.0)                # Q*, chi_1, c*, tau (Sigma12 = 1)
    critical_gated("lstm", R=1.0, sigma_v=1.0, mu_f=2.0)                   # sigma_w with chi_1 = 1

Modules: ``gaussian`` (the quadrature), ``vanilla`` (eq. 1-4), ``minimal`` (eq. 5-13), ``critical`` (Algorithm 1),
``jacobian`` (the spectrum of JJ^T, eq. 11-13, against which ``rnnmf.sim.jacobian`` measures), ``phase`` (2-D maps),
``reference`` (slow scipy implementations for checking; their speed: ``rnnmf.bench.theory``).
All sigma's are standard deviations; every function broadcasts over its hyper-parameters and takes everything after
(sigma_w, sigma_v, R) -- after q_star for the critical initialisations -- by keyword.
"""

from rnnmf.theory import gaussian, gru, jacobian, lstm, minimal, vanilla
from rnnmf.theory._validate import MU_B_LIMIT, Q_LIMIT, check_domain
from rnnmf.theory.critical import (
    CriticalInit,
    GatedCriticalInit,
    critical_gated,
    critical_minimal,
    critical_vanilla,
    require_feasible,
)
from rnnmf.theory.phase import phase_map

__all__ = [
    "gaussian",
    "vanilla",
    "minimal",
    "jacobian",
    "gru",
    "lstm",
    "CriticalInit",
    "GatedCriticalInit",
    "critical_gated",
    "critical_minimal",
    "critical_vanilla",
    "require_feasible",
    "phase_map",
    "check_domain",
    "Q_LIMIT",
    "MU_B_LIMIT",
]
