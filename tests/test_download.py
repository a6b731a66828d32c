"""download.fetch: cache, checksums, offline mode, atomic writes. The network is always faked."""

from __future__ import annotations

import hashlib

import pytest

from corenets.data import download
from corenets.data.download import Remote, fetch
from corenets.errors import DataError

PAYLOAD = b"official bytes"
GOOD = Remote("f.bin", "https://example.org/f.bin", md5=hashlib.md5(PAYLOAD).hexdigest())


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("CORENETS_HOME", str(tmp_path))
    monkeypatch.delenv("CORENETS_OFFLINE", raising=False)


def fake(payload, calls):
    def _fetch(url, dest):
        calls.append(url)
        dest.write_bytes(payload)
    return _fetch


def test_downloads_once_then_uses_cache(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(download, "_fetch", fake(PAYLOAD, calls))
    p = fetch(GOOD, "ds")
    assert p == tmp_path / "ds" / "f.bin" and p.read_bytes() == PAYLOAD
    assert fetch(GOOD, "ds") == p and calls == [GOOD.url]
    assert [f.name for f in (tmp_path / "ds").iterdir()] == ["f.bin"]  # no temporary file left


def test_bad_download_is_deleted_not_used(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "_fetch", fake(b"tampered", []))
    with pytest.raises(DataError, match=f"does not match.*md5 {GOOD.md5}.*deleted, not used"):
        fetch(GOOD, "ds")
    assert list((tmp_path / "ds").iterdir()) == []


def test_damaged_cached_file_names_file_checksum_and_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "_fetch", fake(PAYLOAD, []))
    p = fetch(GOOD, "ds")
    p.write_bytes(PAYLOAD[:5])  # truncated
    with pytest.raises(DataError, match=rf"{p}.*expected {GOOD.md5}; delete it and run again"):
        fetch(GOOD, "ds")


def test_offline_never_downloads(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(download, "_fetch", fake(PAYLOAD, calls))
    monkeypatch.setenv("CORENETS_OFFLINE", "1")
    with pytest.raises(DataError, match=rf"put the official file from {GOOD.url} at {tmp_path / 'ds' / 'f.bin'}"):
        fetch(GOOD, "ds")
    assert calls == []


def test_network_failure_is_a_clear_error(monkeypatch):
    def boom(url, dest):
        raise OSError("no route to host")
    monkeypatch.setattr(download, "_fetch", boom)
    with pytest.raises(DataError, match="could not download .*--offline"):
        fetch(GOOD, "ds")


def test_official_checksums_are_pinned():
    from corenets.data import vision

    assert vision.CIFAR10.md5 == "c58f30108f718f92721af3b95e74349a"
    assert vision.FASHION["train-images-idx3-ubyte.gz"] == "8d4fb7e6c68d591d4c3dfef9ec88bf0d"
    assert vision.MNIST["t10k-labels-idx1-ubyte.gz"] == "ec29112dd5afa0611ce80d1b7f02629c"
