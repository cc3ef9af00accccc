"""The tuning search of Table 1 (SI F): the paper's grid of learning rate, max-epoch, decay and dropout, searched by
successive halving on validation perplexity through the shared sweep runner (``experiments.sweep``).

``rnnmf lm sweep.enabled=true`` (``sweep.method=halving``, the default):

1. Every grid point of every requested (cell, size) trains ``rungs[0]`` epochs of its own schedule; the points are
   ranked by validation perplexity and the best ceil(n / eta) go on to ``rungs[1]`` epochs, resuming their own
   checkpoints, and so on. The survivors of the last rung train to the end of the size's schedule (``sizes.<size>
   .epochs``, the same budget for every point) and only they are scored on the test split: the choice is made on
   validation alone.
2. Points whose runs are identical up to a rung (same cell, size, dropout, and the same learning rate in every epoch
   so far: before max-epoch the decay does not matter) share ONE training run. The first point of such a group in
   grid order trains; the others receive a copy of its checkpoint and a row marked ``shared_with`` its tag. At one
   epoch the paper's 216 points per cell are 24 runs (6 rates x 4 dropouts). Sharing needs the learning rate to be
   set from the schedule at each epoch's start (``rnnmf.lm.train_lm`` does), not carried in the optimiser.
3. ``sweep.csv`` keeps a row for every (point, rung): its epochs, validation perplexity, test perplexity (final rung
   only) and status, so the choice can be audited. Ties (points sharing a run) are broken by grid order.

``sweep.method=grid`` trains every point to the end (the final rung only), still sharing identical runs.

Everything resumes: the runner skips (point, rung) rows already in ``sweep.csv``; a point's checkpoint holds its
training to the last finished rung, and a shared run's copies are made before the next rung starts.
"""

from __future__ import annotations

import functools
import itertools
import math
import shutil
from pathlib import Path

from experiments.settings.lm import cells, sizes
from rnnmf.io import append_rows, finished_keys, read_rows, row_key
from rnnmf.lm import lr_at, median_tokens_per_s

HYPER = ("lr", "max_epoch", "lr_decay", "dropout")  # the SI F grid
SWEEP_KEY = ["cell", "size", *HYPER, "rung"]
SWEEP_COLUMNS = [*SWEEP_KEY, "epochs", "hidden", "params", "valid_ppl", "test_ppl", "shared_with", "tokens_per_s",
                 "wall_s", "seed", "status"]
FINAL = "final"  # the rung of the survivors' full runs


def points(cfg) -> list[dict]:
    """The grid for every requested (cell, size), in grid order (the order that breaks ties)."""
    grid = [list(cfg.sweep[k]) for k in HYPER]
    return [{"cell": cell, "size": size, **dict(zip(HYPER, values, strict=True))}
            for size in sizes(cfg) for cell in cells(cfg) for values in itertools.product(*grid)]


def tag(point: dict) -> str:
    return "-".join(str(point[k]) for k in ("cell", "size", *HYPER))


def checkpoint(out_dir: Path, point: dict) -> Path:
    return Path(out_dir) / "checkpoints" / f"sweep-{tag(point)}.pt"


def run_identity(point: dict, epochs: int) -> tuple:
    """What a run of ``epochs`` epochs depends on: points with equal identities train identically."""
    rates = tuple(lr_at(e, point["lr"], point["max_epoch"], point["lr_decay"]) for e in range(1, epochs + 1))
    return point["cell"], point["size"], point["dropout"], rates


def rung_epochs(cfg, point: dict, rung) -> int:
    full = int(cfg.sizes[point["size"]].epochs)
    return full if rung == FINAL else min(int(rung), full)


def train_rung(cfg, batch: list[dict], *, out_dir: str) -> list[dict]:
    """The sweep runner's ``train_batch`` (in this process, a pool worker or a Slurm job): continue each point's own
    checkpoint to its rung's epochs."""
    from experiments.lm import hyper, load_corpus, setup, train_one

    device = setup(cfg)
    corpus = load_corpus(cfg)
    rows = []
    for point in batch:
        epochs = rung_epochs(cfg, point, point["rung"])
        hp = hyper(cfg, point["size"], **{k: point[k] for k in HYPER}, epochs=epochs)
        epoch_rows: list[dict] = []
        out = train_one(cfg, corpus, device, point["cell"], point["size"], hp, checkpoint(Path(out_dir), point),
                        epoch_rows.append, test=point["rung"] == FINAL)
        rows.append({**point, "epochs": out["epochs"], "hidden": out["hidden"], "params": out["params"],
                     "valid_ppl": out["valid_ppl"], "test_ppl": out["test_ppl"], "shared_with": "",
                     "tokens_per_s": median_tokens_per_s(r["tokens_per_s"] for r in epoch_rows),
                     "wall_s": sum(r["wall_s"] for r in epoch_rows) + out["eval_s"], "seed": out["seed"],
                     "status": out["status"]})
    return rows


