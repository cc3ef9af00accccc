"""Table 1: single-layer LSTM, GRU and minimalRNN language models on the Penn Treebank at 5M and 20M parameters.

``rnnmf lm --cell minimal --size small`` (``cells=[minimal] size=small``) trains one model per (cell, size) with
Zaremba et al.'s (2014) schedule (`rnnmf.lm.train_lm`), the hidden size solved so that the whole model lands on the
budget. It writes, in the run folder:

- ``epochs.csv``: one row per finished epoch (cell, size, hidden, params, epoch, lr, train_ppl, valid_ppl,
  tokens_per_s, wall_s, seed, status);
- ``summary.csv``: one row per trained model, with the final valid and test perplexity beside the paper's;
- ``table1.md``: that table in markdown, and ``lm_curves.png/.pdf``: validation perplexity per epoch (drawn from the
  CSVs alone by ``experiments.figures.lm``);
- ``checkpoints/<cell>-<size>.pt`` after every epoch: running the same command again resumes from the last one and
  ends with the same numbers as an uninterrupted run.

``sweep.enabled=true`` instead searches the paper's tuning grid (SI F: learning rate, max-epoch, decay, dropout) by
successive halving on validation perplexity (``experiments.lm_search``), one row per point and rung in ``sweep.csv``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from omegaconf import OmegaConf

from experiments.claims import PAPER_PPL
from experiments.figures import draw
from experiments.settings.lm import cells, sizes
from rnnmf.io import append_rows, finished_keys, read_rows, row_key
from rnnmf.lm import (
    BUDGETS,
    RNNLM,
    evaluate_lm,
    median_tokens_per_s,
    n_params,
    solve_hidden,
    train_lm,
    window_starts,
)

INITS = ("uniform", "critical")
CRITICAL_COLUMNS = ["R", "sigma_x", "sigma_w_sq", "sigma_v_sq", "Q_star"]  # what init=critical used (empty for uniform)
EPOCH_COLUMNS = ["cell", "size", "init", "hidden", "params", "epoch", "lr", "train_ppl", "valid_ppl", "tokens_per_s",
                 "wall_s", "seed", "status"]
SUMMARY_COLUMNS = ["cell", "size", "init", "hidden", "params", "epochs", "valid_ppl", "test_ppl", "paper_valid_ppl",
                   "paper_test_ppl", "tokens_per_s", "wall_s", *CRITICAL_COLUMNS, "seed", "status"]


# ---------------------------------------------------------------------------------------------------- config
def pick(row: dict, columns) -> dict:
    return {k: row[k] for k in columns if k in row}


def hyper(cfg, size: str, **override) -> dict:
    """The training settings of one size (conf/lm.yaml `sizes`), with sweep values in ``override``."""
    hp = OmegaConf.to_container(cfg.sizes[size], resolve=True)
    hp.update(override)
    return hp


# ------------------------------------------------------------------------------------------------- training
def load_corpus(cfg):
    from rnnmf.data import load_ptb

    return load_ptb(cfg.data.root, download=cfg.download, verify=cfg.verify_md5)


def train_one(cfg, corpus, device, cell: str, size: str, hp: dict, ckpt: Path, on_epoch, test: bool = True) -> dict:
    """Train (or resume from ``ckpt``) one model to the end of its schedule and score it on the test split (unless
    ``test`` is False: the search's intermediate rungs); return the summary fields.

    ``on_epoch(row)`` gets each finished epoch's row (the columns of ``epochs.csv``) before its checkpoint is written.
    """
    from rnnmf.data import batchify
    from rnnmf.runtime import seed_everything

    vocab = len(corpus.dictionary)
    hidden, count = solve_hidden(cell, int(hp["params"]), vocab)
    seed_everything(int(cfg.seed))  # per model, so a cell's numbers do not depend on what else the run trains
    model = RNNLM(cell, vocab, hidden, dropout=float(hp["dropout"]), fused=bool(cfg.fused)).to(device)
    model.init_uniform_(float(hp["init_scale"]))
    critical: dict = {}
    if cfg.init == "critical":  # chi_1 = 1 at R measured on the first 20 training windows
        from rnnmf.lm import init_critical_

        sample = batchify(corpus.train, int(cfg.batch_size), device)[: 20 * int(hp["bptt"])]
        critical = init_critical_(model, sample, q_star=float(cfg.critical.q_star), mu_b=float(cfg.critical.mu_b),
                                  weights=str(cfg.critical.weights))
        print(f"lm: {cell} {size}: critical init " + ", ".join(f"{k} {v:.4g}" for k, v in critical.items()
                                                                 if v is not None), flush=True)
    if n_params(model) != count:  # the solver's formula and the built model must agree to the parameter
        raise RuntimeError(f"{cell}: built {n_params(model)} parameters, the budget solver counted {count}")
    print(f"lm: {cell} {size}: hidden {hidden}, {count:,} parameters (budget {int(hp['params']):,}, "
          f"vocabulary {vocab:,})", flush=True)
    bptt, quiet = int(hp["bptt"]), bool(cfg.run.quiet)
    train = batchify(corpus.train, int(cfg.batch_size), device)
    valid = batchify(corpus.valid, int(cfg.batch_size), device)
    fields = {"cell": cell, "size": size, "init": str(cfg.init), "hidden": hidden, "params": count,
              "seed": int(cfg.seed)}
    res = train_lm(model, train, valid, epochs=int(hp["epochs"]), bptt=bptt, lr=float(hp["lr"]),
                   lr_decay=float(hp["lr_decay"]), max_epoch=int(hp["max_epoch"]), clip=float(cfg.clip),
                   max_batches=cfg.max_batches, max_eval_batches=cfg.max_eval_batches, checkpoint_path=ckpt,
                   on_epoch=lambda row: on_epoch(pick({**fields, **row}, EPOCH_COLUMNS)), quiet=quiet,
                   desc=f"{cell} {size}")
    diverged = bool(res.diverged)
    t0 = time.perf_counter()
    test_ppl = math.nan
    if test and not diverged:  # the final model, as Zaremba et al.; the test split with batch 1 as their code
        test_data = batchify(corpus.test, int(cfg.test_batch_size), device)
        test_ppl = evaluate_lm(model, test_data, bptt=bptt, max_batches=cfg.max_eval_batches, quiet=quiet,
                               desc=f"{cell} {size} test")["ppl"]
    windows = len(window_starts(train, bptt, cfg.max_batches))
    # the final validation perplexity is the last epoch's: fit evaluated the same final model after that epoch
    last = res.history[-1] if res.history else {}
    return {**fields, "epochs": -(-res.step // windows), "valid_ppl": last.get("valid_ppl", math.nan),
            "test_ppl": test_ppl, "eval_s": time.perf_counter() - t0, "status": "diverged" if diverged else "ok",
            **critical}


def setup(cfg):
    """Process-level settings for training: denormals flushed, the device (``run.threads`` is the runner's in this
    process, the sweep runner's in a search worker)."""
    from rnnmf.runtime import flush_denormals, pick_device

    flush_denormals()
    return pick_device(cfg.run.device)


def run(cfg, out_dir: Path) -> dict:
    out_dir = Path(out_dir)
    if cfg.sweep.enabled:
        from experiments import lm_search

        return lm_search.run(cfg, out_dir)
    device = setup(cfg)
    corpus = load_corpus(cfg)
    epochs_csv, summary_csv = out_dir / "epochs.csv", out_dir / "summary.csv"
    done = finished_keys(summary_csv, ["cell", "size"])
    for size in sizes(cfg):
        for cell in cells(cfg):
            if row_key({"cell": cell, "size": size}, ["cell", "size"]) in done:
                continue

            def on_epoch(row: dict) -> None:
                # a run killed between this append and its checkpoint redoes the epoch identically: keep one row
                if row_key(row, ["cell", "size", "epoch"]) not in finished_keys(epochs_csv, ["cell", "size", "epoch"]):
                    append_rows(epochs_csv, [row], EPOCH_COLUMNS)

            out = train_one(cfg, corpus, device, cell, size, hyper(cfg, size),
                            out_dir / "checkpoints" / f"{cell}-{size}.pt", on_epoch)
            epochs = read_rows(epochs_csv)
            mine = epochs[(epochs["cell"] == cell) & (epochs["size"] == size)]
            paper = PAPER_PPL[(cell, size)]
            append_rows(summary_csv, [pick({
                **out, "paper_valid_ppl": paper["valid"], "paper_test_ppl": paper["test"],
                "tokens_per_s": median_tokens_per_s(mine["tokens_per_s"]),
                "wall_s": float(mine["wall_s"].sum()) + out["eval_s"]}, SUMMARY_COLUMNS)], SUMMARY_COLUMNS)
    draw("lm", out_dir)
    return summarize(out_dir)


# ------------------------------------------------------------------------------------------------- outputs
def summarize(out_dir: Path) -> dict:
    """Headline numbers for the CLI: each model's test (and valid) perplexity, hidden size, count and tokens/s."""
    df = read_rows(Path(out_dir) / "summary.csv")
    summary: dict = {}
    for row in df.to_dict("records"):
        tag = f"{row['cell']}_{row['size']}" + ("" if row.get("init", "uniform") == "uniform" else f"_{row['init']}")
        summary.update({f"{tag}_test_ppl": round(row["test_ppl"], 2), f"{tag}_valid_ppl": round(row["valid_ppl"], 2),
                        f"{tag}_paper_test_ppl": row["paper_test_ppl"], f"{tag}_hidden": row["hidden"],
                        f"{tag}_params": row["params"], f"{tag}_tokens_per_s": round(row["tokens_per_s"], 1)})
    for size in BUDGETS:  # the speed claim, when one run trained both cells at the same budget
        tps = {r["cell"]: r["tokens_per_s"] for r in df.to_dict("records") if r["size"] == size} if len(df) else {}
        if "minimal" in tps and "gru" in tps:
            summary[f"{size}_minimal_vs_gru_tokens_per_s"] = round(tps["minimal"] / tps["gru"], 3)
    return summary
