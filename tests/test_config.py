"""Every config file composes, at every profile; overrides are type-checked; the hash ignores run-only keys."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from experiments.config import CONF_DIR, PROFILES, compose_config, hashed_view, job_names
from rnnmf.errors import RnnmfError
from rnnmf.io import config_hash

JOBS = job_names()


def test_every_job_has_a_config_for_every_profile():
    assert {"theory_phase", "mf_vs_mc", "trainability", "seqmnist", "lm", "isometry", "bench"} <= set(JOBS)
    for job in JOBS:
        for profile in PROFILES:
            assert (CONF_DIR / job / f"{profile}.yaml").is_file(), (job, profile)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("job", JOBS)
def test_compose_every_config(job, profile):
    cfg = compose_config(job, [f"profile={profile}"])
    assert cfg.profile == profile
    assert cfg.job == job
    assert cfg.run.results_dir == "results"
    assert OmegaConf.is_readonly(cfg)


def test_override_types_are_checked():
    assert compose_config("lm", ["seed=3"]).seed == 3
    assert compose_config("lm", ["run.device=cpu"]).run.device == "cpu"
    with pytest.raises(RnnmfError, match=r"seed=1.5 is invalid; valid: an integer >= 0"):
        compose_config("lm", ["seed=1.5"])
    with pytest.raises(RnnmfError, match="unknown config key 'run.nothing'"):
        compose_config("lm", ["run.nothing=1"])
    with pytest.raises(RnnmfError, match="unknown job"):
        compose_config("nojob", [])
    with pytest.raises(RnnmfError, match="sweeps"):
        compose_config("lm", ["seed=1,2"])


def test_threads_are_set_by_run_threads():
    # one thread where a shared 2-core CPU ran several times faster so; paper profiles (GPU, cluster) leave torch's
    for job in ("isometry", "mf_vs_mc", "trainability", "seqmnist", "lm", "bench"):
        assert compose_config(job, ["profile=quick"]).run.threads == 1, job
    for job in set(JOBS) - {"bench"}:  # bench times every suite on one thread, at every profile
        assert compose_config(job, ["profile=paper"]).run.threads is None, job
    assert compose_config("lm", []).profile == "paper"  # `rnnmf lm --cell minimal` is Table 1's full run


def test_hash_ignores_run_keys_but_not_results_keys():
    base = config_hash(hashed_view(compose_config("lm", [])))
    assert config_hash(hashed_view(compose_config("lm", ["run.quiet=true", "run.jobs=4"]))) == base
    assert config_hash(hashed_view(compose_config("lm", ["data.root=/elsewhere"]))) == base
    assert config_hash(hashed_view(compose_config("lm", ["seed=7"]))) != base
    assert config_hash(hashed_view(compose_config("lm", ["profile=quick"]))) != base
