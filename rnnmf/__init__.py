"""rnnmf: mean-field theory and experiments for Chen, Pennington & Schoenholz (ICML 2018),
"Dynamical Isometry and a Mean Field Theory of RNNs: Gating Enables Signal Propagation in Recurrent Neural Networks".

The library (`rnnmf.theory`, `rnnmf.nn`, `rnnmf.sim`, `rnnmf.data`) takes plain arguments and never imports the CLI.
"""

__version__ = "0.1.0"
