"""One way to check a job's settings: declared rules per config key, checked before the run folder exists.

Each job module declares ``SCHEMA``, a mapping from dotted config keys to rules (``Int``, ``Num``, ``Bool``,
``OneOf``, ``Text``, ``ListOf``), and the runner checks it together with ``COMMON`` (the ``run.*`` keys every job
shares) before calling the job's own ``validate(cfg)``, which keeps only what relates several keys (a sub-list, a
feasible critical initialisation, the data files). A rule states the type, the range and whether null is allowed;
every violation is one line naming the key, the value and what is valid, which the CLI prints with exit status 2.

A ``*`` in a key stands for every key of a mapping (``sizes.*.lr``). Keys a schema does not mention keep hydra's
type check, and null for them only where the job's config has null somewhere (``experiments.config``).

The same module gives the memory estimate check (``check_memory``): a job's ``memory_bytes(cfg)`` against the
machine's memory. The rules are plain data so that typed per-job settings (structured configs) can grow from them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from rnnmf.errors import RnnmfError

_ABSENT = object()


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value, resolve=True)
    return repr(value)


@dataclass(frozen=True)
class Rule:
    nullable: bool = False

    def describe(self) -> str:  # what is valid, in words
        raise NotImplementedError

    def ok(self, value: Any) -> bool:
        raise NotImplementedError

    def check(self, key: str, value: Any) -> None:
        if value is None:
            if self.nullable:
                return
        elif self.ok(value):
            return
        valid = self.describe() + (" or null" if self.nullable else "")
        raise RnnmfError(f"{key}={_shown(value)} is invalid; valid: {valid}")


def _bounds(lo, hi, lo_open, hi_open) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    return " and ".join(parts)


@dataclass(frozen=True)
class Int(Rule):
    min: int | None = None
    max: int | None = None

    def ok(self, value):
        return (isinstance(value, int) and not isinstance(value, bool)
                and (self.min is None or value >= self.min) and (self.max is None or value <= self.max))

    def describe(self):
        b = _bounds(self.min, self.max, False, False)
        return "an integer" + (f" {b}" if b else "")


@dataclass(frozen=True)
class Num(Rule):
    """A finite number (an integer is one too); ``gt``/``lt`` are open bounds, ``min``/``max`` closed ones."""

    min: float | None = None
    max: float | None = None
    gt: float | None = None
    lt: float | None = None

    def ok(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        return ((self.min is None or value >= self.min) and (self.max is None or value <= self.max)
                and (self.gt is None or value > self.gt) and (self.lt is None or value < self.lt))

    def describe(self):
        lo, lo_open = (self.gt, True) if self.gt is not None else (self.min, False)
        hi, hi_open = (self.lt, True) if self.lt is not None else (self.max, False)
        b = _bounds(lo, hi, lo_open, hi_open)
        return "a finite number" + (f" {b}" if b else "")


@dataclass(frozen=True)
class Bool(Rule):
    def ok(self, value):
        return isinstance(value, bool)

    def describe(self):
        return "true or false"


@dataclass(frozen=True)
class OneOf(Rule):
    values: tuple = ()

    def ok(self, value):
        return isinstance(value, (str, int, float)) and not isinstance(value, bool) and value in self.values

    def describe(self):
        return "one of " + ", ".join(map(str, self.values))


@dataclass(frozen=True)
class Text(Rule):
    """A non-empty string, optionally matching ``pattern`` (a full match)."""

    pattern: str = ""
    what: str = "a non-empty string"

    def ok(self, value):
        return isinstance(value, str) and bool(value) and (not self.pattern or re.fullmatch(self.pattern, value))

    def describe(self):
        return self.what


@dataclass(frozen=True)
class ListOf(Rule):
    item: Rule = field(default_factory=lambda: Num())
    nonempty: bool = True

    def ok(self, value):
        if not isinstance(value, (list, tuple, ListConfig)):
            return False
        items = list(value)
        return (bool(items) or not self.nonempty) and all(v is not None and self.item.ok(v) for v in items)

    def describe(self):
        head = "a non-empty list" if self.nonempty else "a list"
        if isinstance(self.item, OneOf):
            return f"{head} from {', '.join(map(str, self.item.values))}"
        return f"{head} of {_plural(self.item.describe())}"

    def check(self, key: str, value: Any) -> None:
        if value is not None and isinstance(value, (list, tuple, ListConfig)):
            bad = [v for v in value if v is None or not self.item.ok(v)]
            if bad:
                raise RnnmfError(f"{key}={_shown(value)} is invalid ({_shown(bad[0])} is not); valid: "
                                 f"{self.describe()}")
        super().check(key, value)


def _plural(text: str) -> str:
    for article in ("an ", "a "):
        if text.startswith(article):
            head, _, rest = text[len(article):].partition(" ")
            return f"{head}s {rest}".strip()
    return text


Schema = Mapping[str, Rule]

#: the keys every job shares (conf/common.yaml): how a job runs
COMMON: dict[str, Rule] = {
    "seed": Int(min=0),
    "data.root": Text(nullable=True),
    "run.results_dir": Text(),
    "run.device": Text(pattern=r"auto|cpu|cuda(:\d+)?|mps", what="auto, cpu, cuda or cuda:N"),
    "run.quiet": Bool(),
    "run.threads": Int(min=1, nullable=True),
    "run.jobs": Int(min=1),
    "run.executor": OneOf(values=("local", "submitit")),
    "run.slurm.partition": Text(nullable=True),
    "run.slurm.timeout_min": Int(min=1),
    "run.slurm.gpus_per_node": Int(min=0),
    "run.slurm.cpus_per_task": Int(min=1),
    "run.slurm.mem_gb": Num(gt=0, nullable=True),
    "run.slurm.batch_size": Int(min=1),
    "run.slurm.cluster": OneOf(values=("local", "slurm", "debug"), nullable=True),
}


def _select(cfg, parts: Sequence[str], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) for every key matching ``parts`` (``*`` matches each key of a mapping)."""
    if not parts:
        yield prefix, cfg
        return
    head, rest = parts[0], parts[1:]
    if not isinstance(cfg, (DictConfig, Mapping)):
        return
    keys = list(cfg.keys()) if head == "*" else [head]
    for k in keys:
        if k not in cfg:
            continue
        yield from _select(cfg[k], rest, f"{prefix}.{k}" if prefix else str(k))


def check(cfg, *schemas: Schema) -> None:
    """Check every rule of ``schemas`` on ``cfg``; a key the config lacks is skipped."""
    for schema in schemas:
        for key, rule in schema.items():
            for dotted, value in _select(cfg, key.split(".")):
                rule.check(dotted, value)


def nullable_keys(*schemas: Schema) -> set[str]:
    return {key for schema in schemas for key, rule in schema.items() if rule.nullable}


def check_run(cfg) -> None:
    """What the ``run.*`` rules cannot see alone: a CUDA device that is absent, submitit that is not installed."""
    device = str(cfg.run.device)
    if device.startswith("cuda"):
        from rnnmf.runtime import pick_device

        pick_device(device)
    if cfg.run.executor == "submitit":
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise RnnmfError("run.executor=submitit needs the submitit package: pip install 'rnnmf[slurm]'") from None


# --------------------------------------------------------------------------------------------------------- memory
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
