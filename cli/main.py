"""Entry point of the `rnnmf` console script."""

from __future__ import annotations

from typing import Annotated

import typer

import rnnmf
from cli import jobs, plot, theory  # noqa: F401  (registers the commands)
from cli.app import app


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rnnmf {rnnmf.__version__}")
        raise typer.Exit()


@app.callback()
def root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="print the version and exit")] = False) -> None:
    """Reproduce Chen, Pennington & Schoenholz (ICML 2018)."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
