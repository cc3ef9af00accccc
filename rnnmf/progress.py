"""The one progress bar: tqdm on stderr, silenced by ``quiet`` (``--quiet`` / ``run.quiet=true``); ``say`` for a
progress line on stdout that parallel workers cannot split."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm.auto import tqdm


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", quiet: bool = False,
             initial: int = 0, unit: str = "it"):
    """A tqdm bar (or a silent pass-through with the same interface when ``quiet``)."""
    return tqdm(iterable, total=total, desc=desc, disable=quiet, initial=initial, unit=unit, dynamic_ncols=True,
                leave=False)


def say(line: str) -> None:
    """Print one line in ONE write and flush it: print() writes the text and its newline separately, and the lines of
    parallel worker processes then interleave between the two."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
