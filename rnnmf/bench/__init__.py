"""Every speed benchmark of the library, one module per suite; each suite is a plain function returning rows (dicts)
and names its own headline row (``row["headline"]``: the claim it measures, its value the row's ``ratio``).
Timings are reported as ratios measured in one process (DESIGN.md), seconds only for context.

    theory    rnnmf.bench.theory.bench_tau_map     the vectorised tau map against scipy point by point
    rnn       rnnmf.bench.rnn.bench_rnns           the fused minimalRNN against torch.nn.RNN/GRU/LSTM
    sim       rnnmf.bench.sim.bench_untied         the exact O(N) untied sampler against full matrices
    ensemble  rnnmf.bench.ensemble.bench_ensemble  Fig. 2's sweep as batched ensembles against one by one
    lm        rnnmf.bench.lm.bench_lm              PTB training tokens/s per cell at one parameter budget

``rnnmf bench`` runs them: ``experiments/bench.py`` holds the one table of suites (which function, which rows carry
the claims' numbers) and writes their rows.
"""
