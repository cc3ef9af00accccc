"""A job's memory estimate against this machine's memory, checked with its settings (before torch is imported)."""

from __future__ import annotations

import os

from rnnmf.errors import RnnmfError


def machine_memory() -> int:
    """This machine's physical memory in bytes (MemTotal; the page count where /proc is absent)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _size(nbytes: float) -> str:
    for unit, scale in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes / 2**10:.3g} kB"


def check_memory(nbytes: float, what: str, keys: str) -> None:
    """Refuse a run whose estimated memory ``nbytes`` exceeds the machine's: ``what`` says what needs it, ``keys``
    which settings to lower."""
    total = machine_memory()
    if not nbytes <= total:
        raise RnnmfError(f"{what} needs about {_size(nbytes)} of memory, more than this machine's {_size(total)}; "
                         f"valid: smaller {keys}")
