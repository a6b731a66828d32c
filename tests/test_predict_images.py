"""Predict on new image files: top-k, JSON, per-file errors, any size/mode converted like training."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import corenets as cn
from corenets.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return cn.run_recipe("quickstart", "model.name=small_cnn", epochs=3, out=str(out), quiet=True)


def _digit_png(path, digit):
    """A real digits test image, upscaled to 64x48 RGB, saved as a file."""
    from sklearn.datasets import load_digits

    d = load_digits()
    i = int(np.flatnonzero(d.target == digit)[-1])
    a = (d.images[i] / 16 * 255).astype(np.uint8)
    Image.fromarray(a).convert("RGB").resize((64, 48)).save(path)
    return path


def test_predict_files_top_k_and_python_api(run_dir, tmp_path, capsys):
    files = [str(_digit_png(tmp_path / f"d{k}.png", k)) for k in (0, 1)]
    (tmp_path / "notes.txt").write_text("not an image")
    rc = main(["predict", str(run_dir), files[0], str(tmp_path / "notes.txt"), files[1], "--json", "--top", "2"])
    out = capsys.readouterr()
    res = json.loads(out.out)
    assert rc == 1 and [r["file"] for r in res] == [files[0], str(tmp_path / "notes.txt"), files[1]]
    assert "notes.txt is not an image" in res[1]["error"] and "notes.txt is not an image" in out.err
    assert [len(r["top"]) for r in (res[0], res[2])] == [2, 2]
    assert res[0]["top"][0]["probability"] >= res[0]["top"][1]["probability"]
    assert res[0]["top"][0]["class"] == "0"  # a zero from the digits set, resized and recoloured, is still a zero
    # the Python API on the same files gives the same probabilities
    pred = cn.load_run(run_dir).predict([files[0]])
    assert abs(float(pred.proba[0].max()) - res[0]["top"][0]["probability"]) < 1e-3
    rc = main(["predict", str(run_dir), files[1]])
    assert rc == 0 and capsys.readouterr().out.startswith(f"{files[1]}: ")


def test_predict_missing_file_and_bomb(run_dir, tmp_path, capsys, monkeypatch):
    Image.new("L", (200, 200)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    rc = main(["predict", str(run_dir), str(tmp_path / "missing.png"), str(tmp_path / "big.png"), "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 1 and "no such file" in res[0]["error"] and "decompression bomb" in res[1]["error"]


def test_image_run_report_has_vision_plots(run_dir):
    names = {p.name for p in (run_dir / "plots").glob("*.png")}
    assert {"samples.png", "top_losses.png", "per_class_accuracy.png", "roc.png", "confusion.png"} <= names
    assert "Accuracy per class" in (run_dir / "report.html").read_text()


def test_predict_image_files_on_a_rows_sequence_run(tmp_path, capsys):
    """An image run read as rows (data.as_sequence: rows) takes image files like any image run."""
    run = cn.run_recipe("quickstart", "model.name=lstm", "model.hidden_size=16", "data.as_sequence=rows", epochs=2,
                        out=str(tmp_path / "runs"), quiet=True)
    f = str(_digit_png(tmp_path / "d3.png", 3))
    rc = main(["predict", str(run), f, "--json", "--top", "1"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(res) == 1 and "error" not in res[0]
    pred = cn.load_run(run).predict([f])
    assert res[0]["top"][0]["class"] == pred.labels[0]
    assert abs(float(pred.proba[0].max()) - res[0]["top"][0]["probability"]) < 1e-3
