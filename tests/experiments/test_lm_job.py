"""`rnnmf lm` end to end on a tiny synthetic PTB: outputs, resumption after real interruptions, bad input, the sweep."""

from __future__ import annotations

import functools
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from experiments import schema
from experiments.config import compose_config
from experiments.runner import execute
from rnnmf.io import read_rows
from rnnmf.lm import solve_hidden

REPO = Path(__file__).resolve().parents[2]
VOCAB = [f"w{i}" for i in range(24)] + ["<unk>"]
runner = CliRunner()


def write_tiny_ptb(root: Path, seed: int = 0) -> Path:
    """Sentences that mostly step through the word list (learnable), in Mikolov's file layout; 25 words + <eos>."""
    rng = random.Random(seed)

    def lines(n: int) -> str:
        out = []
        for _ in range(n):
            i = rng.randrange(len(VOCAB))
            words = []
            for _ in range(rng.randint(4, 12)):
                words.append(VOCAB[i])
                i = (i + 1) % len(VOCAB) if rng.random() < 0.8 else rng.randrange(len(VOCAB))
            out.append(" " + " ".join(words) + " \n")
        return "".join(out)

    folder = root / "ptb"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ptb.train.txt").write_text(" " + " ".join(VOCAB) + " \n" + lines(300))  # every word in train
    (folder / "ptb.valid.txt").write_text(lines(40))
    (folder / "ptb.test.txt").write_text(lines(40))
    return root


@pytest.fixture
def ptb_root(tmp_path) -> Path:
    return write_tiny_ptb(tmp_path / "data")


def overrides(root: Path, *extra: str) -> list[str]:
    """The smoke profile on the tiny corpus: MD5 verification off (test-only key), a budget that fits 26 words."""
    return ["profile=smoke", f"data.root={root}", "verify_md5=false", "download=false", "sizes.small.params=4000",
            "run.quiet=true", *extra]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def assert_one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("rnnmf: error:"), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def numbers(out: Path) -> tuple[str, str]:
    """epochs.csv and summary.csv without the timing columns: what must be identical after a resume."""
    timing = ["tokens_per_s", "wall_s"]
    return (read_rows(out / "epochs.csv").drop(columns=timing).to_csv(index=False),
            read_rows(out / "summary.csv").drop(columns=timing).to_csv(index=False))


# --------------------------------------------------------------------------------------------- end to end
def test_cli_end_to_end_at_smoke(ptb_root, tmp_path):
    out = tmp_path / "run"
    result = invoke("lm", "--cell", "minimal", "--size", "small", *overrides(ptb_root), "--out", str(out))
    assert result.exit_code == 0, result.output
    hidden, count = solve_hidden("minimal", 4000, len(VOCAB) + 1)  # + <eos>
    assert f"lm: minimal small: hidden {hidden}, {count:,} parameters (budget 4,000, vocabulary 26)" in result.stdout
    assert re.search(r"minimal_small_test_ppl\s+\d", result.stdout) and f"results: {out}" in result.stdout
    epochs = read_rows(out / "epochs.csv")
    assert list(epochs.columns) == ["cell", "size", "init", "hidden", "params", "epoch", "lr", "train_ppl", "valid_ppl",
                                    "tokens_per_s", "wall_s", "seed", "status"]
    assert epochs["epoch"].tolist() == [1, 2] and epochs["lr"].tolist() == [1.0, 0.65]  # smoke: max_epoch 1, decay 0.65
    assert set(epochs["params"]) == {count} and set(epochs["hidden"]) == {hidden}
    summary = read_rows(out / "summary.csv").iloc[0]
    assert summary["cell"] == "minimal" and summary["status"] == "ok" and summary["epochs"] == 2
    assert 1.0 < summary["test_ppl"] < 26 * 2 and summary["valid_ppl"] == epochs["valid_ppl"].iloc[-1]
    assert summary["paper_test_ppl"] == 101.4
    table = (out / "table1.md").read_text()
    assert "| minimal | small |" in table and "101.4" in table
    assert (out / "lm_curves.png").stat().st_size > 0 and (out / "lm_curves.pdf").exists()
    assert (out / "checkpoints" / "minimal-small.pt").exists()
    # the same command again resumes: nothing is retrained and no row is duplicated
    again = invoke("lm", "--cell", "minimal", "--size", "small", *overrides(ptb_root), "--out", str(out))
    assert again.exit_code == 0 and "parameters" not in again.stdout
    assert len(read_rows(out / "epochs.csv")) == 2 and len(read_rows(out / "summary.csv")) == 1


