"""Vision loaders on files written in the official formats; image_folder; ImagePreprocessing on raw images."""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from corenets.data import SplitSpec, load_dataset
from corenets.data.formats import read_idx
from corenets.errors import DataError
from vision_fixtures import CIFAR_NAMES, class_images, write_cifar, write_idx, write_mnist_like


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CORENETS_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CORENETS_OFFLINE", "1")  # belt and braces: tests never download


def test_idx_roundtrip_and_header_checks(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a.gz", a)), a)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a.raw", a, compress=False)), a)
    (tmp_path / "bad").write_bytes(b"\x08\x03\x00\x00" + b"\x00" * 20)
    with pytest.raises(DataError, match="bad magic"):
        read_idx(tmp_path / "bad")
    full = gzip.decompress((tmp_path / "a.gz").read_bytes())
    (tmp_path / "short.gz").write_bytes(gzip.compress(full[:-5]))
    with pytest.raises(DataError, match="header"):
        read_idx(tmp_path / "short.gz")
    (tmp_path / "trunc.gz").write_bytes((tmp_path / "a.gz").read_bytes()[:-12])  # a cut-off download
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_idx(tmp_path / "trunc.gz")


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_datasets_from_path(tmp_path, name):
    folder = write_mnist_like(tmp_path / "idx")
    b = load_dataset(name, SplitSpec(seed=0, val_fraction=0.1), path=str(folder))
    assert b.sizes() == {"train": 180, "val": 20, "test": 50}
    assert b.input_shape == (1, 28, 28) and b.num_outputs == 10
    assert b.classes[0] == ("0" if name == "mnist" else "T-shirt/top")
    # normalised with training statistics: mean 0, std 1 on the training part
    assert abs(float(b.train.x.mean())) < 1e-4 and abs(float(b.train.x.std()) - 1) < 1e-3
    x, y = class_images(50, 28, 1, 1)
    assert torch.equal(b.test.y, torch.from_numpy(y.astype(np.int64)))
    assert torch.allclose(b.test.x, b.preprocessing.transform(x))


def test_idx_missing_offline_says_where(tmp_path):
    with pytest.raises(DataError, match="downloads are off.*put the official file"):
        load_dataset("mnist")
    with pytest.raises(DataError, match="lacks the IDX files"):
        load_dataset("mnist", path=str(tmp_path))


def test_cifar10_from_official_layout(tmp_path):
    folder = write_cifar(tmp_path / "cifar-10-batches-py")
    for given in (folder, tmp_path):  # the folder itself or its parent
        b = load_dataset("cifar10", SplitSpec(val_fraction=0.1), path=str(given))
        assert b.sizes() == {"train": 180, "val": 20, "test": 40}
        assert b.classes == CIFAR_NAMES and b.input_shape == (3, 32, 32)
    x, y = class_images(40, 32, 3, 6)
    assert torch.equal(b.test.y, torch.from_numpy(y.astype(np.int64)))
    assert torch.allclose(b.test.x, b.preprocessing.transform(x), atol=1e-5)


