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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rnnmf.errors import RnnmfError

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
    except (OSError, ValueError):  # missing, a folder, not UTF-8, not JSON: no meta
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
LOCK_NAME = ".rnnmf.lock"
BOOKKEEPING = ("meta.json", "config.yaml", "overrides.txt", LOCK_NAME)
#: what jobs write into a run folder besides the bookkeeping: tidy CSVs, figures, notes and tables, checkpoints
#: and submitit's logs; --fresh deletes a run folder only when it holds nothing else
OUTPUT_SUFFIXES = (".csv", ".png", ".pdf", ".md")
OUTPUT_DIRS = ("checkpoints", "submitit")


def _is_output(entry: Path) -> bool:
    name = entry.name
    if entry.is_dir() and not entry.is_symlink():
        return name in OUTPUT_DIRS
    if name in BOOKKEEPING or entry.suffix in OUTPUT_SUFFIXES:
        return True
    return name.startswith(".") and (".tmp" in name or name.endswith(".part"))  # atomic writes in flight


def _names(entries: Sequence[Path], limit: int = 3) -> str:
    names = sorted(e.name for e in entries)
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_run_path(path: str | os.PathLike) -> Path:
    """Refuse a run-folder path rnnmf must not write to, before anything exists: empty, the working directory or a
    folder above it (``--out .``), the home folder, a file, a path under a file, or one that cannot be written."""
    text = os.fspath(path)
    if not text.strip():
        raise RnnmfError("the run folder is '' (empty); valid: a folder name, e.g. --out runs/mine")
    p = Path(text)
    resolved = p.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents or resolved == Path.home().resolve():
        what = "the working directory" if resolved == cwd else "a folder above the working directory" \
            if resolved in cwd.parents else "the home folder"
        raise RnnmfError(f"run folder {text!r} is {what}; valid: a new folder for the run, e.g. --out runs/mine")
    if p.exists() and not p.is_dir():
        raise RnnmfError(f"run folder {text!r} is a file, not a folder; valid: a new or empty folder, or a run "
                         "folder rnnmf made")
    existing = resolved
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise RnnmfError(f"run folder {text!r} is under {str(existing)!r}, which is a file; valid: a path under a "
                         "folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RnnmfError(f"run folder {text!r} cannot be written: {str(existing)!r} is read-only; valid: a path "
                         "under a folder you can write")
    return p


def csv_row_count(path: str | os.PathLike) -> int:
    """Complete data rows of a CSV (header excluded, a torn last line not counted)."""
    text = _complete_text(Path(path).read_bytes())
    return max(0, sum(1 for _ in csv.reader(io.StringIO(text))) - 1)


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, Mapping):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: tree}


def config_differences(here: Mapping[str, Any], there: Mapping[str, Any], limit: int = 4) -> list[str]:
    """``key: value here, value there`` for each leaf that differs (values compared as JSON text)."""
    a, b = _flat(here), _flat(there)
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, "(absent)"), b.get(key, "(absent)")
        if json.dumps(va, sort_keys=True, default=str) != json.dumps(vb, sort_keys=True, default=str):
            out.append(f"{key}: {va!r} here, {vb!r} there")
    return out[:limit] + ([f"and {len(out) - limit} more"] if len(out) > limit else [])


