"""What the job tests share: the overrides of a smoke run, a run killed part-way through, and comparing the rows of
two runs."""

from __future__ import annotations

import pytest


class Interrupt(Exception):
    """A run killed part-way through (raised inside its training loop by ``cut_at_batch``)."""


@pytest.fixture
def smoke(data_root):
    """``smoke(*extra)``: the overrides of a quiet profile-smoke run on the shared data, then ``extra`` (the test
    skips where the data are not there)."""
    return lambda *extra: ["profile=smoke", "run.quiet=true", f"data.root={data_root}", *extra]


@pytest.fixture
def cut_at_batch(monkeypatch):
    """``cut_at_batch(n, job, args, out)``: run ``job`` into ``out`` and kill it (:class:`Interrupt`) as it asks for
    its n-th training batch (``rnnmf.data.EpochBatches``), counting from 1; the batches work again afterwards, so
    the same command resumes the folder a kill left."""
    from experiments.runner import execute
    from rnnmf.data import EpochBatches

    original = EpochBatches.__call__

    def cut(n: int, job: str, args: list[str], out) -> None:
        calls = {"n": 0}

        def dying(self, step):
            calls["n"] += 1
            if calls["n"] == n:
                raise Interrupt
            return original(self, step)

        monkeypatch.setattr(EpochBatches, "__call__", dying)
        try:
            with pytest.raises(Interrupt):
                execute(job, args, out=out)
        finally:
            monkeypatch.setattr(EpochBatches, "__call__", original)

    return cut


@pytest.fixture
def assert_same_rows():
    """``assert_same_rows(a, b)``: the CSVs ``a`` and ``b`` hold the same rows, ``wall_s`` aside, in any order (sorted
    by their first six columns), bit for bit (the same computation on the same machine)."""
    import pandas as pd

    from rnnmf.io import read_rows

    def table(path):
        df = read_rows(path).drop(columns=["wall_s"])
        return df.sort_values(list(df.columns[:6])).reset_index(drop=True)

    return lambda a, b: pd.testing.assert_frame_equal(table(a), table(b))
