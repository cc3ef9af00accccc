"""One module per paper artefact, each with ``run(cfg, out_dir) -> summary`` (and optionally ``validate(cfg)``).

Jobs are started through :func:`experiments.runner.execute`, which composes ``conf/<job>.yaml`` and opens
the run folder.
"""
