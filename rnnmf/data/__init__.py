"""Data sets of the paper: MNIST tasks (Sec. 4.1 noise-padded, Sec. 4.2 sequential) and the PTB corpus (Sec. 5).

The data root is ``data.root`` (the ``root`` argument), else ``$RNNMF_DATA_DIR``, else ``./data``; below it
``MNIST/raw/`` holds torchvision's raw IDX files and ``ptb/`` the three PTB text files.

Names are imported on first use (PEP 562), so that ``rnnmf.data.checks`` (what a job checks before it starts)
does not import torch.
"""

import importlib

_WHERE = {
    "read_idx": "idx", "write_idx": "idx",
    "Standardizer": "mnist", "clear_cache": "mnist", "fit_standardizer": "mnist", "load_mnist": "mnist",
    "mnist_standardizer": "mnist", "second_moment": "mnist",
    "check_mnist": "checks", "mnist_raw_dir": "checks", "check_ptb": "checks", "ptb_dir": "checks",
    "check_seq_len": "checks", "valid_seq_lengths": "checks",
    "EpochBatches": "mnist_tasks", "NoisyMNISTBatches": "mnist_tasks", "NoisySequence": "mnist_tasks",
    "SequentialMNIST": "mnist_tasks", "SequentialMNISTBatches": "mnist_tasks",
    "Corpus": "ptb", "Dictionary": "ptb", "batchify": "ptb", "get_batch": "ptb", "load_ptb": "ptb",
    "resolve_root": "root",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'rnnmf.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"rnnmf.data.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