def test_all_cells_learn_the_tiny_corpus(ptb_root, tmp_path):
    """cell=all trains the paper's three rows; each beats the uniform model (perplexity 26) clearly."""
    summary, out = execute("lm", overrides(ptb_root, "max_batches=null", "sizes.small.epochs=8",
                                           "sizes.small.max_epoch=6", "sizes.small.bptt=10"), out=tmp_path / "all")
    df = read_rows(out / "summary.csv")
    assert df["cell"].tolist() == ["lstm", "gru", "minimal"]
    assert (df["test_ppl"] < 15).all() and (df["valid_ppl"] < 15).all(), df
    assert summary["small_minimal_vs_gru_tokens_per_s"] > 0


# --------------------------------------------------------------------------------------------- resumption
class Interrupt(Exception):
    pass


@pytest.mark.parametrize("where", ["after_checkpoint", "between_row_and_checkpoint"])
def test_interrupted_run_resumes_to_identical_numbers(ptb_root, tmp_path, monkeypatch, where):
    """Kill the job in the middle of the second cell (dropout on, so the restored RNG matters), re-run, compare."""
    import experiments.lm as job
    import rnnmf.train as train

    ovs = overrides(ptb_root, "cells=[all]", "sizes.small.epochs=3", "sizes.small.dropout=0.3")
    execute("lm", ovs, out=tmp_path / "full")

    calls = {"n": 0}
    if where == "after_checkpoint":  # fit's checkpoints: lstm at steps 0, 1, 2, 3 epochs; then gru at 0 and 1 epoch
        real = train.save_checkpoint

        def flaky(path, state):
            real(path, state)
            calls["n"] += 1
            if calls["n"] == 6:
                raise Interrupt

        monkeypatch.setattr(train, "save_checkpoint", flaky)
    else:  # the 5th epoch row (gru epoch 2) is written, then the process dies before that epoch's checkpoint
        real = job.append_rows

        def flaky(path, rows, columns):
            n = real(path, rows, columns)
            if Path(path).name == "epochs.csv":
                calls["n"] += 1
                if calls["n"] == 5:
                    raise Interrupt
            return n

        monkeypatch.setattr(job, "append_rows", flaky)
    with pytest.raises(Interrupt):
        execute("lm", ovs, out=tmp_path / "resumed")
    assert len(read_rows(tmp_path / "resumed" / "summary.csv")) == 1  # lstm finished, gru in flight
    monkeypatch.undo()
    execute("lm", ovs, out=tmp_path / "resumed")
    assert numbers(tmp_path / "resumed") == numbers(tmp_path / "full")
    assert len(read_rows(tmp_path / "resumed" / "epochs.csv")) == 9


@pytest.mark.slow
def test_sigkilled_process_resumes_to_identical_numbers(ptb_root, tmp_path):
    """A real `rnnmf lm` process killed with SIGKILL after its second epoch, then run again."""
    ovs = overrides(ptb_root, "cells=[gru]", "sizes.small.epochs=12", "sizes.small.max_epoch=6", "max_batches=null",
                    "sizes.small.bptt=5", "sizes.small.dropout=0.2")
    execute("lm", ovs, out=tmp_path / "full")
    out = tmp_path / "killed"
    cmd = [sys.executable, "-c", "from cli.main import main; main()", "lm", *ovs, "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(read_rows(out / "epochs.csv")) < 2:
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = len(read_rows(out / "epochs.csv"))
    assert 2 <= killed_at < 12
    subprocess.run(cmd, cwd=tmp_path, env=env, check=True, capture_output=True)
    assert numbers(out) == numbers(tmp_path / "full")


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("args,fragment", [
    (["--cell", "rnn"], "cells=['rnn'] is invalid ('rnn' is not); valid: a non-empty list from lstm, gru, minimal, "
                        "vanilla, all"),
    (["--size", "large"], "size='large' is invalid; valid: one of small, medium, all"),
    (["clip=0"], "clip=0 is invalid"),
    (["sizes.small.lr_decay=1.5"], "sizes.small.lr_decay=1.5 is invalid"),
    (["clip=null"], "clip=null is invalid; valid: a finite number > 0"),  # issue 14 item 6: a traceback before
    (["batch_size=null"], "batch_size=null is invalid"),
    (["sizes.small.params=1000000000000"], "a small model needs about"),
])
def test_bad_input_is_one_line_exit_2_and_leaves_no_folder(ptb_root, tmp_path, args, fragment):
    result = invoke("lm", *overrides(ptb_root), *args)  # args last: they win over the smoke overrides
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "results").exists()


