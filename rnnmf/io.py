"""Run folders, config snapshots, atomic writes and crash-safe CSV appends.

Every job writes into one run folder, ``results/<job>/<profile>-<hash of the config>/``, so running the same command
twice resumes instead of starting over. Results are tidy CSVs appended one finished row at a time: a killed process
loses at most the rows in flight and never leaves a half-written row behind (a torn last line is cut off before the
next append and ignored by every reader).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import fcntl
import hashlib
import io
import json
import math
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

STATUS_RUNNING, STATUS_DONE, STATUS_FAILED, STATUS_INTERRUPTED = "running", "done", "failed", "interrupted"


# ----------------------------------------------------------------------------------------------- hashing, folders
def config_hash(config: Mapping[str, Any], length: int = 8) -> str:
    """A short stable hash of a (resolved, plain) config: same config, same run folder."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def run_dir_for(results_root: str | os.PathLike, job: str, profile: str, config: Mapping[str, Any]) -> Path:
    return Path(results_root) / job / f"{profile}-{config_hash(config)}"


# --------------------------------------------------------------------------------------------------- atomic files
def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary sibling, fsync, then rename: readers see the old file or the new one, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return default


# ------------------------------------------------------------------------------------------------------ CSV rows
def format_value(value: Any) -> str:
    """The one textual form of a cell, used for writing and for matching finished rows on resumption.

    Floats use ``repr`` so they round-trip exactly; non-finite floats are written as pandas reads them.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(float(value))  # float(): numpy 2 float64 (a float subclass) would repr as 'np.float64(1.5)'
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return format_value(value.item())
    return str(value)


def _complete_text(raw: bytes) -> str:
    """The part of a CSV file up to its last newline: a torn final row is not data."""
    end = raw.rfind(b"\n")
    return raw[: end + 1].decode() if end >= 0 else ""


def _repair_tail(fh) -> None:
    """Cut a torn last line (a writer killed mid-row) so the next append starts on a clean line."""
    fh.seek(0)
    raw = fh.read()
    good = len(_complete_text(raw).encode())
    if good != len(raw):
        fh.truncate(good)


def append_rows(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> int:
    """Append rows to a CSV atomically with respect to crashes and to other writers.

    The header is written with the first rows. All rows of one call go out in a single ``write`` followed by
    ``fsync`` under an exclusive lock; if the process dies mid-write the torn line is discarded by the next append
    and by :func:`read_rows`. Returns the number of rows written.
    """
    rows = list(rows)
    if not rows:
        return 0
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        unknown = set(row) - set(columns)
        if unknown:
            raise ValueError(f"{path.name}: row has columns {sorted(unknown)} not in {list(columns)}")
        writer.writerow([format_value(row.get(c)) for c in columns])
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            _repair_tail(fh)
            fh.seek(0, os.SEEK_END)
            if fh.tell() == 0:
                header = io.StringIO()
                csv.writer(header, lineterminator="\n").writerow(columns)
                payload = header.getvalue() + buf.getvalue()
            else:
                fh.seek(0)
                existing = next(csv.reader([fh.readline().decode()]), [])
                if list(existing) != list(columns):
                    raise ValueError(f"{path}: existing header {existing} differs from {list(columns)}")
                fh.seek(0, os.SEEK_END)
                payload = buf.getvalue()
            fh.write(payload.encode())
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return len(rows)


def iter_rows(path: str | os.PathLike) -> Iterator[dict[str, str]]:
    """The complete rows of a CSV as string dicts (a torn final line is skipped; a missing file has no rows)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return
    yield from csv.DictReader(io.StringIO(_complete_text(raw)))


def read_rows(path: str | os.PathLike):
    """The complete rows of a CSV as a pandas DataFrame (empty when the file is missing)."""
    import pandas as pd

    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return pd.DataFrame()
    text = _complete_text(raw)
    return pd.read_csv(io.StringIO(text)) if text else pd.DataFrame()


