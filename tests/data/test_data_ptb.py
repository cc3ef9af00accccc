import hashlib

import pytest
import torch

from rnnmf.data import batchify, get_batch, load_ptb
from rnnmf.data import checks as ptb_mod  # where the PTB files are checked and fetched
from rnnmf.errors import DataError, RnnmfError

NAMES = "ptb.train.txt, ptb.valid.txt, ptb.test.txt"


def test_vocab_from_train_with_eos(tiny_ptb):
    c = load_ptb(tiny_ptb, download=False, verify=False)
    words = ["the", "cat", "sat", "on", "mat", "<eos>", "a", "dog", "<unk>", "ran"]
    assert c.dictionary.idx2word == words  # first appearance in the training split
    assert len(c.dictionary) == 10
    assert c.train.dtype == torch.int64 and len(c.train) == (6 + 1) + (4 + 1) + (3 + 1)  # words + one <eos> per line
    decode = [c.dictionary.idx2word[i] for i in c.valid.tolist()]
    assert decode == ["the", "dog", "ran", "<eos>", "a", "cat", "<unk>", "<eos>"]
    assert [c.dictionary.idx2word[i] for i in c.test.tolist()] == ["a", "mat", "<eos>"]


def test_cached_per_process(tiny_ptb):
    assert load_ptb(tiny_ptb, download=False, verify=False) is load_ptb(tiny_ptb, download=False, verify=False)


def test_batchify_columns_are_contiguous_streams():
    data = batchify(torch.arange(26), 4)
    assert data.shape == (6, 4)  # 26 // 4 = 6 steps, the 2-token tail dropped
    for j in range(4):
        assert data[:, j].tolist() == list(range(6 * j, 6 * j + 6))
    with pytest.raises(RnnmfError, match="batch_size=30 is invalid for 26 tokens"):
        batchify(torch.arange(26), 30)


def test_get_batch_shift_and_last_window():
    source = batchify(torch.arange(40), 4)  # (10, 4)
    data, target = get_batch(source, 0, bptt=3)
    assert data.shape == (3, 4) and target.shape == (12,)
    assert torch.equal(target, source[1:4].reshape(-1))  # next token, flattened like word_language_model
    data, target = get_batch(source, 6, bptt=5)  # only 3 rows have a successor
    assert data.shape == (3, 4) and torch.equal(target.view(3, 4), source[7:10])
    assert torch.equal(target.view(3, 4)[:-1], data[1:])


def test_md5_mismatch_names_file_and_both_md5s(tiny_ptb):
    path = tiny_ptb / "ptb" / "ptb.train.txt"
    actual = hashlib.md5(path.read_bytes()).hexdigest()
    with pytest.raises(DataError) as err:
        load_ptb(tiny_ptb, download=False)
    assert str(err.value) == (
        f"{path} has MD5 {actual}, expected f26c4b92c5fdc7b3f8c7cdcb991d8420: replace it with the canonical file"
    )


def test_unknown_word_names_file_line_and_word(tmp_path, ptb_writer, ptb_text):
    folder = ptb_writer(tmp_path, {**ptb_text, "ptb.valid.txt": " the dog \n a zebra ran \n"})
    with pytest.raises(DataError, match=rf"^{folder}/ptb.valid.txt:2: word 'zebra' is not in the training vocab"):
        load_ptb(tmp_path, download=False, verify=False)


def test_missing_files_one_line(tmp_path):
    with pytest.raises(DataError) as err:
        load_ptb(tmp_path, download=False)
    assert str(err.value) == f"PTB not found: put {NAMES} in {tmp_path}/ptb (or set data.root / RNNMF_DATA_DIR)"


@pytest.fixture
def mirror(tmp_path, monkeypatch, ptb_writer, ptb_text):
    """A local 'server' (file:// URLs) holding the tiny corpus, with its MD5s taken as the published ones."""
    src = ptb_writer(tmp_path / "mirror")
    monkeypatch.setattr(ptb_mod, "URL", f"file://{src}/{{name}}")
    monkeypatch.setattr(ptb_mod, "MD5", {k: hashlib.md5(v.encode()).hexdigest() for k, v in ptb_text.items()})
    return src


def test_download_writes_verified_files(tmp_path, mirror):
    root = tmp_path / "root"
    c = load_ptb(root, download=True)
    assert len(c.dictionary) == 10
    assert sorted(p.name for p in (root / "ptb").iterdir()) == sorted(NAMES.split(", "))  # no .part left


def test_download_with_wrong_md5_leaves_nothing(tmp_path, mirror, monkeypatch):
    monkeypatch.setitem(ptb_mod.MD5, "ptb.valid.txt", "0" * 32)
    root = tmp_path / "root"
    with pytest.raises(DataError, match=r"ptb.valid.txt has MD5 [0-9a-f]{32}, expected 0{32}; nothing was written"):
        load_ptb(root, download=True)
    assert sorted(p.name for p in (root / "ptb").iterdir()) == ["ptb.train.txt"]


def test_offline_download_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(ptb_mod, "URL", f"file://{tmp_path}/no-such-host/{{name}}")
    with pytest.raises(DataError) as err:
        load_ptb(tmp_path, download=True)
    msg = str(err.value)
    assert msg.startswith("PTB not found and download failed (URLError: ")
    assert msg.endswith(f"put {NAMES} in {tmp_path}/ptb (or set data.root / RNNMF_DATA_DIR)")
    assert "\n" not in msg and list(tmp_path.iterdir()) == []