def test_wrong_md5_names_the_file(ptb_root, tmp_path):
    ovs = [o for o in overrides(ptb_root) if o != "verify_md5=false"]
    line = assert_one_line_error(invoke("lm", "--cell", "gru", *ovs), "has MD5", "expected")
    assert str(ptb_root / "ptb" / "ptb.train.txt") in line
    assert not (tmp_path / "results" / "lm").exists()  # the run folder made for it is removed again


def test_unknown_word_in_valid_names_the_file(ptb_root, tmp_path):
    with open(ptb_root / "ptb" / "ptb.valid.txt", "a") as f:
        f.write(" w1 zebra w2 \n")
    line = assert_one_line_error(invoke("lm", "--cell", "gru", *overrides(ptb_root)), "word 'zebra'")
    assert str(ptb_root / "ptb" / "ptb.valid.txt") in line


@pytest.mark.parametrize("split", ["train", "valid", "test"])
@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_an_empty_split_is_named_before_any_training(ptb_root, tmp_path, split, content):
    """Issue 14 item 8: an empty ptb.test.txt was found after two epochs, in a message naming no file."""
    (ptb_root / "ptb" / f"ptb.{split}.txt").write_text(content)
    line = assert_one_line_error(invoke("lm", "--cell", "minimal", *overrides(ptb_root)), "has no words")
    assert str(ptb_root / "ptb" / f"ptb.{split}.txt") in line
    assert not (tmp_path / "results").exists()  # refused before the run folder exists


def test_missing_corpus_says_where_to_put_it(tmp_path):
    result = invoke("lm", "--cell", "gru", *overrides(tmp_path / "nowhere"))
    assert_one_line_error(result, "PTB not found", "ptb.train.txt", str(tmp_path / "nowhere" / "ptb"))


# ---------------------------------------------------------------------------------------------------- search
def test_grid_search_trains_each_distinct_run_once(ptb_root, tmp_path):
    """Grid method: every point to the end; points whose schedules agree (max-epoch beyond the end) share one run."""
    ovs = overrides(ptb_root, "cells=[minimal]", "sweep.enabled=true", "sweep.method=grid", "sweep.lr=[0.5,1.0]",
                    "sweep.max_epoch=[2,3]", "sweep.lr_decay=[0.5]", "sweep.dropout=[0.0,0.3]")
    summary, out = execute("lm", ovs, out=tmp_path / "sweep")
    df = read_rows(out / "sweep.csv")
    assert len(df) == 8 and summary["points"] == 8 and summary["runs"] == 4  # smoke: 2 epochs, max-epoch 2 = 3
    assert (df["rung"] == "final").all() and (df["epochs"] == 2).all() and df["test_ppl"].notna().all()
    shared = df[df["shared_with"].notna()]
    assert len(shared) == 4 and (shared["max_epoch"] == 3).all()
    for r in shared.to_dict("records"):  # a shared row carries exactly its run's numbers
        first = df[(df["lr"] == r["lr"]) & (df["dropout"] == r["dropout"]) & (df["max_epoch"] == 2)].iloc[0]
        assert r["valid_ppl"] == first["valid_ppl"] and r["test_ppl"] == first["test_ppl"]
    assert "minimal_small_best_valid_ppl" in summary
    again, _ = execute("lm", ovs, out=tmp_path / "sweep")
    assert again["minimal_small_best"] == summary["minimal_small_best"] and len(read_rows(out / "sweep.csv")) == 8


