"""rnnmf.seeds: one function, three documented derivations; results in results/ depend on each of them."""

import hashlib

import pytest

from rnnmf.errors import RnnmfError
from rnnmf.seeds import derive_seed


def test_default_derivation_is_stable_and_names_streams_apart():
    seed = derive_seed(0, "tied-network", 3)
    text = "0/'tied-network'/3"  # the documented form: the seed, then repr of every key, joined by '/'
    assert seed == int(hashlib.sha256(text.encode()).hexdigest()[:15], 16) and seed < 2**60
    assert derive_seed(0, "tied-network", 4) != seed != derive_seed(1, "tied-network", 3)
    assert derive_seed(0, "3") != derive_seed(0, 3)  # repr tells a string from a number


def test_fig2_scheme_reads_floats_as_trainability_always_did():
    # Fig. 2's member seed was sha256 of f"{seed}|{panel}|{sigma_w!r}|{mu_b!r}|{T}", 7 bytes little-endian
    old = int.from_bytes(hashlib.sha256(f"{5}|{'e'}|{1.25!r}|{4.0!r}|{40}".encode()).digest()[:7], "little")
    assert derive_seed(5, "e", 1.25, 4.0, 40, scheme="fig2") == old and old < 2**56


def test_epoch_scheme_and_a_bad_scheme():
    assert derive_seed(3, 2, scheme="epoch") == 3 * 1_000_003 + 2
    with pytest.raises(RnnmfError, match="scheme='md5' is invalid; valid: sha256, fig2, epoch"):
        derive_seed(0, scheme="md5")
