"""Fig. 1: mean-field theory against Monte Carlo — not implemented yet (issue #5)."""


def run(cfg, out_dir):
    raise NotImplementedError("rnnmf mf-vs-mc: not implemented yet (issue #5)")
