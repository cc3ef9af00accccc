"""Seeds derived from a run's seed and a few keys, so that every random stream has a name of its own.

A stream seeded by ``derive_seed(seed, "tied-network", k)`` does not depend on which other streams were drawn before
it, in which process, or in which batch: that is what lets a sweep resume point by point and batch points freely.

    derive_seed(seed, *keys)                    sha256 of "seed/repr(key1)/repr(key2)...", its first 15 hex digits
                                                (60 bits, big-endian): the derivation for every new stream.

Two jobs derived their streams before this module existed (the memory probe took Fig. 3's rule), and their results
(and the reference CSVs kept in ``results/``) depend on those numbers, so they keep their derivation through
``scheme`` (changing it would change every number those jobs write):

    scheme="fig2"    Fig. 2 (trainability): sha256 of "seed|str(key1)|str(key2)...", its first 7 bytes read
                     little-endian (56 bits). Keys are str-formatted: a Python float prints the same by str and repr.
    scheme="epoch"   Fig. 3 (seqmnist) epoch orders: seed · 1,000,003 + epoch (one integer key); the memory probe's
                     noise chunks (``rnnmf.probe.features``) use it too, with the chunk's index.

All three are stable across runs, processes and platforms (no Python ``hash``, which is salted per process).
"""

from __future__ import annotations

import hashlib

from rnnmf.errors import RnnmfError

SCHEMES = ("sha256", "fig2", "epoch")


def derive_seed(seed: int, *keys: object, scheme: str = "sha256") -> int:
    """A seed for the stream named by ``keys`` under the run's ``seed`` (see the module docstring for ``scheme``)."""
    if scheme == "sha256":
        text = "/".join([str(int(seed))] + [repr(k) for k in keys])
        return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)
    if scheme == "fig2":
        text = "|".join(map(str, (seed, *keys)))
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:7], "little")
    if scheme == "epoch":
        (epoch,) = keys
        return int(seed) * 1_000_003 + int(epoch)
    raise RnnmfError(f"scheme={scheme!r} is invalid; valid: {', '.join(SCHEMES)}")
