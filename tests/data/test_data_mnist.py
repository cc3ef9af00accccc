import urllib.error

import numpy as np
import pytest
import torch

from rnnmf.data import fit_standardizer, load_mnist, mnist_standardizer, second_moment, write_idx
from rnnmf.data import mnist as mnist_mod
from rnnmf.errors import DataError, RnnmfError

N_TRAIN, N_TEST = 37, 11  # the sizes conftest.write_mnist uses by default
ALL = "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"


@pytest.mark.parametrize("gz", [False, True])
def test_load_raw_counts_from_headers(tmp_path, gz, mnist_writer):
    arrays = mnist_writer(tmp_path, gz=gz)
    for split, prefix, n in (("train", "train", N_TRAIN), ("test", "t10k", N_TEST)):
        x, y = load_mnist(tmp_path, split, download=False)
        assert x.shape == (n, 784) and x.dtype == torch.uint8
        assert y.shape == (n,) and y.dtype == torch.int64
        images, labels = arrays[prefix]
        np.testing.assert_array_equal(x.numpy(), images.reshape(n, 784))  # raster order: row by row
        np.testing.assert_array_equal(y.numpy(), labels)


def test_cache_returns_copies(tiny_mnist):
    root, _ = tiny_mnist
    x1, y1 = load_mnist(root, download=False)
    x1.zero_()
    y1.fill_(3)
    x2, y2 = load_mnist(root, download=False)
    assert x2.any() and not (y2 == 3).all()
    assert len(mnist_mod._RAW_CACHE) == 1


