"""Compare two results trees CSV by CSV, number for number, timing columns aside (issue 15's acceptance).

    python tools/compare_results.py BEFORE AFTER [--ignore COLUMN ...] [--strict-order]

Every ``*.csv`` under BEFORE is paired with the same relative path under AFTER. A run folder named after a config hash
(``<job>/<profile>-<hash>``) that exists on one side only is paired with the one unpaired folder of the same job and
profile on the other side, if there is exactly one (a renamed hash is reported, not failed). Cells are compared as
numbers where both parse as numbers (so ``1`` equals ``1.0``, NaN equals NaN) and as text otherwise; timing columns
(``--ignore``, by default every column named in ``TIMING`` or ending in ``_s``) are left out. Rows are compared in
order; where the rows are the same but their order is not (parallel workers finish in any order) it is reported, and
counts as a difference only with ``--strict-order``.

Prints every differing cell (file, row, key, column, before, after) and exits 1 on any difference, 0 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from pathlib import Path

#: timing columns by name (and any column ending in ``_s``: seconds)
TIMING = {"wall_s", "seconds", "tokens_per_s", "eval_s", "sweep_wall_s", "time_s", "elapsed_s"}
RUN_FOLDER = re.compile(r"^(smoke|quick|paper)-[0-9a-f]{8}$")


def is_timing(column: str, ignore: set[str]) -> bool:
    return column in ignore or column.endswith("_s") or column.endswith("_per_s")


def read(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return (rows[0], rows[1:]) if rows else ([], [])


def same(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return x == y or (math.isnan(x) and math.isnan(y))


def pair_files(before: Path, after: Path) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(before file, after file) pairs, and notes on files or folders found on one side only."""
    notes: list[str] = []
    b_files = {p.relative_to(before) for p in before.rglob("*.csv")}
    a_files = {p.relative_to(after) for p in after.rglob("*.csv")}
    rename: dict[Path, Path] = {}  # a run folder's path on the before side -> its path on the after side

    def folders(files):
        return {Path(*f.parts[: i + 1]) for f in files for i, part in enumerate(f.parts[:-1]) if RUN_FOLDER.match(part)}

    b_dirs, a_dirs = folders(b_files), folders(a_files)
    for d in sorted(b_dirs - a_dirs):
        group = (d.parent, d.name.split("-")[0])
        candidates = [e for e in a_dirs - b_dirs if (e.parent, e.name.split("-")[0]) == group]
        if len(candidates) == 1:
            rename[d] = candidates[0]
            notes.append(f"note: run folder {d} is {candidates[0]} after (a different config hash)")
    pairs = []
    paired_after = set()
    for f in sorted(b_files):
        g = f
        for d, e in rename.items():
            if f.parts[: len(d.parts)] == d.parts:
                g = e / f.relative_to(d)
        if g in a_files:
            pairs.append((before / f, after / g))
            paired_after.add(g)
        else:
            notes.append(f"DIFF: {f} is missing after")
    notes += [f"DIFF: {g} is new after" for g in sorted(a_files - paired_after)]
    return pairs, notes


def compare(b_path: Path, a_path: Path, ignore: set[str], strict_order: bool, label: str) -> list[str]:
    b_cols, b_rows = read(b_path)
    a_cols, a_rows = read(a_path)
    out = []
    if b_cols != a_cols:
        out.append(f"DIFF: {label}: columns {b_cols} before, {a_cols} after")
    cols = [c for c in b_cols if c in a_cols and not is_timing(c, ignore)]
    bi, ai = [b_cols.index(c) for c in cols], [a_cols.index(c) for c in cols]

    def project(rows, idx):
        return [[r[i] if i < len(r) else "" for i in idx] for r in rows]

    b, a = project(b_rows, bi), project(a_rows, ai)
    if len(b) != len(a):
        out.append(f"DIFF: {label}: {len(b)} rows before, {len(a)} after")
    cells = [(i, c, x, y) for i, (rb, ra) in enumerate(zip(b, a, strict=False))
             for c, x, y in zip(cols, rb, ra, strict=False) if not same(x, y)]
    if cells and len(b) == len(a) and sorted(map(tuple, b)) == sorted(map(tuple, a)):
        out.append(f"{'DIFF' if strict_order else 'note'}: {label}: the same {len(b)} rows in another order")
        return out
    for i, c, x, y in cells:
        key = ", ".join(f"{k}={v}" for k, v in zip(cols[:4], b[i][:4], strict=False))
        out.append(f"DIFF: {label}: row {i + 1} ({key}): {c}: {x!r} before, {y!r} after")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--ignore", nargs="*", default=[], help="more timing columns to leave out")
    parser.add_argument("--strict-order", action="store_true", help="rows in another order count as a difference")
    args = parser.parse_args(argv)
    for root in (args.before, args.after):
        if not root.is_dir():
            print(f"compare_results: {root} is not a folder", file=sys.stderr)
            return 2
    ignore = TIMING | set(args.ignore)
    pairs, lines = pair_files(args.before, args.after)
    cells = 0
    for b, a in pairs:
        found = compare(b, a, ignore, args.strict_order, str(b.relative_to(args.before)))
        lines += found
        with open(b, newline="") as fh:
            cells += max(0, sum(1 for _ in fh) - 1)
    for line in lines:
        print(line)
    failed = sum(line.startswith("DIFF") for line in lines)
    print(f"{len(pairs)} CSV files, {cells} rows compared (timing columns aside): "
          + (f"{failed} differences" if failed else "identical"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
