"""Tiny run folders for serve and export tests, made in milliseconds: an untrained model, a real
Preprocessing and the files `corenets run` writes (model.pt, metrics.json), without training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from corenets.data import datasets
from corenets.models import create_model
from corenets.runs import FORMAT_VERSION, save_model, write_json


def make_run(root: Path, name: str, model: str, input_shape, task: str, classes, preprocessing,
             options: dict | None = None, dataset: str = "tiny", seed: int = 0) -> Path:
    datasets()
    torch.manual_seed(seed)
    num_outputs = len(classes) if task == "multiclass" else 1
    net = create_model(model, tuple(input_shape), num_outputs, **(options or {}))
    if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules()):  # non-trivial running stats
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    spec = {
        "format_version": FORMAT_VERSION, "corenets_version": "test", "recipe": name,
        "model": {"name": model, "options": dict(options or {})}, "input_shape": list(input_shape),
        "num_outputs": num_outputs, "task": task, "classes": classes, "preprocessing": preprocessing.to_dict(),
        "meta": {"dataset": dataset}, "best_epoch": 1,
    }
    path = Path(root) / name
    path.mkdir(parents=True)
    save_model(path / "model.pt", net, spec)
    write_json(path / "metrics.json", {"recipe": name, "description": f"a tiny {model}", "task": task,
                                       "test": {"n": 10, "accuracy": 0.5}, "finished": "2026-01-02T03:04:05"})
    return path


def image_run(root: Path, model: str = "seed_cnn", shape=(1, 28, 28), options=None, name=None) -> Path:
    from corenets.data.vision import ImagePreprocessing

    c = shape[0]
    pre = ImagePreprocessing(shape=list(shape), scale=1 / 255, mean=[0.3] * c, std=[0.25] * c, mode="L" if c == 1 else "RGB")
    return make_run(root, name or f"img-{model}", model, shape, "multiclass", [f"class{i}" for i in range(4)], pre, options)


def text_run(root: Path, model: str = "lstm", options=None, name=None, subwords: int = 0) -> Path:
    """subwords > 0: tokens carry 6 slots of character n-grams hashed into that many buckets."""
    from corenets.data.text import TextPreprocessing, build_vocab

    vocab = build_vocab(["a good film", "a bad film", "great fun and moving", "dull and long", "not good at all"])
    extra = {"subwords": subwords, "slots": 6, "ngrams": [3, 5]} if subwords else {}
    pre = TextPreprocessing(vocab=vocab, max_len=12, **extra)
    opts = {"hidden_size": 8, "vocab_size": len(vocab), "embed_dim": 6, **(options or {})}
    if subwords:
        opts["subwords"] = subwords
    return make_run(root, name or f"text-{model}", model, (12, 7) if subwords else (12,), "binary",
                    ["negative", "positive"], pre, opts)


def table_run(root: Path, model: str = "mlp", options=None, name=None, task: str = "binary") -> Path:
    import pandas as pd

    from corenets.data.tabular import TablePreprocessing

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"age": rng.normal(40, 10, 50), "income": rng.normal(3, 1, 50),
                       "city": rng.choice(["paris", "oslo", "rome"], 50)})
    pre = TablePreprocessing.fit(df, ["age", "income"], ["city"], "error")
    if task == "regression":
        pre.state.update(target_mean=100.0, target_std=20.0)
        return make_run(root, name or f"table-{model}", model, (5,), "regression", None, pre, options)
    return make_run(root, name or f"table-{model}", model, (5,), "binary", ["no", "yes"], pre, options)


def series_run(root: Path, window: int = 10) -> Path:
    from corenets.data.timeseries import SeriesPreprocessing

    pre = SeriesPreprocessing(window=window, horizon=1, target="price", mean=50.0, std=5.0, target_mean=50.0,
                              target_std=5.0, column="Close", date_column="Date", missing="error")
    return make_run(root, "series-lstm", "lstm", (window, 1), "regression", None, pre, {"hidden_size": 8})


def png(array: np.ndarray, fmt: str = "PNG") -> bytes:
    """An image file's bytes (PNG unless `fmt` says otherwise) from an (H, W) or (H, W, 3) array of 0-255 values."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array.astype(np.uint8)).save(buf, fmt)
    return buf.getvalue()
