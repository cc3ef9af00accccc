"""Compose a job's configuration from ``conf/`` with hydra's compose API and check the user's overrides.

No ``@hydra.main``: it fights typer for ``sys.argv``. Every way an override can be wrong (bad syntax, unknown key,
wrong type, unknown profile) becomes one :class:`~rnnmf.errors.RnnmfError` line, which the CLI prints with exit 2.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rnnmf.errors import RnnmfError

CONF_DIR = Path(os.environ.get("RNNMF_CONF_DIR") or Path(__file__).resolve().parents[1] / "conf")
PROFILES = ("smoke", "quick", "paper")
#: keys that say how a job runs, not what it computes: left out of the run folder's hash so changing them resumes
UNHASHED = ("run", "data.root")


def job_names() -> list[str]:
    """Every job with a config file in ``conf/`` (``common`` is shared, not a job)."""
    return sorted(p.stem for p in CONF_DIR.glob("*.yaml") if p.stem != "common")


def _parse(overrides: Sequence[str]):
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parsed = []
    for text in overrides:
        try:
            (ov,) = OverridesParser.create().parse_overrides([text])
        except OverrideParseException:
            raise RnnmfError(f"malformed override {text!r}: expected key=value, e.g. profile=paper") from None
        if ov.is_add() or ov.is_force_add() or ov.is_delete():
            raise RnnmfError(f"override {text!r}: adding (+key) or deleting (~key) keys is not supported; "
                             "set an existing key with key=value") from None
        if ov.is_sweep_override():
            raise RnnmfError(f"override {text!r}: sweeps (a=1,2) are not composed here; the sweep jobs have grid keys "
                             "for that (see conf/)") from None
        parsed.append(ov)
    return parsed


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a mapping"}.get(type(value), type(value).__name__)


def _check_type(key: str, default: Any, value: Any) -> None:
    """An override must keep the type of the value it replaces (ints may stand for floats)."""
    if default is None or value is None:
        return
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        str: lambda v: isinstance(v, (str, int, float)) and not isinstance(v, bool),
        list: lambda v: isinstance(v, list),
        dict: lambda v: isinstance(v, dict),
    }.get(type(default), lambda v: True)
    if not ok(value):
        raise RnnmfError(f"{key}={value!r}: expected {_type_name(default)} like {default!r}")


def _matches(key: str, pattern: str) -> bool:
    """``pattern`` is a dotted key in which ``*`` stands for any one part (experiments.schema)."""
    a, b = key.split("."), pattern.split(".")
    return len(a) == len(b) and all(q in ("*", k) for k, q in zip(a, b, strict=True))


def _null_somewhere(compose, job: str, key: str) -> bool:
    """Whether ``key`` is null in the job's config at some profile (then null is one of its valid values)."""
    for profile in PROFILES:
        if OmegaConf.select(compose(config_name=job, overrides=[f"profile={profile}"]), key) is None:
            return True
    return False


def compose_config(job: str, overrides: Sequence[str] = (), nullable: Collection[str] = ()) -> DictConfig:
    """The resolved config of ``job`` with the user's ``key=value`` overrides applied and checked.

    Null may replace a value only where the job's config is null at some profile, or where ``nullable`` (the keys
    a job's schema declares nullable; ``*`` matches any one part) says so: elsewhere the job would trip over it.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if job not in job_names():
        raise RnnmfError(f"unknown job {job!r}; valid: {', '.join(job_names())}")
    parsed = _parse(overrides)
    for ov in parsed:
        if ov.key_or_group == "profile" and ov.value() not in PROFILES:
            raise RnnmfError(f"unknown profile {ov.value()!r}; valid: {', '.join(PROFILES)}")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            profile_only = [ov.input_line for ov in parsed if ov.key_or_group == "profile"]
            defaults = OmegaConf.to_container(compose(config_name=job, overrides=profile_only), resolve=True)
            for ov in parsed:
                if ov.key_or_group == "profile":
                    continue
                node: Any = defaults
                for part in ov.key_or_group.split("."):
                    if not isinstance(node, dict) or part not in node:
                        raise RnnmfError(f"unknown config key {ov.key_or_group!r} for job {job!r}; "
                                         f"see conf/{job}.yaml for the valid keys")
                    node = node[part]
                key, value = ov.key_or_group, ov.value()
                if value is None and node is not None and not any(_matches(key, p) for p in nullable) \
                        and not _null_somewhere(compose, job, key):
                    raise RnnmfError(f"{key}=null is invalid; valid: {_type_name(node)} like {node!r}")
                _check_type(key, node, value)
            cfg = compose(config_name=job, overrides=list(overrides))
            OmegaConf.resolve(cfg)
    except RnnmfError:
        raise
    except (HydraException, OmegaConfBaseException) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RnnmfError(f"config error for job {job!r}: {first}") from None
    finally:
        GlobalHydra.instance().clear()
    OmegaConf.set_readonly(cfg, True)
    return cfg


def hashed_view(cfg: DictConfig) -> dict:
    """The part of the config that decides the results (the run folder is named after its hash)."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    for dotted in UNHASHED:
        *parents, leaf = dotted.split(".")
        node = plain
        for p in parents:
            node = node.get(p, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(leaf, None)
    return plain


def to_yaml(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg, resolve=True)
