"""Monte-Carlo simulation of random vanilla RNNs and minimalRNNs (Fig. 1) and their Jacobian spectra (Sec. 3.2.2);
beyond the paper, of torch's GRU and LSTM (``rnnmf.sim.gated``). The theory they are measured against is
``rnnmf.theory`` (the Jacobian spectra's: ``rnnmf.theory.jacobian``); seeds come from ``rnnmf.seeds``."""

from rnnmf.sim.gated import jacobian_norms, module_growth, module_one_step, simulate_gated, untied_one_step
from rnnmf.sim.jacobian import (
    RandomRNN,
    draws,
    jacobians,
    pooled_stats,
    singular_values,
    step_jacobian,
)
from rnnmf.sim.montecarlo import (
    CELLS,
    SimResult,
    correlated_pair,
    fit_timescale,
    linear_regime,
    naive_untied_preactivations,
    simulate,
    simulate_minimal,
    simulate_vanilla,
    untied_preactivations,
)

__all__ = [
    "RandomRNN", "draws", "jacobians", "pooled_stats", "singular_values", "step_jacobian",
    "CELLS", "SimResult", "correlated_pair", "fit_timescale", "linear_regime",
    "naive_untied_preactivations", "simulate", "simulate_minimal", "simulate_vanilla", "untied_preactivations",
    "jacobian_norms", "module_growth", "module_one_step", "simulate_gated", "untied_one_step",
]
