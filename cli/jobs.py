"""Job commands: friendly options become hydra overrides, then ``experiments.runner.execute`` runs the job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cli.app import app, print_summary

sweep_app = typer.Typer(help="Hyper-parameter sweeps that resume after a crash and scale out to Slurm.",
                        no_args_is_help=True)
app.add_typer(sweep_app, name="sweep")

Overrides = Annotated[Optional[list[str]], typer.Argument(
    help="hydra overrides key=value, e.g. profile=paper seed=1 (keys: experiments/settings/<job>.py, values: "
         "conf/<job>.yaml)", show_default=False)]
Out = Annotated[Optional[str], typer.Option("--out", help="run folder (default results/<job>/<profile>-<hash>/); a new "
                                                        "or empty folder, or one rnnmf made for this job and config")]
Fresh = Annotated[bool, typer.Option("--fresh", help="delete the run folder's results and start over (only in a folder "
                                                     "rnnmf made for this job)")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")]


def as_list(value) -> str | None:
    """A friendly option that the config holds as a list: ``a,c`` -> ``[a,c]`` (None: keep the config's value).
    An empty string stays an empty list, which the job refuses by name."""
    return None if value is None else f"[{value}]"


def run_job(job: str, overrides: list[str] | None, out: str | None, fresh: bool, quiet: bool,
            **options) -> Path:
    """Map friendly options (None = keep the config's value) to overrides; trailing overrides win."""
    from experiments.runner import execute
    from rnnmf.errors import RnnmfError

    if out is not None and not out.strip():
        raise RnnmfError("--out '' is empty; valid: a folder name, e.g. --out runs/mine")
    friendly = [f"{key}={value}" for key, value in options.items() if value is not None]
    if quiet:
        friendly.append("run.quiet=true")
    summary, path = execute(job, friendly + list(overrides or []), out=out, fresh=fresh)
    print_summary(summary, path)
    return path


MF_VS_MC_CELLS = ("minimal", "gru", "lstm")


@app.command("mf-vs-mc")
def mf_vs_mc(overrides: Overrides = None, out: Out = None, fresh: Fresh = False, quiet: Quiet = False,
             hidden: Annotated[Optional[int], typer.Option(help="hidden size N of the simulated networks")] = None,
             networks: Annotated[Optional[int], typer.Option(help="random networks averaged over")] = None,
             cell: Annotated[str, typer.Option(help="minimal (Fig. 1) | gru | lstm (torch's cells, beyond the "
                                                    "paper: job gated_mf_vs_mc)")] = "minimal"):
    """Figure 1: mean-field c^t of the minimalRNN (or torch's GRU/LSTM) against Monte Carlo, tied and untied weights."""
    from rnnmf.errors import RnnmfError

    if cell not in MF_VS_MC_CELLS:
        raise RnnmfError(f"unknown cell {cell!r}; valid: {', '.join(MF_VS_MC_CELLS)}")
    sizes = {"sim.hidden": hidden, "sim.networks": networks}
    if cell == "minimal":
        run_job("mf_vs_mc", overrides, out, fresh, quiet, **sizes)
    else:
        run_job("gated_mf_vs_mc", overrides, out, fresh, quiet, cell=cell, **sizes)


@sweep_app.command("trainability")
def trainability(overrides: Overrides = None, out: Out = None, fresh: Fresh = False, quiet: Quiet = False,
                 jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", help="local worker processes")] = None,
                 executor: Annotated[Optional[str], typer.Option(help="local | submitit (Slurm)")] = None,
                 panels: Annotated[Optional[str], typer.Option(
                     help="comma-separated panels: a-h the paper's, i-p torch's GRU and LSTM, e.g. a,c,e")] = None):
    """Figure 2: trainable depth T on MNIST-plus-noise across hyper-parameters, beside the theoretical tau (panels
    i-p, beyond the paper: torch's GRU and LSTM)."""
    run_job("trainability", overrides, out, fresh, quiet, **{
        "run.jobs": jobs, "run.executor": executor, "panels": as_list(panels)})


@sweep_app.command("memory-probe")
def memory_probe(overrides: Overrides = None, out: Out = None, fresh: Fresh = False, quiet: Quiet = False,
                 panels: Annotated[Optional[str], typer.Option(help="comma-separated panels, e.g. a,c,e,g")] = None):
    """Figure 2 at initialisation: how deep the frozen random network's memory of the image reaches (a linear
    probe at every depth), beside tau, per panel and width."""
    run_job("memory_probe", overrides, out, fresh, quiet, panels=as_list(panels))


GATED_SEQMNIST_CELLS = ("gru", "lstm")


@app.command("seqmnist")
def seqmnist(overrides: Overrides = None, out: Out = None, fresh: Fresh = False, quiet: Quiet = False,
             cell: Annotated[Optional[str], typer.Option(help="comma-separated: minimal, vanilla, or all; or gru, "
                                                              "lstm (torch's cells, beyond the paper: job "
                                                              "gated_seqmnist)")] = None,
             T: Annotated[Optional[int], typer.Option("--T", help="sequence length: 196 or 784")] = None):
    """Figure 3: critical against off-critical initialisation on sequential MNIST (or, for gru/lstm, critical against
    torch's default and the common heuristic)."""
    from rnnmf.errors import RnnmfError

    names = [] if cell is None else [c.strip() for c in cell.split(",")]
    gated = [c for c in names if c in GATED_SEQMNIST_CELLS]
    if gated and len(gated) != len(names):
        raise RnnmfError(f"--cell {cell} mixes the paper's cells with torch's gated ones; valid: vanilla/minimal "
                         "(job seqmnist) or gru/lstm (job gated_seqmnist), one run each")
    run_job("gated_seqmnist" if gated else "seqmnist", overrides, out, fresh, quiet,
            **{"cells": as_list(cell), "lengths": as_list(T)})


@app.command("lm")
def lm(overrides: Overrides = None, out: Out = None, fresh: Fresh = False, quiet: Quiet = False,
       cell: Annotated[Optional[str], typer.Option(help="comma-separated cells: lstm, gru, minimal, vanilla, or all "
                                                        "(= lstm, gru, minimal)")] = None,
       size: Annotated[Optional[str], typer.Option(help="small (5M parameters) | medium (20M) | all")] = None):
    """Table 1: PTB word-level language modelling."""
    run_job("lm", overrides, out, fresh, quiet, **{"cells": as_list(cell), "size": size})


@app.command("isometry")
def isometry(overrides: Overrides = None, out: Out = None, fresh: Fresh = False, quiet: Quiet = False):
    """Section 3.2.2: measured Jacobian spectra of random RNNs against chi_1^T and eq. 12."""
    run_job("isometry", overrides, out, fresh, quiet)


@app.command("bench")
def bench(overrides: Overrides = None, out: Out = None, quiet: Quiet = False,
          suite: Annotated[Optional[str], typer.Option(help="comma-separated suites: theory, rnn, sim, ensemble, "
                                                            "lm (default all)")] = None):
    """Speed benchmarks, reported as ratios measured in one process (always measured afresh)."""
    path = run_job("bench", overrides, out, True, quiet, **{"suites": as_list(suite)})
    typer.echo((path / "bench.md").read_text())


@app.command("report")
def report(results: Annotated[str, typer.Option(help="results folder to read (it must exist)")] = "results"):
    """Write results/REPORT.md: every reproduced number beside the paper's, from the CSVs only."""
    from experiments.report import write_report
    from experiments.runs import check_results_dir

    path, warnings = write_report(check_results_dir(results), with_warnings=True)
    for warning in warnings:
        typer.echo(f"rnnmf: warning: {warning}", err=True)
    typer.echo(f"report: {path}")