def share(out_dir: Path, csv_path: Path, groups: list[list[dict]], rung) -> None:
    """Give every member of a shared run its own copy of the run's checkpoint, then its row (in that order, so a
    member with a row always has its checkpoint)."""
    done = finished_keys(csv_path, SWEEP_KEY)
    rows = {row_key(r, SWEEP_KEY): r for r in read_rows(csv_path).to_dict("records")}
    for first, *members in groups:
        source = rows[row_key({**first, "rung": rung}, SWEEP_KEY)]
        for member in members:
            key = row_key({**member, "rung": rung}, SWEEP_KEY)
            if key in done:
                continue
            src, dst = checkpoint(out_dir, first), checkpoint(out_dir, member)
            if src.exists():
                tmp = dst.with_name(dst.name + ".copy")
                shutil.copyfile(src, tmp)
                tmp.replace(dst)
            append_rows(csv_path, [{**source, **member, "rung": rung, "shared_with": tag(first)}], SWEEP_COLUMNS)


def survivors(csv_path: Path, alive: list[dict], rung, eta: int) -> list[dict]:
    """The best ceil(n / eta) of ``alive`` by validation perplexity at ``rung`` (diverged and non-finite last)."""
    rows = {row_key(r, SWEEP_KEY): r for r in read_rows(csv_path).to_dict("records")}

    def score(i_point):
        i, point = i_point
        r = rows[row_key({**point, "rung": rung}, SWEEP_KEY)]
        ppl = float(r["valid_ppl"])
        return (0 if r["status"] == "ok" and math.isfinite(ppl) else 1, ppl if math.isfinite(ppl) else 0.0, i)

    ranked = sorted(enumerate(alive), key=score)
    return [p for _, p in ranked[: max(1, math.ceil(len(alive) / eta))]]


def run(cfg, out_dir: Path) -> dict:
    from experiments.sweep import sweep

    out_dir = Path(out_dir)
    csv_path = out_dir / "sweep.csv"
    rungs = [*list(cfg.sweep.rungs), FINAL] if cfg.sweep.method == "halving" else [FINAL]
    alive = points(cfg)
    train = functools.partial(train_rung, out_dir=str(out_dir))
    totals = {"points": len(alive), "runs": 0}
    for rung in rungs:
        groups: dict[tuple, list[dict]] = {}
        for p in alive:
            groups.setdefault(run_identity(p, rung_epochs(cfg, p, rung)), []).append(p)
        firsts = [{**g[0], "rung": rung} for g in groups.values()]
        totals["runs"] += len(firsts)
        sweep(cfg, firsts, train, csv_path=csv_path, columns=SWEEP_COLUMNS, key_columns=SWEEP_KEY, batch_size=1,
              desc=f"lm search, rung {rung}")
        share(out_dir, csv_path, list(groups.values()), rung)
        if rung != FINAL:
            alive = survivors(csv_path, alive, rung, int(cfg.sweep.eta))
    return {**totals, **summarize(out_dir)}


def summarize(out_dir: Path) -> dict:
    """The winner of each (cell, size): the final-rung point with the lowest validation perplexity."""
    df = read_rows(Path(out_dir) / "sweep.csv")
    summary: dict = {}
    if not len(df):
        return summary
    final = df[df["rung"].astype(str) == FINAL]
    for (cell, size), d in final.groupby(["cell", "size"]):
        best = d.sort_values("valid_ppl").iloc[0]
        summary[f"{cell}_{size}_best_valid_ppl"] = round(float(best["valid_ppl"]), 2)
        summary[f"{cell}_{size}_best_test_ppl"] = round(float(best["test_ppl"]), 2)
        summary[f"{cell}_{size}_best"] = ", ".join(f"{k}={best[k]}" for k in HYPER)
    return summary
