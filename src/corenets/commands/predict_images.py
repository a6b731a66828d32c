"""How `corenets predict` shows image files: top-k classes per file, and an error line per unreadable file.

Each file is decoded on its own (ImagePreprocessing.cli_inputs), so a non-image or unreadable
file is a clear error for that file while the others are still predicted (exit status 1 then).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def predict_files(run, files: list[str], top: int = 3) -> list[dict]:
    """[{"file", "top": [{"class", "probability"}, ...]} or {"file", "error"}] in the order given."""
    return _results(run, run.preprocessing.reader().cli_inputs(list(files)), list(files), top)


def _results(run, got, files: list[str], top: int) -> list[dict]:
    results: list[dict] = [{"file": f} for f in files]
    for i, message in got.errors.items():
        results[i]["error"] = message
    good = [i for i in range(len(files)) if i not in got.errors]
    if good:
        proba = run.predict(got.raw).proba  # uint8 pixels, as decoded: the same numbers as run.predict([path])
        k = max(1, min(top, proba.shape[1]))
        for row, i in zip(proba, good):
            order = np.argsort(-row)[:k]
            results[i]["top"] = [{"class": run.classes[j], "probability": round(float(row[j]), 4)} for j in order]
    return results


def show_files(run, got, args) -> int:
    """Print (or write with --out / --json) the predictions of `corenets predict` on image files."""
    from ..files import atomic_write_text

    results = _results(run, got, list(args.inputs), args.top)
    if args.out:
        lines = ["file,prediction,probability,error"]
        for r in results:
            best = r.get("top", [{}])[0]
            lines.append(",".join(json.dumps(str(v)) if isinstance(v, str) else str(v) for v in
                                  (r["file"], best.get("class", ""), best.get("probability", ""), r.get("error", ""))))
        atomic_write_text(Path(args.out), "\n".join(lines) + "\n")
        print(f"wrote {len(results)} predictions to {args.out}")
    elif args.json:
        print(json.dumps(results, indent=1))
    else:
        for r in results:
            if "top" in r:
                print(f"{r['file']}: " + ", ".join(f"{t['class']} {t['probability']:.3f}" for t in r["top"]))
    for r in results:
        if "error" in r:
            print(f"error: {r['error']}", file=sys.stderr)
    return 1 if any("error" in r for r in results) else 0
