"""Readers for the official dataset file formats: IDX (MNIST, Fashion-MNIST) and CIFAR-10 python pickles.

Both check structure as they read, so a truncated or foreign file is a DataError
naming the file and the fix, never a silent short array.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

# IDX: magic = 0x00 0x00 <dtype code> <ndim>, then ndim big-endian uint32 sizes, then the data
IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip or raw) -> array with the shape its header gives."""
    path = Path(path)
    fix = "delete it and run again to re-download it, or replace it with the official file"
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path} cannot be read ({e}); it is truncated or corrupt: {fix}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()}): {fix}")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    offset = 4 + 4 * ndim
    need = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - offset != need:
        raise DataError(f"{path} holds {len(raw) - offset} data bytes but its header {tuple(dims)} needs {need}: {fix}")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(tuple(dims)).astype(dtype.newbyteorder("="))


class _SafeUnpickler(pickle.Unpickler):
    """CIFAR batches are pickles; allow only what they contain (dicts, lists, numpy arrays), so a
    malicious file cannot run code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a CIFAR batch")


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch -> (N, 3, 32, 32) uint8 pixels, (N,) int64 labels."""
    fix = "replace it with the file from the official cifar-10-python.tar.gz"
    try:
        with open(path, "rb") as f:
            d = _SafeUnpickler(f, encoding="bytes").load()
    except FileNotFoundError:
        raise DataError(f"{path} is missing; a cifar-10-batches-py folder holds data_batch_1..5, test_batch and batches.meta") from None
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError) as e:
        raise DataError(f"{path} is not a readable CIFAR batch ({e}): {fix}") from None
    d = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()} if isinstance(d, dict) else {}
    if "data" not in d or "labels" not in d:
        raise DataError(f"{path} lacks the 'data' and 'labels' entries of a CIFAR batch: {fix}")
    data = np.asarray(d["data"], dtype=np.uint8)
    labels = np.asarray(d["labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise DataError(f"{path} holds data of shape {data.shape} and {len(labels)} labels; expected (N, 3072) and N: {fix}")
    return data.reshape(-1, 3, 32, 32), labels


def read_cifar_meta(path: Path) -> list[str]:
    try:
        with open(path, "rb") as f:
            d = _SafeUnpickler(f, encoding="bytes").load()
        names = d.get(b"label_names", d.get("label_names"))
        return [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, TypeError):
        # the class names are fixed; a missing meta file is no reason to stop
        return ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


# Bounds on a data file's shape, checked while reading so a 1 GB line or a 300 MB cell is one line of error,
# not minutes of parsing and gigabytes of memory. A table row or a review is far below both.
MAX_LINE_BYTES = 16 << 20  # one physical line of a CSV/TSV
MAX_CELL_CHARS = 1 << 20  # one cell, after parsing (a quoted cell may span lines)


def check_lines(f: "Any", name: str | Path) -> None:
    """Read a binary file object in 1 MiB chunks and raise DataError at the first line over MAX_LINE_BYTES."""
    run, line = 0, 1  # the length of the line being read, its number
    while chunk := f.read(1 << 20):
        parts = chunk.split(b"\n")
        for i, part in enumerate(parts):
            run += len(part)
            if run > MAX_LINE_BYTES:
                raise DataError(f"line {line + i} of {name} is longer than {MAX_LINE_BYTES:,} bytes, the limit for "
                                "one row; is it a CSV with line breaks? Split or shorten that line")
            if i < len(parts) - 1:
                run = 0
        line += len(parts) - 1


def check_cells(df: "Any", name: str | Path) -> None:
    """Raise DataError if any text cell of a parsed table is longer than MAX_CELL_CHARS."""
    for c in df.columns:
        if df[c].dtype.kind not in "biufcmM":  # object or pandas' str dtype: text cells
            lengths = df[c].astype(str).str.len()
            if len(lengths) and lengths.max() > MAX_CELL_CHARS:
                row = int(lengths.to_numpy().argmax())
                raise DataError(f"the cell in column '{str(c)[:60]}', row {row + 1} of {name} holds {int(lengths.max()):,} "
                                f"characters, more than the limit of {MAX_CELL_CHARS:,} for one cell; shorten it")


def read_csv(path: str | Path, sep: str | None = None) -> "Any":
    """Read a CSV (or TSV) with clear errors for a missing, empty or unreadable file."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"CSV file {path} does not exist; check data.path")
    if path.stat().st_size == 0:
        raise DataError(f"CSV file {path} is empty; it needs a header row and data rows")
    if sep is None:
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    with open(path, "rb") as f:
        check_lines(f, path)
    try:
        df = pd.read_csv(path, sep=sep, encoding_errors="replace")
    except pd.errors.EmptyDataError:
        raise DataError(f"CSV file {path} is empty; it needs a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise DataError(f"cannot parse {path} as CSV: {str(e).splitlines()[0]}") from None
    if len(df) == 0:
        raise DataError(f"CSV file {path} has a header but no data rows")
    check_cells(df, path)
    return df