def test_cifar10_from_tarball_and_rejects_code_in_pickles(tmp_path):
    import tarfile

    folder = write_cifar(tmp_path / "src" / "cifar-10-batches-py")
    tar = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(tar, "w:gz") as t:
        t.add(folder, arcname="cifar-10-batches-py")
    assert len(load_dataset("cifar10", path=str(tar)).test) == 40

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(folder / "data_batch_3", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": []}, f)
    with pytest.raises(DataError, match="data_batch_3.*not allowed"):
        load_dataset("cifar10", path=str(folder))


def _save(path: Path, size, mode="RGB", color=(200, 30, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color if mode != "L" else color[0]).save(path)


def _folder(root: Path, n=6):
    for i in range(n):
        _save(root / "cat" / f"c{i}.png", (20 + i, 30), color=(220, 20, 20))        # RGB, mixed sizes
        _save(root / "dog" / f"d{i}.jpg", (64, 48 + i), "L", color=(40, 0, 0))      # grayscale JPEG
    _save(root / "dog" / "t.png", (16, 16), "RGBA", color=(0, 0, 255, 0))          # fully transparent -> white
    return root


def test_image_folder_mixed_sizes_modes_and_corrupt_file(tmp_path):
    root = _folder(tmp_path / "pics")
    (root / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "cat" / "notes.txt").write_text("ignored: not an image extension")
    (root / "empty_class").mkdir()
    with pytest.warns(UserWarning) as rec:
        b = load_dataset("image_folder", SplitSpec(test_fraction=0.25, val_fraction=0.2), path=str(root), image_size=12)
    msgs = " ".join(str(w.message) for w in rec)
    assert "broken.png" in msgs and "empty_class" in msgs
    assert b.classes == ["cat", "dog"] and b.input_shape == (3, 12, 12)
    assert sum(b.sizes().values()) == 13
    # the same preprocessing turns a new file into what the model was trained on
    pre = b.preprocessing
    new = pre.transform([str(root / "cat" / "c0.png")])
    assert new.shape == (1, 3, 12, 12)
    px = pre.pixels(str(root / "dog" / "t.png"))
    assert px.shape == (1, 3, 12, 12) and px.min() == 255  # transparency composited onto white
    with pytest.warns(UserWarning, match="empty_class"), pytest.raises(DataError, match="broken.png.*strict"):
        load_dataset("image_folder", path=str(root), image_size=12, strict=True, cache=False)


def test_image_folder_cache_and_train_test_layout(tmp_path):
    root = tmp_path / "pics"
    _folder(root / "train", 8)
    _folder(root / "test", 3)
    b = load_dataset("image_folder", path=str(root), image_size=8, mode="L")
    assert b.input_shape == (1, 8, 8) and len(b.test) == 7 and len(b.train) + len(b.val) == 17
    assert len(list((tmp_path / "cache" / "image_folder").glob("*.npz"))) == 2
    b2 = load_dataset("image_folder", path=str(root), image_size=8, mode="L")  # from the uint8 cache
    assert torch.equal(b.test.x, b2.test.x)


def test_image_folder_bad_layouts(tmp_path):
    _save(tmp_path / "flat" / "a.png", (8, 8))
    with pytest.raises(DataError, match="no class subfolders"):
        load_dataset("image_folder", path=str(tmp_path / "flat"))
    _save(tmp_path / "one" / "cat" / "a.png", (8, 8))
    with pytest.raises(DataError, match="one class only"):
        load_dataset("image_folder", path=str(tmp_path / "one"))
    with pytest.raises(DataError, match="not a folder"):
        load_dataset("image_folder", path=str(tmp_path / "nope"))


def test_preprocessing_accepts_arrays_pil_and_refuses_bombs(tmp_path, monkeypatch):
    b = load_dataset("digits")
    pre = b.preprocessing
    # the dataset's own batches still work
    assert torch.allclose(pre.transform(np.zeros((2, 64))), pre.transform(np.zeros((2, 1, 8, 8))))
    big = np.full((80, 60, 3), 255, dtype=np.uint8)  # a white RGB array of another size
    out = pre.transform([big, Image.new("L", (5, 5), 0)])
    assert out.shape == (2, 1, 8, 8)
    white, black = pre.transform(np.full((2, 1, 8, 8), 16.0)), pre.transform(np.zeros((2, 1, 8, 8)))
    assert torch.allclose(out[0], white[0], atol=1e-5) and torch.allclose(out[1], black[0], atol=1e-5)
    path = tmp_path / "big.png"
    Image.new("L", (100, 100)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)
    with pytest.raises(DataError, match="decompression bomb"):
        pre.transform([str(path)])
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="x.txt is not an image"):
        pre.transform([str(tmp_path / "x.txt")])


@pytest.mark.slow
def test_fashion_mnist_real_debian_files():
    if not Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").exists():
        pytest.skip("Debian's dataset-fashion-mnist is not installed (.ci/run installs it where it is root with apt)")
    b = load_dataset("fashion_mnist")
    assert b.sizes() == {"train": 54000, "val": 6000, "test": 10000}
    assert np.bincount(b.test.y.numpy()).tolist() == [1000] * 10
    assert abs(b.preprocessing.state["mean"][0] - 0.2860) < 1e-3  # the well-known Fashion-MNIST mean
