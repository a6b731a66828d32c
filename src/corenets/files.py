"""Files written atomically (a kill never leaves half a file) and the version stamp every record carries."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import RunFolderError


def corenets_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("corenets")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+source"


# ------------------------------------------------------------------ atomic writes


def remove_leftovers(folder: Path, name: str = "*") -> list[Path]:
    """Delete the temporary files `.NAME.tmpPID` that a killed writer left in `folder` (and its plots/), those of
    processes no longer running; returns what was deleted. Called at every atomic write and on --resume."""
    gone = []
    for tmp in [*Path(folder).glob(f".{name}.tmp*"), *(Path(folder).glob("plots/.*.tmp*") if name == "*" else [])]:
        pid = tmp.name.rsplit(".tmp", 1)[1]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            tmp.unlink(missing_ok=True)
            gone.append(tmp)
    return gone


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process (or a number the OS does not take): leave its file
    return True


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    remove_leftovers(path.parent, path.name)  # a kill mid-write left .NAME.tmpPID behind
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise RunFolderError(f"cannot write {path}: {e.strerror or e}; free some disk space or choose --out elsewhere") from None


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save into memory, then an atomic replace: a kill never leaves half a checkpoint."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=_jsonable) + "\n")


def _jsonable(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.ndarray, torch.Tensor)):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


def write_history(path: Path, rows: list[dict[str, float]]) -> None:
    if not rows:
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def read_history(path: Path) -> list[dict[str, float]]:
    """history.csv's rows as numbers; RunFolderError naming the line when a kill or a hand edit damaged it."""
    if not path.is_file():
        return []
    rows = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for n, row in enumerate(csv.DictReader(f), start=2):
                try:
                    rows.append({str(k): float(v) for k, v in row.items() if v not in ("", None) and k is not None})
                    rows[-1]["epoch"]  # every row says its epoch: the curves are drawn against it
                except (TypeError, ValueError, KeyError):
                    raise RunFolderError(f"{path} line {n} is damaged (it needs an epoch and numbers: {str(list(row.values()))[:80]}); "
                                         f"restore it, or delete it to go on without its curves") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise RunFolderError(f"{path} cannot be read ({str(e)[:100]}); restore it, or delete it to go on without "
                             "its curves") from None
    return rows
