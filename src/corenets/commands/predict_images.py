"""`corenets predict RUN a.png b.jpg ...` for image runs: top-k classes per file.

Each file is decoded on its own, so a non-image or unreadable file is a clear
error for that file while the others are still predicted (exit status 1 then).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ..cli import PREDICTORS
from ..errors import DataError


def predict_files(run, files: list[str], top: int = 3) -> list[dict]:
    """[{"file", "top": [{"class", "probability"}, ...]} or {"file", "error"}] in the order given."""
    pre = _image_preprocessing(run.preprocessing)  # run.predict still applies the run's own (sequence) view
    results: list[dict] = [{"file": f} for f in files]
    good, pixels = [], []
    for i, f in enumerate(files):
        try:
            pixels.append(pre.pixels([f]))  # (1, C, H, W) uint8, converted as the training images were
            good.append(i)
        except DataError as e:
            results[i]["error"] = str(e)
    if good:
        # back to the dataset's pixel units (0..255, or 0..16 for digits), which transform() expects
        batch = np.concatenate(pixels).astype(np.float32) / (255.0 * pre.state["scale"])
        proba = run.predict(batch).proba  # (N, classes)
        k = max(1, min(top, proba.shape[1]))
        for row, i in zip(proba, good):
            order = np.argsort(-row)[:k]
            results[i]["top"] = [{"class": run.classes[j], "probability": round(float(row[j]), 4)} for j in order]
    return results


def _image_preprocessing(pre):
    """The ImagePreprocessing itself, or the one inside a sequence view (`data.as_sequence: rows`); else None."""
    while pre.kind == "sequence":
        pre = pre.inner
    return pre if pre.kind == "image" else None


def _is_image(run, inputs) -> bool:
    return _image_preprocessing(run.preprocessing) is not None


def _predict_images(run, args) -> int:
    from ..runs import atomic_write_text

    results = predict_files(run, list(args.inputs), args.top)
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


PREDICTORS.append((_is_image, _predict_images))
