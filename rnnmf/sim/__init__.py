"""Monte-Carlo simulation of random vanilla RNNs and minimalRNNs (Fig. 1) and their Jacobian spectra (Sec. 3.2.2);
beyond the paper, of torch's GRU and LSTM (``rnnmf.sim.gated``)."""

from rnnmf.sim.gated import jacobian_norms, module_growth, module_one_step, simulate_gated, untied_one_step
from rnnmf.sim.jacobian import (
    JacobianTheory,
    RandomRNN,
    draws,
    jacobian_moments,
    jacobians,
    minimal_theory,
    pooled_stats,
    singular_values,
    step_jacobian,
    vanilla_theory,
)
from rnnmf.sim.montecarlo import (
    CELLS,
    SimResult,
    correlated_pair,
    derive_seed,
    fit_timescale,
    linear_regime,
    naive_untied_preactivations,
    simulate,
    simulate_minimal,
    simulate_vanilla,
    untied_preactivations,
)

__all__ = [
    "JacobianTheory", "RandomRNN", "draws", "jacobian_moments", "jacobians", "minimal_theory", "pooled_stats",
    "singular_values", "step_jacobian", "vanilla_theory",
    "CELLS", "SimResult", "correlated_pair", "derive_seed", "fit_timescale", "linear_regime",
    "naive_untied_preactivations", "simulate", "simulate_minimal", "simulate_vanilla", "untied_preactivations",
    "jacobian_norms", "module_growth", "module_one_step", "simulate_gated", "untied_one_step",
]
