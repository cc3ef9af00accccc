"""`rnnmf report` — not implemented yet (issue #10)."""


def write_report(results_dir):
    raise NotImplementedError("rnnmf report: not implemented yet (issue #10)")
