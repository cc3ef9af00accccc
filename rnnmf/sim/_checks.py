"""Argument checks shared by the Monte-Carlo samplers (``montecarlo``: vanilla, minimal; ``gated``: GRU, LSTM)."""

from __future__ import annotations

from collections.abc import Sequence

from rnnmf.errors import RnnmfError


def check_run(sigma12: Sequence[float], hidden, networks, dtype: str, chunk, dtypes, chunk_hint: str = "") -> None:
    """One line naming the value and what is valid, for the settings every simulation takes."""
    if dtype not in dtypes:
        raise RnnmfError(f"dtype={dtype!r} is invalid; valid: {', '.join(dtypes)}")
    for name, value in (("hidden", hidden), ("networks", networks)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RnnmfError(f"{name}={value!r} is invalid; valid: an integer >= 1")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise RnnmfError(f"chunk={chunk!r} is invalid; valid: an integer >= 1 or null{chunk_hint}")
    if len(sigma12) < 1 or any(not -1.0 <= s <= 1.0 for s in sigma12):
        raise RnnmfError(f"sigma12={list(sigma12)!r} is invalid; valid: a non-empty sequence of cosines in [-1, 1]")
