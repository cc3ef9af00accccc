"""Every config file composes, at every profile; overrides are type-checked; the hash ignores run-only keys."""

from __future__ import annotations

import itertools

import pytest
from omegaconf import OmegaConf

from experiments.config import CONF_DIR, JOB_PROFILES, PROFILES, compose_config, hashed_view, job_names, profiles_of
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


def test_profile_cpu_is_the_trainability_jobs_alone():
    """Fig. 2's claim-making profile for a 2-core CPU (README, Fig. 2): the paper's width and step budgets on the
    untied panels; every other job refuses it in one line naming the jobs that have it."""
    from experiments.trainability import depths

    assert JOB_PROFILES == {"cpu": ("trainability",)}
    cfg = compose_config("trainability", ["profile=cpu"])
    assert cfg.profile == "cpu" and list(cfg.panels) == ["a", "c", "e", "g"]
    assert (cfg.task.hidden, cfg.vanilla.steps, cfg.minimal.steps) == (128, 1000, 100)
    assert (cfg.vanilla.lr, cfg.minimal.lr) == (compose_config("trainability", ["profile=paper"]).vanilla.lr, 1e-3)
    for cell in ("vanilla", "minimal"):  # neighbours at most a factor 1.2 apart: T_max to +-9.5 %
        lattice = depths(cfg.grid.T[cell])
        assert max(b / a for a, b in itertools.pairwise(lattice)) <= 1.2, cell
    hashes = {p: config_hash(hashed_view(compose_config("trainability", [f"profile={p}"])))
              for p in profiles_of("trainability")}
    assert len(set(hashes.values())) == 4, hashes
    for job in set(JOBS) - {"trainability"}:
        assert profiles_of(job) == PROFILES
        with pytest.raises(RnnmfError, match=f"^profile 'cpu' is defined only for trainability; valid for {job}: "
                                             "smoke, quick, paper$"):
            compose_config(job, ["profile=cpu"])
    with pytest.raises(RnnmfError, match="^unknown profile 'gpu'; valid: smoke, quick, paper, cpu$"):
        compose_config("trainability", ["profile=gpu"])


def test_adding_profile_cpu_left_the_other_profiles_hashes_alone():
    """The reference quick run of Fig. 2 (made before profile cpu existed) still hashes as profile quick composes, so
    its command resumes it and run folders keep their names."""
    from experiments import runner

    ref = CONF_DIR.parent / "results" / "reference" / "trainability" / "quick" / "config.yaml"
    made = runner.config_from_yaml(ref.read_text())
    assert made.profile == "quick"
    assert config_hash(hashed_view(made)) == config_hash(hashed_view(compose_config("trainability", ["profile=quick"])))
