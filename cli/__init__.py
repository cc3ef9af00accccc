"""The `rnnmf` command line: a thin typer layer over `experiments` and `rnnmf.theory`."""
