"""How fast `corenets inspect`'s explanations are, and what the report's "What it learned" adds to a run.

    .venv/bin/python benchmarks/inspect_speed.py [--repeats 20] [--quickstart 3] [--threads N]

Timed (median of --repeats after 3 warm-ups, torch's default threads), on untrained networks of the recipes'
shapes (the cost does not depend on the weights):
- Grad-CAM for one 28x28 image on seed_cnn (10 classes), last conv block;
- integrated gradients with 50 steps on the same image (one batched pass of 50 interpolations);
- a 30-word sentence on the sst2-lstm network (Embedding(10000, 128) -> LSTM(64) -> 1): layer integrated
  gradients (50 steps) as POST /explain answers it, and the page's whole explanation (with the gate heat map);
- POST /explain with one 28x28 PNG, in-process through FastAPI's TestClient (request parsing, the model, the
  attribution, the overlay PNG and JSON), p50 over --repeats requests.
--quickstart N: `corenets run quickstart` as a whole command, N times each with and without
`--set report.inspect=false`, alternating; medians.
Writes benchmarks/results/inspect_speed.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def timed(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    got = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        got.append(time.perf_counter() - t)
    return statistics.median(got) * 1000


def sst2_lstm_run(root: Path) -> Path:
    from tiny_runs import make_run

    from corenets.data.text import TextPreprocessing

    vocab = ["<pad>", "<unk>"] + [f"w{i}" for i in range(9998)]
    pre = TextPreprocessing(vocab=vocab, max_len=64)
    return make_run(root, "sst2-lstm", "lstm", (64,), "binary", ["negative", "positive"], pre,
                    {"vocab_size": 10000, "embed_dim": 128, "hidden_size": 64, "readout": "last"})


def explanation_times(root: Path, repeats: int) -> dict[str, float]:
    from tiny_runs import image_run

    from corenets.inspect.api import run_subject
    from corenets.inspect.core import integrated_gradients
    from corenets.inspect.images import grad_cam
    from corenets.inspect.kinds import views_of
    from corenets.runs import load_run

    run = load_run(image_run(root, "seed_cnn"))
    subject = run_subject(run)
    x1 = torch.randn(1, 1, 28, 28)
    out = {"gradcam_ms": timed(lambda: grad_cam(subject, x1, 1), repeats),
           "ig50_ms": timed(lambda: integrated_gradients(subject, x1, 1, 50), repeats)}
    text = load_run(sst2_lstm_run(root))
    tsub = run_subject(text)
    views = views_of(tsub)
    sentence = " ".join(f"w{i * 7}" for i in range(30))
    x = text.preprocessing.transform([sentence])
    out["sentence30_attribution_ms"] = timed(lambda: views.answers(x), repeats)
    out["sentence30_page_ms"] = timed(lambda: views.explain(x, [None], ["s"]), max(3, repeats // 4))
    return out


def explain_p50(root: Path, repeats: int) -> float:
    import io
    import warnings

    from PIL import Image
    from tiny_runs import image_run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from corenets.serve import create_app

    client = TestClient(create_app(image_run(root, "seed_cnn", name="served")))
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8)).save(buf, "PNG")
    files = {"file": ("x.png", buf.getvalue(), "image/png")}

    def one():
        r = client.post("/explain", files=files)
        assert r.status_code == 200, r.text

    return timed(one, repeats)


def quickstart(n: int) -> dict[str, list[float]]:
    got: dict[str, list[float]] = {"with": [], "without": []}
    with tempfile.TemporaryDirectory() as out:
        for _ in range(n):
            for how, extra in (("with", []), ("without", ["--set", "report.inspect=false"])):
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "corenets", "run", "quickstart", "--quiet", "--out", out, *extra],
                               check=True, cwd=ROOT)
                got[how].append(round(time.perf_counter() - t, 2))
    return got


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--quickstart", type=int, default=0, metavar="N")
    p.add_argument("--threads", type=int, default=0, help="torch threads for the timings (0: torch's default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        res = explanation_times(Path(tmp), args.repeats)
        res["explain_post_p50_ms"] = explain_p50(Path(tmp), args.repeats)
    res = {k: round(v, 1) for k, v in res.items()}
    if args.quickstart:
        q = quickstart(args.quickstart)
        res["quickstart_s"] = q
        w, wo = statistics.median(q["with"]), statistics.median(q["without"])
        res["quickstart_median_s"] = {"with": w, "without": wo, "added_percent": round(100 * (w - wo) / wo, 1)}
    res["torch"] = torch.__version__
    res["threads"] = torch.get_num_threads()
    print(json.dumps(res, indent=1))
    out = ROOT / "benchmarks" / "results" / "inspect_speed.json"
    out.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
