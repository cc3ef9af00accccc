"""Every job's figures, drawn from its run folder's CSVs alone; ``rnnmf plot RUN_DIR`` redraws them.

One module per figure, each a ``plot(out_dir) -> list[Path]`` that reads the CSVs it names and nothing else: no
``config.yaml``. What a figure needs beyond the measurements is written by the job into a small CSV of its own
(Fig. 1's Σ12 schedule in ``schedule.csv``; the μ_b the isometry panels show in ``conditions.csv``; Fig. 2's metric
is a column of ``boundary.csv``). The markdown beside a figure (``note.md``, ``table.md``, ``table1.md``) is drawn
the same way and redrawn with it.

Why a package rather than a function in each job module: figure code is the longest part of a job (a third of
isometry's), it needs matplotlib where the job's computation does not, and apart a job module reads grid → run →
rows → summarize. A figure module may use its job's names (column lists, ``summarize``) but is handed only the run
folder, never a config. A job ends its ``run`` with :func:`draw`, the same call ``rnnmf plot`` makes, so a figure
drawn after a run and one redrawn later are drawn by one code path; :data:`FIGURES` says which module draws which
job's outputs, so adding a job with figures is one line here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from rnnmf.errors import RnnmfError


@dataclass(frozen=True)
class Drawing:
    """What redraws one job's outputs: ``experiments.figures.<module>``'s functions ``draws``, each taking the run
    folder and returning the paths it wrote, from the CSVs ``reads`` (every one must hold rows)."""

    module: str
    reads: tuple[str, ...]
    draws: tuple[str, ...] = ("plot",)

    def draw(self, run_dir: Path) -> list[Path]:
        module = importlib.import_module(f"experiments.figures.{self.module}")
        paths: list[Path] = []
        for name in self.draws:
            out = getattr(module, name)(run_dir)
            paths += [out] if isinstance(out, Path) else list(out or [])
        return paths


FIGURES: dict[str, Drawing] = {
    "mf_vs_mc": Drawing("fig1", ("dynamics.csv", "fixed_points.csv", "timescales.csv", "schedule.csv")),
    "isometry": Drawing("isometry", ("spectra.csv", "slopes.csv", "conditions.csv"), ("plot", "write_note")),
    "trainability": Drawing("fig2", ("points.csv",)),
    "memory_probe": Drawing("probe", ("curves.csv", "tmax.csv")),
    "seqmnist": Drawing("fig3", ("curves.csv",), ("plot", "write_table")),
    "lm": Drawing("lm", ("epochs.csv",), ("plot", "write_table")),
    "theory_phase": Drawing("phase", ("phase.csv",)),
    "gated_phase": Drawing("phase", ("phase.csv",)),
    "gated_mf_vs_mc": Drawing("gated", ("dynamics.csv", "fixed_points.csv", "jacobian.csv", "schedule.csv")),
    "gated_seqmnist": Drawing("gated_seqmnist", ("curves.csv",), ("plot", "write_table")),
}


def draw(job: str, run_dir: str | Path) -> list[Path]:
    """Draw ``job``'s figures (and the markdown beside them) in ``run_dir`` from its CSVs; the paths written."""
    return FIGURES[job].draw(Path(run_dir))


# ------------------------------------------------------------------------------------------- rnnmf plot RUN_DIR
def job_of(run_dir: Path) -> str:
    """The job that made ``run_dir``: ``meta.json``'s ``job``; for folders made before it was recorded, the folder
    above (``results/<job>/``), else the one job whose figures' CSVs are all there (the most specific match)."""
    from experiments.config import job_names
    from rnnmf.io import read_json

    meta = read_json(run_dir / "meta.json", {})
    job = meta.get("job") if isinstance(meta, dict) else None
    if job:
        return str(job)
    if run_dir.resolve().parent.name in job_names():
        return run_dir.resolve().parent.name
    present = {p.name for p in run_dir.glob("*.csv")}
    fits = sorted((job for job, d in FIGURES.items() if set(d.reads) <= present),
                  key=lambda j: -len(FIGURES[j].reads))
    if not fits:
        raise RnnmfError(f"cannot tell which job made run folder {str(run_dir)!r} (its meta.json names none and its "
                         f"CSVs are {', '.join(sorted(present)) or 'none'}); valid: a run folder rnnmf made")
    return fits[0]


def check_run_dir(path: str | Path) -> tuple[Path, str]:
    """``path`` as (run folder, job) if its figures can be drawn, else one RnnmfError line saying why."""
    import os

    text = os.fspath(path)
    run_dir = Path(text)
    example = "valid: a run folder rnnmf made, e.g. results/mf_vs_mc/quick-1a2b3c4d"
    if not text.strip() or not run_dir.exists():
        raise RnnmfError(f"run folder {text!r} does not exist; {example}")
    if not run_dir.is_dir():
        raise RnnmfError(f"run folder {text!r} is a file; {example}")
    if not (run_dir / "meta.json").exists() and not (run_dir / "config.yaml").exists():  # old runs: config only
        runs = sorted({str(p.parent.relative_to(run_dir)) for pattern in ("*/meta.json", "*/*/meta.json")
                       for p in run_dir.glob(pattern)})
        if runs:
            raise RnnmfError(f"{text!r} is a folder of runs ({', '.join(runs[:3])}{', ...' if len(runs) > 3 else ''})"
                             f", not one run; valid: one of them, e.g. {str(run_dir / runs[0])!r}")
        raise RnnmfError(f"{text!r} is not an rnnmf run folder (no meta.json or config.yaml); {example}")
    job = job_of(run_dir)
    if job not in FIGURES:
        raise RnnmfError(f"run folder {text!r} is a run of job {job!r}, which draws no figures; valid: a run of "
                         f"{', '.join(sorted(FIGURES))}")
    return run_dir, job


def redraw(path: str | Path) -> list[Path]:
    """Redraw every figure (and the markdown beside it) of the run folder ``path`` from its CSVs; the paths written.
    A run folder is rnnmf's, so its figures are overwritten; nothing is written outside it."""
    from rnnmf.io import read_rows

    run_dir, job = check_run_dir(path)
    drawing = FIGURES[job]
    for name in drawing.reads:
        csv = run_dir / name
        if not csv.exists():
            raise RnnmfError(f"run folder {str(run_dir)!r} ({job}) has no {name}, which its figures are drawn from; "
                             "valid: a run that has written it (run the command in its meta.json again: finished "
                             "work is kept, and a run made before the file existed gains it)")
        try:
            empty = read_rows(csv).empty
        except Exception as exc:  # noqa: BLE001 - random bytes, a broken quote: one line, not a traceback
            raise RnnmfError(f"{str(csv)!r} is unreadable ({type(exc).__name__}); valid: the CSV the {job} job "
                             "wrote") from None
        if empty:
            raise RnnmfError(f"run folder {str(run_dir)!r} ({job}) has no rows in {name} yet, which its figures are "
                             f"drawn from; valid: a run that has written some (run the command in its meta.json "
                             "again: finished work is kept)")
    try:
        return draw(job, run_dir)
    except KeyError as exc:
        raise RnnmfError(f"the CSVs of run folder {str(run_dir)!r} lack column {exc} that the {job} job writes; "
                         "valid: CSVs as the job wrote them") from None
