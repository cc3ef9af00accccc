"""Penn Treebank for word-level language modelling (Sec. 5), as in Mikolov et al. (2010) and Zaremba et al. (2014).

Reads ``<root>/ptb/ptb.{train,valid,test}.txt`` (Mikolov's preprocessed version: 10,000 words including ``<unk>``),
appends ``<eos>`` to every line, and numbers words in order of first appearance in the training split, following
pytorch's ``examples/word_language_model``; ``batchify`` and ``get_batch`` are that example's functions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from rnnmf.data.checks import check_ptb
from rnnmf.errors import DataError, RnnmfError

EOS = "<eos>"
_CACHE: dict[tuple, Corpus] = {}


@dataclass
class Dictionary:
    word2idx: dict[str, int] = field(default_factory=dict)
    idx2word: list[str] = field(default_factory=list)

    def add_word(self, word: str) -> int:
        if word not in self.word2idx:
            self.word2idx[word] = len(self.idx2word)
            self.idx2word.append(word)
        return self.word2idx[word]

    def __len__(self) -> int:
        return len(self.idx2word)


@dataclass
class Corpus:
    """Token ids (int64, 1-D) of each split and the training vocabulary."""

    dictionary: Dictionary
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor


def tokenize(path: Path, dictionary: Dictionary, grow: bool) -> torch.Tensor:
    """Ids of every word of ``path`` plus ``<eos>`` per line; ``grow=False`` rejects words outside ``dictionary``."""
    ids: list[int] = []
    with open(path, encoding="utf8") as f:
        for lineno, line in enumerate(f, start=1):
            for word in line.split() + [EOS]:
                if grow:
                    ids.append(dictionary.add_word(word))
                elif (i := dictionary.word2idx.get(word)) is not None:
                    ids.append(i)
                else:
                    raise DataError(
                        f"{path}:{lineno}: word {word!r} is not in the training vocabulary; "
                        "valid/test files must use only training words (<unk> for the rest)"
                    )
    return torch.tensor(ids, dtype=torch.int64)


def load_ptb(root: str | os.PathLike[str] | None = None, download: bool = True, verify: bool = True) -> Corpus:
    """Load the three PTB splits from ``<root>/ptb`` (downloading missing files when ``download`` is true).

    ``verify`` checks the published MD5s (turn it off only for small synthetic corpora in tests). Downloads are
    always verified and written atomically. The result is cached per process; treat its tensors as read-only.
    """
    paths = check_ptb(root, download, verify)
    key = (verify, *((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths))
    if key not in _CACHE:
        dictionary = Dictionary()
        train = tokenize(paths[0], dictionary, grow=True)
        valid, test = (tokenize(p, dictionary, grow=False) for p in paths[1:])
        _CACHE[key] = Corpus(dictionary, train, valid, test)
    return _CACHE[key]


def batchify(data: torch.Tensor, batch_size: int, device: str | torch.device | None = None) -> torch.Tensor:
    """Cut the token stream into ``batch_size`` contiguous columns: shape (n_steps, batch_size), the tail dropped."""
    if not 1 <= batch_size <= len(data):
        raise RnnmfError(f"batch_size={batch_size} is invalid for {len(data)} tokens; valid: 1..{len(data)}")
    nbatch = data.size(0) // batch_size
    data = data.narrow(0, 0, nbatch * batch_size)
    data = data.view(batch_size, -1).t().contiguous()
    return data.to(device) if device is not None else data


def get_batch(source: torch.Tensor, i: int, bptt: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows [i, i+seq_len) as input and the rows one step later, flattened, as targets (word_language_model)."""
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i : i + seq_len]
    target = source[i + 1 : i + 1 + seq_len].view(-1)
    return data, target