def test_halving_promotes_the_best_third_and_continues_their_checkpoints(ptb_root, tmp_path):
    """rungs [1]: 12 points (4 distinct one-epoch runs) ranked after epoch 1, the best 4 trained to epoch 2 from their
    own checkpoints; only the final rung is scored on the test split; the winner is the best final valid ppl."""
    ovs = overrides(ptb_root, "cells=[minimal]", "sweep.enabled=true", "sweep.rungs=[1]", "sweep.eta=3",
                    "sweep.lr=[0.1,1.0]", "sweep.max_epoch=[1,2]", "sweep.lr_decay=[0.5,0.65,0.8]",
                    "sweep.dropout=[0.0,0.3]")
    summary, out = execute("lm", ovs, out=tmp_path / "halving")
    df = read_rows(out / "sweep.csv")
    first, final = df[df["rung"] == "1"], df[df["rung"] == "final"]
    assert len(first) == 24 and summary["points"] == 24
    assert first["shared_with"].isna().sum() == 4  # one run per (lr, dropout) at one epoch
    assert first["test_ppl"].isna().all() and (first["epochs"] == 1).all()
    assert len(final) == 8 and final["test_ppl"].notna().all() and (final["epochs"] == 2).all()
    cut = sorted(first["valid_ppl"])[7]
    promoted = first.merge(final[["lr", "max_epoch", "lr_decay", "dropout"]], on=["lr", "max_epoch", "lr_decay",
                                                                                  "dropout"])
    assert len(promoted) == 8 and (promoted["valid_ppl"] <= cut).all()
    best = final.sort_values("valid_ppl").iloc[0]
    assert summary["minimal_small_best_valid_ppl"] == round(best["valid_ppl"], 2)
    # a promoted point continued its epoch-1 checkpoint: the same as training its schedule straight to 2 epochs
    lr, me, dec, dp = (best[k] for k in ("lr", "max_epoch", "lr_decay", "dropout"))
    _, d_out = execute("lm", overrides(ptb_root, "cells=[minimal]", f"sizes.small.lr={lr}",
                                            f"sizes.small.max_epoch={me}", f"sizes.small.lr_decay={dec}",
                                            f"sizes.small.dropout={dp}"), out=tmp_path / "direct")
    straight = read_rows(d_out / "summary.csv").iloc[0]["valid_ppl"]
    assert abs(straight - best["valid_ppl"]) <= 8 * 2.2e-16 * straight  # the same computation on the same machine


