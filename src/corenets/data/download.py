"""Fetch dataset files into the cache, checked against official checksums.

The cache is ``$CORENETS_HOME`` (default ``~/.cache/corenets``). With
``CORENETS_OFFLINE=1`` (the CLI's ``--offline``) nothing is downloaded: a missing
file is an error that says where to put it. A file whose checksum does not match
is never used: a fresh download that fails the check is deleted, and a cached
file that fails it is an error naming the file, the expected checksum and the fix.
Writes are atomic (a temporary file, then os.replace), so an interrupted download
never leaves a half file under the final name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError


@dataclass(frozen=True)
class Remote:
    """One official file: where it lives and what it must hash to."""

    filename: str
    url: str
    md5: str = ""  # the official md5, when the publisher gives md5
    sha256: str = ""


def cache_dir() -> Path:
    """The cache root: $CORENETS_HOME, else ~/.cache/corenets."""
    return Path(os.environ.get("CORENETS_HOME") or Path.home() / ".cache" / "corenets").expanduser()


def offline() -> bool:
    return os.environ.get("CORENETS_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, remote: Remote) -> None:
    """Raise DataError if `path` does not hash to the official checksum."""
    for algo in ("sha256", "md5"):
        want = getattr(remote, algo)
        if want:
            got = file_digest(path, algo)
            if got != want:
                raise DataError(
                    f"{path} is damaged or not the official file: its {algo} is {got}, expected {want}; "
                    f"delete it and run again to re-download, or put the official {remote.filename} from {remote.url} there"
                )
            return


def _fetch(url: str, dest: Path) -> None:
    """Download `url` to `dest` (the caller makes it atomic). Tests replace this function."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=60) as r, open(dest, "wb") as f:  # noqa: S310 - fixed https URLs
        while block := r.read(1 << 20):
            f.write(block)


def fetch(remote: Remote, subdir: str) -> Path:
    """The checked local copy of `remote` in the cache, downloading it unless offline.

    Args:
        remote: the file's name, official URL and checksum.
        subdir: the dataset's folder inside the cache, e.g. "fashion_mnist".
    Returns:
        The path of the verified file.
    """
    folder = cache_dir() / subdir
    path = folder / remote.filename
    if path.exists():
        verify(path, remote)
        return path
    if offline():
        raise DataError(
            f"{remote.filename} is not in the cache and downloads are off (--offline / CORENETS_OFFLINE=1); "
            f"put the official file from {remote.url} at {path}, or give the dataset's data.path"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the cache folder {folder} ({e.strerror}); set CORENETS_HOME to a writable folder") from None
    fd, tmp = tempfile.mkstemp(prefix=f".{remote.filename}.", suffix=".part", dir=folder)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            _fetch(remote.url, tmp_path)
        except OSError as e:  # URLError, HTTPError and timeouts are OSErrors
            raise DataError(
                f"could not download {remote.url} ({e}); check the connection, or put the file at {path} and use --offline"
            ) from None
        try:
            verify(tmp_path, remote)
        except DataError:
            raise DataError(
                f"the download of {remote.url} does not match its official checksum "
                f"({'sha256 ' + remote.sha256 if remote.sha256 else 'md5 ' + remote.md5}); it was deleted, not used. "
                f"Run again, or put the official {remote.filename} at {path}"
            ) from None
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)
    return path
