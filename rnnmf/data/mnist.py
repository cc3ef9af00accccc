"""MNIST from torchvision's raw layout, ``<root>/MNIST/raw/*-idx?-ubyte`` (plain or ``.gz``), and its standardisation.

Both tasks of the paper feed MNIST pixels to an RNN: the whole image as the first input (Sec. 4.1, Fig. 2) or the
image unrolled into T steps (Sec. 4.2, Fig. 3); those tasks live in ``rnnmf.data.mnist_tasks``. The mean-field theory
(Sec. 3.1) assumes inputs standardised so that R = (1/M) E[x.x] is the same at every step, which is why the default
here is one *global* mean and standard deviation over all pixels of the training split: it makes R = 1 exactly there.
"""

from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnmf.data.checks import FILES, PIXELS, SPLITS, _find, _missing_message, mnist_raw_dir
from rnnmf.data.download import new_folder
from rnnmf.data.idx import read_idx
from rnnmf.errors import DataError, RnnmfError

MODES = ("global", "per_pixel")

# Decoded tensors per process, keyed by file path, size and mtime so that a replaced file is re-read.
_RAW_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}
_STD_CACHE: dict[tuple, Standardizer] = {}


def clear_cache() -> None:
    """Forget the decoded tensors (tests, or a long-lived process that swapped the files)."""
    _RAW_CACHE.clear()
    _STD_CACHE.clear()


def _one_line(error: BaseException, limit: int = 160) -> str:
    text = " ".join(str(error).split()) or "no detail"
    text = f"{type(error).__name__}: {text}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fetch_mnist(dest: Path) -> None:
    """Download and extract the four official files into ``dest`` through torchvision (its mirrors and MD5s)."""
    from torchvision.datasets import MNIST
    from torchvision.datasets.utils import download_and_extract_archive

    for filename, md5 in MNIST.resources:
        errors = []
        for mirror in MNIST.mirrors:
            try:
                download_and_extract_archive(f"{mirror}{filename}", download_root=dest, filename=filename, md5=md5)
                break
            except Exception as e:  # any failure means "try the next mirror"
                errors.append(e)
        else:
            raise errors[-1]


def _download(raw_dir: Path, missing: list[str]) -> None:
    """Fetch into a hidden temporary folder beside ``raw_dir`` and move only the missing files into place.

    Files already present (e.g. the 24,345-image training prefix) are never overwritten; the temporary folder and
    the ``.gz`` archives are removed whatever happens, so a failed download leaves nothing behind.
    """
    previous_timeout = socket.getdefaulttimeout()
    try:
        socket.setdefaulttimeout(60)  # torchvision opens URLs without a timeout; offline it must fail, not hang
        with new_folder(raw_dir), tempfile.TemporaryDirectory(dir=raw_dir.parent, prefix=".download-") as tmp:
            _fetch_mnist(Path(tmp))
            for name in missing:
                os.replace(Path(tmp) / name, raw_dir / name)
    except Exception as e:  # no network, no disk space, a read-only root: all are "put the files there"
        raise DataError(_missing_message(raw_dir, missing, _one_line(e))) from None
    finally:
        socket.setdefaulttimeout(previous_timeout)


def _file_key(path: Path) -> tuple:
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns)