def test_search_workers_honour_run_threads_and_the_slurm_cluster(ptb_root, tmp_path, monkeypatch):
    """lm's search goes through the one sweep wiring: a worker (here submitit's local cluster, a process of its own,
    and this process) trains on run.threads threads, and run.slurm.cluster reaches submitit."""
    import torch

    from experiments import lm, lm_search, sweep

    seen = {}
    cfg = compose_config("lm", overrides(ptb_root, "cells=[minimal]", "sweep.enabled=true", "run.threads=1",
                                         "run.slurm.cluster=debug", "run.executor=submitit"))
    monkeypatch.setattr(lm, "train_one", lambda *a, **k: seen.setdefault("threads", torch.get_num_threads()) and {
        "epochs": 1, "hidden": 1, "params": 1, "valid_ppl": 1.0, "test_ppl": 1.0, "seed": 0, "status": "ok",
        "eval_s": 0.0})
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:  # what a worker runs: the batch function with the config rebuilt from plain data, on run.threads threads
        point = {**lm_search.points(cfg)[0], "rung": 1}
        train = functools.partial(sweep._with_settings, functools.partial(lm_search.train_rung, out_dir=str(tmp_path)),
                                  schema.plain(cfg))
        sweep._run_batch(train, [point], threads=cfg.run.threads)
        assert torch.get_num_threads() == 2  # restored for whatever this process runs next
    finally:
        torch.set_num_threads(before)
    assert seen["threads"] == 1

    def fake_run_sweep(points, train, **kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt  # enough: the wiring is what is checked
    monkeypatch.setattr(sweep, "run_sweep", fake_run_sweep)
    with pytest.raises(KeyboardInterrupt):
        lm_search.run(cfg, tmp_path / "search")
    assert seen["cluster"] == "debug" and seen["slurm"]["cluster"] == "debug" and seen["executor"] == "submitit"
    assert seen["threads"] == 1 and seen["jobs"] == 1


@pytest.mark.parametrize("args,fragment", [
    (["sweep.method=random"], "sweep.method='random' is invalid"),
    (["sweep.rungs=[4,1]"], "sweep.rungs=[4, 1] is invalid"),
    (["sweep.eta=1"], "sweep.eta=1 is invalid"),
    (["sweep.lr=[]"], "sweep.lr=[] is invalid; valid: a non-empty list"),
    (["critical.q_star=null"], "critical.q_star=null is invalid"),
    (["init=null"], "init=null is invalid"),
    (["init=he"], "init='he' is invalid; valid: one of uniform, critical"),
])
def test_bad_search_settings_are_refused(ptb_root, tmp_path, args, fragment):
    result = invoke("lm", "--cell", "minimal", *overrides(ptb_root, "sweep.enabled=true", *args))
    assert_one_line_error(result, fragment)


def test_critical_init_puts_the_minimal_layer_at_chi_1(ptb_root, tmp_path):
    summary, out = execute("lm", overrides(ptb_root, "cells=[minimal]", "init=critical"), out=tmp_path / "crit")
    row = read_rows(out / "summary.csv").iloc[0]
    assert row["init"] == "critical" and row["status"] == "ok" and 0 < row["R"] < 1
    from rnnmf.theory import critical_minimal, minimal

    ref = critical_minimal(q_star=5.0, mu_b=4.0, R=float(row["R"]))
    assert abs(row["sigma_w_sq"] - ref.sigma_w_sq) <= 1e-9 * ref.sigma_w_sq
    assert abs(minimal.chi_1(row["sigma_w_sq"] ** 0.5, row["sigma_v_sq"] ** 0.5, row["R"], mu_b=4.0) - 1) < 1e-8
    assert "minimal_small_critical_test_ppl" in summary


@pytest.mark.parametrize("cell,gate", [("gru", "mu_z"), ("lstm", "mu_f")])
def test_critical_init_puts_torch_gated_layers_at_chi_1(ptb_root, tmp_path, cell, gate):
    """Beyond the paper (issue 19): torch's GRU/LSTM at chi_1 = 1 (eq. 26 of docs/gated-mean-field.md) for the R the
    embedding gives, the memory gate's bias at critical.mu_b and every input pre-activation at unit variance."""
    summary, out = execute("lm", overrides(ptb_root, f"cells=[{cell}]", "init=critical", "critical.mu_b=2.0"),
                           out=tmp_path / "crit")
    row = read_rows(out / "summary.csv").iloc[0]
    assert row["init"] == "critical" and row["status"] == "ok" and 0 < row["R"] < 1
    assert abs(row["sigma_v_sq"] * row["R"] - 1) < 1e-12  # unit input power per gate
    from rnnmf.theory.critical import _gated_chi_1

    chi_1, Q_star = _gated_chi_1(cell, float(row["R"]), {"sigma_w": row["sigma_w_sq"] ** 0.5,
                                                          "sigma_v": row["sigma_v_sq"] ** 0.5, "sigma_b": 0.0,
                                                          gate: 2.0})
    assert abs(chi_1 - 1) < 1e-8 and abs(Q_star - row["Q_star"]) <= 1e-8 * Q_star
    assert f"{cell}_small_critical_test_ppl" in summary


# ---------------------------------------------------------------------------------------------- real data
@pytest.mark.slow
def test_smoke_on_the_real_ptb(data_root, tmp_path):
    """The real corpus (MD5-verified): vocabulary 10,000, the paper's 5M budget, a few windows per epoch."""
    summary, out = execute("lm", ["profile=smoke", f"data.root={data_root}", "cells=[minimal]", "run.quiet=true"],
                           out=tmp_path / "real")
    assert summary["minimal_small_hidden"] == 241 and summary["minimal_small_params"] == 5_004_484
    epochs = read_rows(out / "epochs.csv")
    assert len(epochs) == 2 and (epochs["valid_ppl"] < 10_000 * 1.5).all()
