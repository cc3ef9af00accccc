"""Data sets of the paper: MNIST tasks (Sec. 4.1 noise-padded, Sec. 4.2 sequential) and the PTB corpus (Sec. 5).

The data root is ``data.root`` (the ``root`` argument), else ``$RNNMF_DATA_DIR``, else ``./data``; below it
``MNIST/raw/`` holds torchvision's raw IDX files and ``ptb/`` the three PTB text files.
"""

from rnnmf.data.idx import read_idx, write_idx
from rnnmf.data.mnist import (
    Standardizer,
    check_mnist,
    clear_cache,
    fit_standardizer,
    load_mnist,
    mnist_raw_dir,
    mnist_standardizer,
    second_moment,
)
from rnnmf.data.mnist_tasks import (
    EpochBatches,
    NoisyMNISTBatches,
    NoisySequence,
    SequentialMNIST,
    SequentialMNISTBatches,
    check_seq_len,
    valid_seq_lengths,
)
from rnnmf.data.ptb import Corpus, Dictionary, batchify, check_ptb, get_batch, load_ptb, ptb_dir
from rnnmf.data.root import resolve_root

__all__ = [
    "Corpus",
    "Dictionary",
    "EpochBatches",
    "NoisyMNISTBatches",
    "NoisySequence",
    "SequentialMNIST",
    "SequentialMNISTBatches",
    "Standardizer",
    "batchify",
    "check_mnist",
    "check_ptb",
    "check_seq_len",
    "clear_cache",
    "fit_standardizer",
    "get_batch",
    "load_mnist",
    "load_ptb",
    "mnist_raw_dir",
    "mnist_standardizer",
    "ptb_dir",
    "read_idx",
    "resolve_root",
    "second_moment",
    "valid_seq_lengths",
    "write_idx",
]
