"""Compose a job's configuration from ``conf/`` with hydra's compose API and check the user's overrides.

No ``@hydra.main``: it fights typer for ``sys.argv``. Every way an override can be wrong (bad syntax, unknown key,
wrong type, unknown profile) becomes one :class:`~rnnmf.errors.RnnmfError` line, which the CLI prints with exit 2.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from experiments import schema
from experiments.settings import for_job
from rnnmf.errors import RnnmfError

CONF_DIR = Path(os.environ.get("RNNMF_CONF_DIR") or Path(__file__).resolve().parents[1] / "conf")
PROFILES = ("smoke", "quick", "paper")  # every job has these
#: profiles that only some jobs define (conf/<job>/<profile>.yaml), with those jobs: ``cpu`` is Fig. 2's claim-making
#: profile sized for a 2-core CPU (see the README, Fig. 2), a size no other job needs
JOB_PROFILES = {"cpu": ("trainability",)}
#: keys that say how a job runs, not what it computes: left out of the run folder's hash so changing them resumes
UNHASHED = ("run", "data.root")


def job_names() -> list[str]:
    """Every job with a config file in ``conf/`` (``common`` is shared, not a job)."""
    return sorted(p.stem for p in CONF_DIR.glob("*.yaml") if p.stem != "common")


def profiles_of(job: str) -> tuple[str, ...]:
    """The profiles ``job`` can run at: every job's, then those only some jobs define."""
    return PROFILES + tuple(p for p, jobs in JOB_PROFILES.items() if job in jobs)


def _check_profile(job: str, profile: str) -> None:
    if profile in profiles_of(job):
        return
    if profile in JOB_PROFILES:
        raise RnnmfError(f"profile {profile!r} is defined only for {', '.join(JOB_PROFILES[profile])}; "
                         f"valid for {job}: {', '.join(profiles_of(job))}")
    raise RnnmfError(f"unknown profile {profile!r}; valid: {', '.join(profiles_of(job))}")


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


def compose_config(job: str, overrides: Sequence[str] = ()) -> DictConfig:
    """The resolved config of ``job`` with the user's ``key=value`` overrides applied, checked against the job's
    typed settings (``experiments.settings.<job>.Settings``: every key known, typed, in range, null only where the
    type allows it): each override before composing, the whole config after. Nothing here imports torch.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if job not in job_names():
        raise RnnmfError(f"unknown job {job!r}; valid: {', '.join(job_names())}")
    settings = for_job(job)
    parsed = _parse(overrides)
    for ov in parsed:
        if ov.key_or_group == "profile":
            _check_profile(job, str(ov.value()))
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            profile_only = [ov.input_line for ov in parsed if ov.key_or_group == "profile"]
            defaults = OmegaConf.to_container(compose(config_name=job, overrides=profile_only), resolve=True)
            for ov in parsed:
                if ov.key_or_group == "profile":
                    continue
                _renamed(job, settings, ov.key_or_group, ov.value())
                node: Any = defaults
                for part in ov.key_or_group.split("."):
                    if not isinstance(node, dict) or part not in node:
                        raise RnnmfError(f"unknown config key {ov.key_or_group!r} for job {job!r}; "
                                         f"see experiments/settings/{job}.py for the valid keys")
                    node = node[part]
                schema.check_value(settings.Settings, ov.key_or_group, ov.value())
            cfg = compose(config_name=job, overrides=list(overrides))
            OmegaConf.resolve(cfg)
    except RnnmfError:
        raise
    except (HydraException, OmegaConfBaseException) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RnnmfError(f"config error for job {job!r}: {first}") from None
    finally:
        GlobalHydra.instance().clear()
    schema.check(settings.Settings, cfg)
    OmegaConf.set_readonly(cfg, True)
    return cfg


def _renamed(job: str, settings, key: str, value: Any) -> None:
    """An override of a key's old spelling (``RENAMED`` in the job's settings) is refused, naming the new one; a key
    that was removed (``REMOVED``: key -> where its meaning went) is refused with that reason."""
    if key in getattr(settings, "REMOVED", {}):
        raise RnnmfError(f"{key}: job {job!r} has no such key any more: {settings.REMOVED[key]}")
    for old, new in getattr(settings, "RENAMED", {}).items():
        if key == old or key.startswith(old + "."):
            shown = value if isinstance(value, str) else schema._shown(value)
            if isinstance(schema.rule_at(settings.Settings, new), schema.ListOf) and not isinstance(value, list):
                shown = f"[{shown}]"
            raise RnnmfError(f"{key}: job {job!r} calls this key {new} now; valid: {new}{key[len(old):]}={shown}")


def hashed_view(cfg: DictConfig) -> dict:
    """The part of the config that decides the results (the run folder is named after its hash). Keys renamed since
    a run folder was made are hashed in their old spelling (the job's ``legacy_view``), so the folder keeps its name
    and the same command resumes it."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    job = plain.get("job")
    if job in job_names():
        plain = getattr(for_job(job), "legacy_view", lambda view: view)(plain)
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
