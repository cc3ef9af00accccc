"""One module per paper artefact, each with ``run(cfg, out_dir) -> summary``; its typed settings and their
``cross_check(cfg)`` in ``experiments/settings/<job>.py``.

Jobs are started through :func:`experiments.runner.execute`, which composes ``conf/<job>.yaml``, checks it (before
torch's import) and opens the run folder.
"""
