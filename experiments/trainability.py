"""Fig. 2: the trainability sweep — not implemented yet (issue #6)."""


def run(cfg, out_dir):
    raise NotImplementedError("rnnmf sweep trainability: not implemented yet (issue #6)")
