"""`rnnmf plot RUN_DIR`: redraw a run's figures from its CSVs alone (``experiments.figures``)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.app import app


@app.command("plot")
def plot(run_dir: Annotated[str, typer.Argument(help="a run folder rnnmf made, e.g. results/mf_vs_mc/quick-1a2b3c4d",
                                                show_default=False)]):
    """Redraw every figure of a run folder (and its note/table markdown) from its CSVs; config.yaml is not read."""
    from experiments.figures import redraw

    for path in redraw(run_dir):
        typer.echo(str(path))
