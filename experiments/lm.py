"""Table 1: PTB language modelling — not implemented yet (issue #8)."""


def run(cfg, out_dir):
    raise NotImplementedError("rnnmf lm: not implemented yet (issue #8)")