def test_global_standardisation_gives_R_one_on_train(tiny_mnist):
    root, arrays = tiny_mnist
    x, _ = load_mnist(root, "train", download=False, standardize="global")
    assert x.dtype == torch.float32
    assert abs(float(x.double().mean())) < 1e-6
    assert second_moment(x) == pytest.approx(1.0, abs=1e-5)
    s = mnist_standardizer(root, download=False)
    assert s.mode == "global" and s.R == pytest.approx(1.0, abs=1e-12)
    train = arrays["train"][0].astype(np.float64)
    assert float(s.mean) == pytest.approx(train.mean(), rel=1e-6)
    assert float(s.std) == pytest.approx(train.std(), rel=1e-6)  # population std
    # the test split uses the training statistics, so its R is close to but not exactly 1
    xt, _ = load_mnist(root, "test", download=False, standardize="global")
    expected = (arrays["t10k"][0].reshape(N_TEST, 784) - train.mean()) / train.std()
    np.testing.assert_allclose(xt.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_per_pixel_standardisation_and_constant_pixels():
    images = torch.randint(0, 256, (50, 6), dtype=torch.uint8)
    images[:, 2] = 7  # a constant pixel, like MNIST's border
    s = fit_standardizer(images, "per_pixel")
    x = s(images)
    assert torch.all(x[:, 2] == 0)
    torch.testing.assert_close(x.double().mean(0), torch.zeros(6, dtype=torch.float64), atol=1e-6, rtol=0)
    assert s.R == pytest.approx(5 / 6)
    assert second_moment(x) == pytest.approx(5 / 6, abs=1e-5)


def test_bad_split_and_mode(tiny_mnist):
    root, _ = tiny_mnist
    with pytest.raises(RnnmfError, match="unknown MNIST split 'val'; valid: train, test"):
        load_mnist(root, "val", download=False)
    with pytest.raises(RnnmfError, match="valid: None, global, per_pixel"):
        load_mnist(root, download=False, standardize="pixel")


def test_missing_dataset_is_one_line(tmp_path):
    with pytest.raises(DataError) as err:
        load_mnist(tmp_path, download=False)
    assert str(err.value) == (
        f"MNIST not found: put {ALL} (plain or .gz) in {tmp_path}/MNIST/raw (or set data.root / RNNMF_DATA_DIR)"
    )


def test_missing_names_only_missing_files(tiny_mnist):
    root, _ = tiny_mnist
    (root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    load_mnist(root, "train", download=False)  # the train split alone is fine
    with pytest.raises(DataError, match=r"^MNIST not found: put t10k-labels-idx1-ubyte \(plain or .gz\) in "):
        load_mnist(root, "test", download=False)


def test_offline_download_fails_cleanly(tmp_path, monkeypatch):
    def offline(dest):
        (dest / "train-images-idx3-ubyte.gz").write_bytes(b"partial")  # a half-finished download
        raise urllib.error.URLError("[Errno -3] Temporary failure\nin name resolution")

    monkeypatch.setattr(mnist_mod, "_fetch_mnist", offline)
    with pytest.raises(DataError) as err:
        load_mnist(tmp_path, download=True)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("MNIST not found and download failed (URLError: <urlopen error [Errno -3] Temporary")
    assert msg.endswith(f"put {ALL} (plain or .gz) in {tmp_path}/MNIST/raw (or set data.root / RNNMF_DATA_DIR)")
    assert list(tmp_path.iterdir()) == []  # no partial file, not even the folders it created


def test_download_moves_only_missing_files(tmp_path, monkeypatch, mnist_writer):
    arrays = mnist_writer(tmp_path, n_train=5, n_test=3)
    raw = tmp_path / "MNIST" / "raw"
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).unlink()
    before = (raw / "train-images-idx3-ubyte").read_bytes()

    def fake_fetch(dest):  # stands in for torchvision: .gz archives plus their extracted files
        mnist_writer(dest.parent.parent / "fake", n_train=9, n_test=4, seed=1)
        for f in (dest.parent.parent / "fake" / "MNIST" / "raw").iterdir():
            (dest / f.name).write_bytes(f.read_bytes())
            (dest / f"{f.name}.gz").write_bytes(b"archive")

    monkeypatch.setattr(mnist_mod, "_fetch_mnist", fake_fetch)
    x, y = load_mnist(tmp_path, "test", download=True)
    assert x.shape == (4, 784)
    assert (raw / "train-images-idx3-ubyte").read_bytes() == before  # present files are never overwritten
    assert load_mnist(tmp_path, "train", download=False)[0].shape == (5, 784)
    assert sorted(p.name for p in (tmp_path / "MNIST").iterdir()) == ["raw"]  # temp folder removed
    assert sorted(p.name for p in raw.iterdir()) == sorted(ALL.split(", "))
    assert arrays  # the fixture data stayed in place


def test_label_image_count_mismatch(tiny_mnist):
    root, _ = tiny_mnist
    write_idx(root / "MNIST" / "raw" / "train-labels-idx1-ubyte", np.zeros(N_TRAIN - 1, dtype=np.uint8))
    with pytest.raises(DataError, match="36,\\) labels but .*train-images-idx3-ubyte has 37 images"):
        load_mnist(root, download=False)


def test_env_var_root(tiny_mnist, monkeypatch):
    root, _ = tiny_mnist
    monkeypatch.setenv("RNNMF_DATA_DIR", str(root))
    assert load_mnist(download=False)[0].shape == (N_TRAIN, 784)


@pytest.fixture
def local_mirror(tmp_path, monkeypatch, mnist_writer):
    """Serve tiny .gz MNIST files over HTTP on localhost and point torchvision's MNIST mirrors at it."""
    import functools
    import hashlib
    import http.server
    import threading

    from torchvision.datasets import MNIST

    src = tmp_path / "served"
    mnist_writer(src, n_train=6, n_test=2, gz=True)
    files = src / "MNIST" / "raw"
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(files))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    resources = [(f"{n}.gz", hashlib.md5((files / f"{n}.gz").read_bytes()).hexdigest()) for n in ALL.split(", ")]
    monkeypatch.setattr(MNIST, "resources", resources)
    monkeypatch.setattr(MNIST, "mirrors", [url + "missing/", url])  # the first mirror fails, as mirrors do
    yield
    server.shutdown()
    server.server_close()


def test_download_through_torchvision(tmp_path, local_mirror):
    root = tmp_path / "root"
    x, y = load_mnist(root, "train", download=True)
    assert x.shape == (6, 784) and y.shape == (6,)
    raw = root / "MNIST" / "raw"
    assert sorted(p.name for p in (root / "MNIST").iterdir()) == ["raw"]
    assert sorted(p.name for p in raw.iterdir()) == sorted(ALL.split(", "))  # extracted, archives removed
