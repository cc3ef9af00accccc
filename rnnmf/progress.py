"""The one progress bar: tqdm on stderr, silenced by ``quiet`` (``--quiet`` / ``run.quiet=true``)."""

from __future__ import annotations

from collections.abc import Iterable

from tqdm.auto import tqdm


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", quiet: bool = False,
             initial: int = 0, unit: str = "it"):
    """A tqdm bar (or a silent pass-through with the same interface when ``quiet``)."""
    return tqdm(iterable, total=total, desc=desc, disable=quiet, initial=initial, unit=unit, dynamic_ncols=True,
                leave=False)
