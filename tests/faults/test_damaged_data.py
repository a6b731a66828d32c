"""Truncated and corrupted dataset files: an error naming the file and the fix; a checksum mismatch never trains."""

from __future__ import annotations

import gzip
import io
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from corenets import cli
from corenets.data import download
from corenets.data.formats import read_cifar_batch, read_idx
from corenets.data.images import load_image
from corenets.errors import DataError

FASHION = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(n: int = 5) -> bytes:
    return b"\x00\x00\x08\x03" + np.array([n, 28, 28], ">u4").tobytes() + bytes(n * 28 * 28)


@pytest.mark.parametrize("damage", ["truncated gzip", "truncated raw", "bad magic", "header lies", "garbage"])
def test_damaged_idx_names_the_file_and_the_fix(tmp_path, damage):
    good = idx_bytes()
    data = {
        "truncated gzip": gzip.compress(good)[:40],
        "truncated raw": good[:-100],
        "bad magic": b"\x08\x08" + good[2:],
        "header lies": good[:4] + np.array([6, 28, 28], ">u4").tobytes() + good[16:],
        "garbage": b"\x1f\x8bnot really gzip",
    }[damage]
    f = tmp_path / "train-images-idx3-ubyte.gz"
    f.write_bytes(data)
    with pytest.raises(DataError) as e:
        read_idx(f)
    assert str(f) in str(e.value) and ("re-download" in str(e.value) or "official" in str(e.value))


def test_damaged_idx_through_the_cli_stops_before_any_run_folder(tmp_path, capsys):
    """A truncated copy of the real Fashion-MNIST file given by data.path: exit 2, and no run folder made."""
    folder = tmp_path / "fm"
    folder.mkdir()
    for f in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]:
        (folder / f).write_bytes(idx_bytes(3) if "images" in f else b"\x00\x00\x08\x01" + np.array([3], ">u4").tobytes() + bytes(3))
    (folder / "train-images-idx3-ubyte").write_bytes(idx_bytes(3)[:-7])
    out = tmp_path / "runs"
    code = cli.main(["run", "--data", "fashion_mnist", "--model", "mlp", "--set", f"data.path={folder}", "--epochs", "1",
                     "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "train-images-idx3-ubyte" in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("damage", ["truncated", "not a pickle", "code in the pickle", "wrong shape"])
def test_damaged_cifar_batch(tmp_path, damage):
    good = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]})

    class Evil:
        def __reduce__(self):
            return (open, (str(tmp_path / "ran"), "w"))

    data = {
        "truncated": good[: len(good) // 2],
        "not a pickle": b"hello world",
        "code in the pickle": pickle.dumps({b"data": Evil(), b"labels": [0]}),
        "wrong shape": pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}),
    }[damage]
    f = tmp_path / "data_batch_1"
    f.write_bytes(data)
    with pytest.raises(DataError) as e:
        read_cifar_batch(f)
    assert str(f) in str(e.value) and "official" in str(e.value)
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("damage", ["truncated png", "truncated jpeg", "not an image", "empty"])
def test_damaged_image(tmp_path, damage):
    from PIL import Image

    buf = {}
    for fmt in ("PNG", "JPEG"):
        b = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(b, fmt)
        buf[fmt] = b.getvalue()
    data = {"truncated png": buf["PNG"][:200], "truncated jpeg": buf["JPEG"][:300], "not an image": b"GIF89a nope",
            "empty": b""}[damage]
    f = tmp_path / "cat.png"
    f.write_bytes(data)
    with pytest.raises(DataError) as e:
        load_image(f)
    assert str(f) in str(e.value)


@pytest.mark.parametrize("content", [b"", b"a,b\n", b"a,b\n1,2,3,4\n\"unterminated", b"\xff\xfe\x00garbage\x00\n1"])
def test_damaged_csv_table(tmp_path, content, capsys):
    f = tmp_path / "table.csv"
    f.write_bytes(content)
    code = cli.main(["run", "--data", "csv_table", "--set", f"data.path={f}", "data.target=b", "--epochs", "1", "--quiet",
                     "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1


def test_checksum_mismatch_never_trains(tmp_path, monkeypatch, capsys):
    """A cached file that fails its md5: the error names the file and the expected checksum; no run folder is made."""
    monkeypatch.setenv("CORENETS_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CORENETS_OFFLINE", "1")
    from corenets.data import vision

    monkeypatch.setattr(vision, "FASHION_SYSTEM_DIRS", [])  # use the checked cache, not Debian's copy
    cached = tmp_path / "cache" / "fashion_mnist"
    cached.mkdir(parents=True)
    for name in vision.FASHION:
        (cached / name).write_bytes(gzip.compress(idx_bytes(2)))  # well-formed, but not the official bytes
    out = tmp_path / "runs"
    code = cli.main(["run", "--data", "fashion_mnist", "--model", "mlp", "--epochs", "1", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "md5" in err and "expected" in err and "delete it" in err, err
    assert not out.exists() or not any(out.iterdir())


def test_a_download_that_fails_its_checksum_is_deleted(tmp_path, monkeypatch):
    monkeypatch.setenv("CORENETS_HOME", str(tmp_path))
    monkeypatch.delenv("CORENETS_OFFLINE", raising=False)
    monkeypatch.setattr(download, "_fetch", lambda url, dest: Path(dest).write_bytes(b"truncated download"))
    remote = download.Remote("x.gz", "https://example.invalid/x.gz", md5="0" * 32)
    with pytest.raises(DataError, match="does not match its official checksum"):
        download.fetch(remote, "ds")
    assert not list((tmp_path / "ds").iterdir())  # neither the bad file nor a .part is left
