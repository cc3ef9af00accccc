"""One way to check a job's settings: a typed settings class per job, checked before torch is imported.

Each job declares its keys as a dataclass (``experiments.settings.<job>.Settings``): the annotation is the type
(``int``, ``float``, ``bool``, ``str``, ``Literal[...]`` for a choice, ``X | None`` where null is valid, ``list[X]``,
``dict[str, X]``, a nested dataclass for a section), and :func:`setting` adds the range (``min``/``max`` closed,
``gt``/``lt`` open bounds; on a list they bound its items) and a line of documentation. :func:`check` walks a
composed config against it: an unknown or missing key, a value of the wrong type (null included, unless the
annotation allows it) or out of range is one :class:`~rnnmf.errors.RnnmfError` line naming the key, the value and
what is valid, which the CLI prints with exit status 2. The job's ``cross_check(cfg)`` (beside its ``Settings``)
keeps only what relates several keys. Neither imports torch: every refusal comes before torch's import.

The values (each key's at each profile) live in ``conf/``; ``tests/test_settings.py`` checks that they and the
settings classes name the same keys. Hydra's structured-config merge is not used: it turns an integer written for a
float key (``max_mb: 8192``) into a float, which would change the hashed config (run folder names) and what some
CSVs record. A job's memory estimate is checked by ``experiments.memory.check_memory``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from rnnmf.errors import RnnmfError


def _shown(value: Any) -> str:
    return "null" if value is None else repr(value)


def setting(doc: str = "", *, min: float | None = None, max: float | None = None, gt: float | None = None,
            lt: float | None = None, pattern: str = "", what: str = "", empty: bool = False):
    """A settings field: ``doc`` says what it means; the bounds apply to a number (or to each item of a list);
    ``pattern`` (a full match) and ``what`` (its description) to a string; ``empty`` allows an empty list."""
    return field(metadata={"doc": doc, "min": min, "max": max, "gt": gt, "lt": lt, "pattern": pattern, "what": what,
                           "empty": empty})


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
        if not isinstance(value, (list, tuple)):
            return False
        items = list(value)
        return (bool(items) or not self.nonempty) and all(v is not None and self.item.ok(v) for v in items)

    def describe(self):
        head = "a non-empty list" if self.nonempty else "a list"
        if isinstance(self.item, OneOf):
            return f"{head} from {', '.join(map(str, self.item.values))}"
        return f"{head} of {_plural(self.item.describe())}"

    def check(self, key: str, value: Any) -> None:
        if value is not None and isinstance(value, (list, tuple)):
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


@dataclass(frozen=True)
class Anything(Rule):
    """A free-form value (a bench suite's keyword arguments): the code it is passed to checks it."""

    def ok(self, value):
        return True

    def describe(self):
        return "anything"


@dataclass(frozen=True)
class Section(Rule):
    """A mapping with exactly the fields of the dataclass ``cls``, each checked by its own rule."""

    cls: type | None = None

    def fields(self) -> dict[str, Rule]:
        return section_rules(self.cls)

    def ok(self, value):
        return isinstance(value, Mapping)

    def describe(self):
        return "a mapping of " + ", ".join(self.fields())

    def check(self, key: str, value: Any) -> None:
        super().check(key, value)
        if value is None:
            return
        rules = self.fields()
        for name in value:
            if name not in rules:
                where = f"{key}.{name}" if key else str(name)
                raise RnnmfError(f"unknown config key {where!r}; valid keys{' of ' + key if key else ''}: "
                                 f"{', '.join(rules)}")
        for name, rule in rules.items():
            where = f"{key}.{name}" if key else name
            if name not in value:
                raise RnnmfError(f"config key {where!r} is missing; valid: {rule.describe()}")
            rule.check(where, value[name])


@dataclass(frozen=True)
class MapOf(Rule):
    """A mapping from names the user chooses (``sizes.small``) to values of one rule."""

    item: Rule = field(default_factory=Anything)

    def ok(self, value):
        return isinstance(value, Mapping)

    def describe(self):
        return "a mapping of names to " + _plural(self.item.describe())

    def check(self, key: str, value: Any) -> None:
        super().check(key, value)
        for name, item in (value or {}).items():
            self.item.check(f"{key}.{name}", item)


# ---------------------------------------------------------------------------------------- rules from annotations
_NONE = type(None)


def rule_for(tp: Any, meta: Mapping[str, Any] | None = None) -> Rule:
    """The rule of one annotation (see the module docstring) with the bounds of :func:`setting`."""
    meta = meta or {}
    nullable = False
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not _NONE]
        nullable = len(args) < len(typing.get_args(tp))
        (tp,) = args
    origin = typing.get_origin(tp)
    if origin is Literal:
        return OneOf(values=typing.get_args(tp), nullable=nullable)
    if origin is list:
        (item,) = typing.get_args(tp)
        return ListOf(item=rule_for(item, meta), nonempty=not meta.get("empty"), nullable=nullable)
    if origin is dict:
        _, item = typing.get_args(tp)
        return MapOf(item=rule_for(item, meta), nullable=nullable)
    if dataclasses.is_dataclass(tp):
        return Section(cls=tp, nullable=nullable)
    if tp is bool:
        return Bool(nullable=nullable)
    if tp is int:
        return Int(min=meta.get("min"), max=meta.get("max"), nullable=nullable)
    if tp is float:
        return Num(min=meta.get("min"), max=meta.get("max"), gt=meta.get("gt"), lt=meta.get("lt"), nullable=nullable)
    if tp is str:
        return Text(pattern=meta.get("pattern") or "", what=meta.get("what") or "a non-empty string",
                    nullable=nullable)
    if tp is Any:
        return Anything(nullable=True)
    raise TypeError(f"no rule for the annotation {tp!r}")


_SECTIONS: dict[type, dict[str, Rule]] = {}


def section_rules(cls: type) -> dict[str, Rule]:
    """{field name: rule} of a settings dataclass (cached per class)."""
    if cls not in _SECTIONS:
        hints = typing.get_type_hints(cls)
        _SECTIONS[cls] = {f.name: rule_for(hints[f.name], f.metadata) for f in dataclasses.fields(cls)}
    return _SECTIONS[cls]


def plain(cfg) -> Any:
    """A composed config as plain dicts and lists (what is checked, hashed and sent to sweep workers)."""
    if hasattr(cfg, "_get_node"):
        from omegaconf import OmegaConf

        return OmegaConf.to_container(cfg, resolve=True)
    return cfg


def check(cls: type, cfg) -> None:
    """Check a whole config against the settings class ``cls``: every key known, present, typed and in range."""
    Section(cls=cls).check("", plain(cfg))


def rule_at(cls: type, key: str) -> Rule | None:
    """The rule of a dotted key (``sizes.small.lr``), or None where the key names nothing in ``cls``."""
    rule: Rule | None = Section(cls=cls)
    for part in key.split("."):
        if isinstance(rule, Section):
            rule = rule.fields().get(part)
        elif isinstance(rule, MapOf):
            rule = rule.item
        else:
            return None
        if rule is None:
            return None
    return rule


def check_value(cls: type, key: str, value: Any) -> None:
    """Check one override (``key=value``) before the config is composed: its type, range and null."""
    rule = rule_at(cls, key)
    if isinstance(rule, (Section, MapOf)):
        Rule.check(rule, key, value)  # a mapping (or null where allowed); its keys are checked once composed
    elif rule is not None:
        rule.check(key, value)
