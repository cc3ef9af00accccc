"""Monte-Carlo simulation of random vanilla RNNs and minimalRNNs (Fig. 1) and their Jacobian spectra (Sec. 3.2.2)."""

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
    "CELLS", "SimResult", "correlated_pair", "derive_seed", "fit_timescale", "linear_regime",
    "naive_untied_preactivations", "simulate", "simulate_minimal", "simulate_vanilla", "untied_preactivations",
]