def row_key(row: Mapping[str, Any], key_columns: Sequence[str]) -> tuple[str, ...]:
    """The identity of a result row, in the written text form, so a grid point and its CSV row compare equal."""
    return tuple(row[c] if isinstance(row[c], str) else format_value(row[c]) for c in key_columns)


def finished_keys(path: str | os.PathLike, key_columns: Sequence[str]) -> set[tuple[str, ...]]:
    """Keys of the rows already in the CSV: a resumed sweep skips exactly these."""
    return {row_key(r, key_columns) for r in iter_rows(path)}


# ---------------------------------------------------------------------------------------------------- environment
def git_commit(repo: str | os.PathLike | None = None) -> str:
    repo = Path(repo) if repo else Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
        commit = out.stdout.strip() if out.returncode == 0 else "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("-dirty" if dirty and commit != "unknown" else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def environment() -> dict[str, Any]:
    """Where and with what a result was produced: commit, versions, CPU, GPU."""
    from importlib import metadata

    versions = {}
    for pkg in ("rnnmf", "torch", "torchvision", "numpy", "scipy", "pandas", "matplotlib", "hydra-core", "typer"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[pkg] = metadata.version(pkg)
    env = {
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
        "gpu": None,
    }
    with contextlib.suppress(Exception):
        import torch

        if torch.cuda.is_available():
            env["gpu"] = torch.cuda.get_device_name(0)
    return env


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------------------------------- run folders
class RunFolder:
    """One job's output folder with its ``config.yaml``, ``overrides.txt`` and ``meta.json``.

    Use as a context manager: the folder is created on entry; if the job fails with an input error before it has
    written anything and the folder is new, the folder is removed again, so bad input leaves nothing behind. A folder
    that already held results (a resumed run) is never removed.
    """

    def __init__(self, path: str | os.PathLike, *, config_yaml: str, overrides: Sequence[str] = (),
                 fresh: bool = False, job: str = "", profile: str = ""):
        self.path = Path(path)
        self.config_yaml, self.overrides, self.fresh = config_yaml, list(overrides), fresh
        self.job, self.profile = job, profile
        self.created = False

    @property
    def meta_path(self) -> Path:
        return self.path / "meta.json"

    def meta(self) -> dict[str, Any]:
        return read_json(self.meta_path, {}) or {}

    def update_meta(self, **fields: Any) -> None:
        meta = self.meta()
        meta.update(fields)
        write_json_atomic(self.meta_path, meta)

    def __enter__(self) -> RunFolder:
        if self.fresh and self.path.exists():
            shutil.rmtree(self.path)
        self.created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path / "config.yaml", self.config_yaml)
        write_text_atomic(self.path / "overrides.txt", "".join(f"{o}\n" for o in self.overrides))
        previous = self.meta()
        self.update_meta(job=self.job, profile=self.profile, status=STATUS_RUNNING, start_time=now(),
                         end_time=None, attempts=int(previous.get("attempts", 0)) + 1,
                         command=" ".join(sys.argv), **environment())
        return self

    def _holds_results(self) -> bool:
        bookkeeping = {"config.yaml", "overrides.txt", "meta.json"}
        return any(p.name not in bookkeeping for p in self.path.iterdir())

    def __exit__(self, exc_type, exc, tb) -> bool:
        from rnnmf.errors import RnnmfError

        if exc_type is None:
            self.update_meta(status=STATUS_DONE, end_time=now())
        elif issubclass(exc_type, RnnmfError) and self.created and not self._holds_results():
            shutil.rmtree(self.path, ignore_errors=True)
            with contextlib.suppress(OSError):  # drop results/<job>/ too if this made it and it is now empty
                self.path.parent.rmdir()
        elif issubclass(exc_type, KeyboardInterrupt):
            self.update_meta(status=STATUS_INTERRUPTED, end_time=now())
        else:
            self.update_meta(status=STATUS_FAILED, end_time=now(), error=f"{exc_type.__name__}: {exc}")
        return False