def _decode(image_path: Path, label_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    key = _file_key(image_path) + _file_key(label_path)
    if key not in _RAW_CACHE:
        images, labels = read_idx(image_path), read_idx(label_path)
        if images.ndim != 3 or images.shape[1] * images.shape[2] != PIXELS or images.dtype != "uint8":
            raise DataError(
                f"{image_path} holds an array of shape {images.shape} and type {images.dtype}, "
                "expected (n, 28, 28) unsigned bytes; re-download it"
            )
        if labels.shape != (images.shape[0],):
            raise DataError(
                f"{label_path} holds {labels.shape} labels but {image_path} has {images.shape[0]} images; "
                "use matching files"
            )
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise DataError(f"{label_path} has labels outside 0..9; re-download it")
        flat = torch.from_numpy(images.reshape(-1, PIXELS))
        _RAW_CACHE[key] = (flat, torch.from_numpy(labels.astype("int64")))
    return _RAW_CACHE[key]


def _raw_split(root: str | os.PathLike[str] | None, split: str, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The cached uint8 images (n, 784) and int64 labels of one split; callers must not modify them."""
    if split not in SPLITS:
        raise RnnmfError(f"unknown MNIST split {split!r}; valid: {', '.join(SPLITS)}")
    raw_dir = mnist_raw_dir(root)
    if any(_find(raw_dir, name) is None for name in SPLITS[split]):
        missing = [name for name in FILES if _find(raw_dir, name) is None]
        if not download:
            raise DataError(_missing_message(raw_dir, missing))
        _download(raw_dir, missing)
    image_path, label_path = (_find(raw_dir, name) for name in SPLITS[split])
    return _decode(image_path, label_path)


@dataclass(frozen=True)
class Standardizer:
    """x -> (x - mean) / std with statistics of the MNIST training split (raw 0..255 pixel scale).

    ``mode="global"`` uses one mean and one std over all pixels (the default): every input dimension keeps its
    relative scale and the training split has R = (1/M) E[x.x] = 1 exactly, the normalisation the mean-field theory
    assumes (Sec. 3.1; R enters eq. 2 as sigma_v^2 R Sigma^t). ``mode="per_pixel"`` centres and scales each pixel on
    its own; pixels that are constant on the training split (border pixels) become 0, so R is the fraction of
    non-constant pixels, a little below 1. ``R`` is the training-split value, computed from the moments, not sampled.
    """

    mode: str
    mean: torch.Tensor  # float32, shape () for global, (784,) for per_pixel
    std: torch.Tensor
    R: float

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        mean, std = self.mean.to(images.device), self.std.to(images.device)
        return (images.to(torch.float32) - mean) / std


def fit_standardizer(images: torch.Tensor, mode: str = "global") -> Standardizer:
    """Fit a ``Standardizer`` to images of shape (n, M) with population (not unbiased) moments, in float64."""
    if mode not in MODES:
        raise RnnmfError(f"unknown standardisation {mode!r}; valid: {', '.join(MODES)}")
    n = images.shape[0]
    s1 = torch.zeros(images.shape[1], dtype=torch.float64)
    s2 = torch.zeros_like(s1)
    for chunk in images.split(8192):  # bounded float64 temporaries
        c = chunk.to(torch.float64)
        s1 += c.sum(0)
        s2 += (c * c).sum(0)
    if mode == "global":
        s1, s2, n = s1.sum(), s2.sum(), n * images.shape[1]
    mean = s1 / n
    var = (s2 / n - mean * mean).clamp_min(0.0)
    std = var.sqrt()
    std = torch.where(std > 1e-8, std, torch.ones_like(std))  # a constant pixel maps to 0 instead of nan
    R = float((var / (std * std)).mean())
    return Standardizer(mode, mean.to(torch.float32), std.to(torch.float32), R)


def mnist_standardizer(
    root: str | os.PathLike[str] | None = None, mode: str = "global", download: bool = True
) -> Standardizer:
    """The standardisation fitted on the training split found under ``root`` (cached per process)."""
    images, _ = _raw_split(root, "train", download)
    key = (mode, id(images))  # the cached tensor's identity stands for the files it was decoded from
    if key not in _STD_CACHE:
        _STD_CACHE[key] = fit_standardizer(images, mode)
    return _STD_CACHE[key]


def load_mnist(
    root: str | os.PathLike[str] | None = None,
    split: str = "train",
    download: bool = True,
    standardize: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(images, labels)`` of one split: images (n, 784) in raster order, labels int64 in 0..9.

    ``n`` is read from the IDX headers (the shipped training split has 24,345 images). With ``standardize=None`` the
    images are the raw uint8 pixels; with ``"global"`` (recommended, see ``Standardizer``) or ``"per_pixel"`` they are
    float32, standardised with training-split statistics whichever split is loaded. Missing files are downloaded
    through torchvision when ``download`` is true; otherwise, or without a network, a one-line ``DataError`` says
    which files to put where. Decoded files are cached per process; the returned tensors are fresh copies.
    """
    if standardize is not None and standardize not in MODES:
        raise RnnmfError(f"unknown standardisation {standardize!r}; valid: None, {', '.join(MODES)}")
    images, labels = _raw_split(root, split, download)
    if standardize is None:
        return images.clone(), labels.clone()
    return mnist_standardizer(root, standardize, download)(images), labels.clone()


def second_moment(x: torch.Tensor) -> float:
    """R = (1/M) E[x.x] over a batch of inputs whose last dimension is M (Sec. 3.1), in float64."""
    return float(x.to(torch.float64).pow(2).mean())