class RunFolder:
    """One job's output folder with its ``config.yaml``, ``overrides.txt`` and ``meta.json``; it belongs to rnnmf.

    ``meta.json`` marks the folder as rnnmf's and records the job and the hash of its config (``view``: the part of
    the config that decides the results). Entering the context

    - refuses a folder that holds files rnnmf did not make, a run of another job, or (unless ``fresh``) a run of the
      same job with another config, naming the keys that differ (``load_view(folder)`` reads a folder's view from its
      ``config.yaml``; folders written before the hash was recorded are recognised that way);
    - takes an exclusive lock (``.rnnmf.lock``, holding the writer's PID): a second writer is refused, named;
    - with ``fresh``, empties a folder of this job (only if everything in it is rnnmf's output), never removing the
      folder itself;
    - writes ``meta.json`` first, then ``config.yaml`` and ``overrides.txt``.

    On leaving, the status is ``done`` (with the row count of every CSV, so a later reader can tell a cut file),
    ``interrupted`` (KeyboardInterrupt, or SIGTERM turned into one) or ``failed``. If the job fails with an input
    error before writing anything, what this run created is removed again, so bad input leaves nothing behind; a
    folder that held results (a resumed run) is never removed.
    """

    def __init__(self, path: str | os.PathLike, *, config_yaml: str, overrides: Sequence[str] = (),
                 fresh: bool = False, job: str = "", profile: str = "", view: Mapping[str, Any] | None = None,
                 load_view: Callable[[Path], Mapping[str, Any] | None] | None = None):
        self.path = Path(path)
        self.config_yaml, self.overrides, self.fresh = config_yaml, list(overrides), fresh
        self.job, self.profile = job, profile
        self.view = view
        self.hash = config_hash(view) if view is not None else None
        self.load_view = load_view
        self.created = False
        self._was_empty = False
        self._lock_fd: int | None = None

    @property
    def meta_path(self) -> Path:
        return self.path / "meta.json"

    def meta(self) -> dict[str, Any]:
        meta = read_json(self.meta_path, {})
        return meta if isinstance(meta, dict) else {}

    def update_meta(self, **fields: Any) -> None:
        meta = self.meta()
        meta.update(fields)
        write_json_atomic(self.meta_path, meta)

    # ---------------------------------------------------------------------------------------- ownership
    def _entries(self) -> list[Path]:
        return [e for e in self.path.iterdir() if e.name != LOCK_NAME] if self.path.is_dir() else []

    def _claim(self) -> dict[str, Any] | None:
        """The folder's meta if it is a run of this job and config (None if new or empty); else RnnmfError."""
        entries = self._entries()
        if not entries:
            return None
        meta = self.meta()
        where = str(self.path)
        if not meta.get("job"):
            runs = [e for e in entries if e.is_dir() and ((e / "meta.json").exists() or any(e.glob("*/meta.json")))]
            if runs:
                raise RnnmfError(f"{where!r} is a folder of runs ({_names(runs)}), not a run folder; nothing was "
                                 "changed; valid: a new or empty folder, or one run's folder")
            raise RnnmfError(f"run folder {where!r} holds files rnnmf did not make ({_names(entries)}); nothing was "
                             "changed; valid: a new or empty folder, or a run folder rnnmf made")
        if self.job and meta["job"] != self.job:
            raise RnnmfError(f"run folder {where!r} holds a run of job {meta['job']!r}, not {self.job!r}; nothing "
                             f"was changed; valid: a new or empty folder, or a run folder of {self.job!r}")
        differences = self._differences(meta)
        if differences and not self.fresh:
            raise RnnmfError(f"run folder {where!r} holds a run of {self.job!r} with another config ("
                             + "; ".join(differences) + "); nothing was changed; valid: the same config (drop --out "
                             "and each config gets its own folder), or --fresh to start over there")
        if self.fresh:
            foreign = [e for e in entries if not _is_output(e)]
            if foreign:
                raise RnnmfError(f"--fresh would delete run folder {where!r}, which also holds {_names(foreign)} "
                                 "that rnnmf did not write; nothing was deleted; move those away first")
        return meta

    def _differences(self, meta: Mapping[str, Any]) -> list[str]:
        if self.view is None:
            return []
        stored = meta.get("config_hash")
        if stored == self.hash:
            return []
        there = self.load_view(self.path) if self.load_view is not None else None
        if there is None:
            if stored is None and not any(e.name not in BOOKKEEPING for e in self._entries()):
                return []  # a run that wrote its marker and nothing else: nothing to mix
            return [f"its config.yaml is missing or unreadable (config hash {stored})"]
        return config_differences(self.view, there) or ([] if stored is None else
                                                         [f"config hash {self.hash} here, {stored} there"])

    def _lock(self) -> None:
        fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RnnmfError(f"run folder {str(self.path)!r} is in use by process {holder} (one writer per folder); "
                             f"wait for it to end, or stop it (kill {holder}), then run the same command "
                             "again") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def _empty_out(self) -> None:
        """--fresh: delete everything inside (checked by _claim to be rnnmf's), keeping the folder and its lock."""
        for entry in self._entries():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    # ---------------------------------------------------------------------------------------- the context
    def __enter__(self) -> RunFolder:
        check_run_path(self.path)
        self._claim()  # before creating or writing anything
        self.created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RnnmfError(f"run folder {str(self.path)!r} cannot be created: {exc.strerror}") from None
        self._lock()  # on failure leave the folder: another process holds it, even one this call created
        try:
            previous = self._claim()  # again, now that no other writer can change it
            self._was_empty = previous is None
            if self.fresh and previous is not None:
                self._empty_out()
                previous = None
            meta = {k: v for k, v in (previous or {}).items() if k not in ("error", "outputs", "summary")}
            meta.update(job=self.job, profile=self.profile, config_hash=self.hash, status=STATUS_RUNNING,
                        pid=os.getpid(), start_time=now(), end_time=None, attempts=int(meta.get("attempts", 0)) + 1,
                        command=" ".join(sys.argv), **environment())
            write_json_atomic(self.meta_path, meta)  # the marker, first
            write_text_atomic(self.path / "config.yaml", self.config_yaml)
            write_text_atomic(self.path / "overrides.txt", "".join(f"{o}\n" for o in self.overrides))
        except BaseException:
            self._unlock()
            raise
        return self

    def _holds_results(self) -> bool:
        return any(e.name not in BOOKKEEPING for e in self._entries())

    def outputs(self) -> dict[str, dict[str, int]]:
        """Row count and size of every CSV in the folder (recorded when the run is done)."""
        out = {}
        for csv_path in sorted(self.path.glob("*.csv")):
            with contextlib.suppress(OSError, UnicodeDecodeError, csv.Error):
                out[csv_path.name] = {"rows": csv_row_count(csv_path), "bytes": csv_path.stat().st_size}
        return out

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc_type is None:
                self.update_meta(status=STATUS_DONE, end_time=now(), outputs=self.outputs())
            elif issubclass(exc_type, RnnmfError) and not self._holds_results() and (self.created or self._was_empty):
                if self.created:
                    shutil.rmtree(self.path, ignore_errors=True)
                    with contextlib.suppress(OSError):  # drop results/<job>/ too if this made it and it is now empty
                        self.path.parent.rmdir()
                else:  # a folder that was empty before: empty again
                    for name in BOOKKEEPING:
                        with contextlib.suppress(OSError):
                            (self.path / name).unlink()
            elif issubclass(exc_type, KeyboardInterrupt):
                self.update_meta(status=STATUS_INTERRUPTED, end_time=now())
                with contextlib.suppress(AttributeError):
                    exc.run_folder = self.path  # for the CLI's "run the same command again to resume" line
            else:
                self.update_meta(status=STATUS_FAILED, end_time=now(), error=f"{exc_type.__name__}: {exc}")
        finally:
            self._unlock()
        return False
