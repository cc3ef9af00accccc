"""Dynamical isometry: Jacobian spectra against eq. 12 — not implemented yet (issue #9)."""


def run(cfg, out_dir):
    raise NotImplementedError("rnnmf isometry: not implemented yet (issue #9)")
