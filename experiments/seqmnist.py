"""Fig. 3: critical vs off-critical initialisation on sequential MNIST — not implemented yet (issue #7)."""


def run(cfg, out_dir):
    raise NotImplementedError("rnnmf seqmnist: not implemented yet (issue #7)")
