import json

import numpy as np
import pytest

from corenets.evaluate import plots
from corenets.evaluate.report import build_report


def test_plots_write_png_files(tmp_path):
    rows = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_accuracy": 0.5 + e / 10,
             "val_accuracy": 0.4 + e / 10} for e in range(1, 5)]
    y = np.array([0, 1, 2, 1, 0, 2])
    proba = np.eye(3)[[0, 1, 1, 1, 0, 2]] * 0.8 + 0.2 / 3
    made = [plots.curves(rows, tmp_path / "c.png", "accuracy"),
            plots.confusion([[2, 0, 0], [0, 2, 0], [0, 1, 1]], ["a", "b", "c"], tmp_path / "m.png"),
            plots.roc(y, proba, ["a", "b", "c"], tmp_path / "r.png"),
            plots.predicted_vs_actual(np.arange(5.0), np.arange(5.0) + 0.1, tmp_path / "p.png"),
            plots.overlay_curves({"a": rows, "b": rows}, "val_accuracy", tmp_path / "o.png")]
    for path in made:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*.tmp"))


def test_report_embeds_every_plot_and_shows_baseline(tmp_path):
    (tmp_path / "plots").mkdir()
    plots.predicted_vs_actual(np.arange(5.0), np.arange(5.0), tmp_path / "plots" / "predicted_vs_actual.png")
    plots.predicted_vs_actual(np.arange(5.0), np.arange(5.0), tmp_path / "plots" / "extra_view.png")
    metrics = {"recipe": "demo", "task": "regression", "train_seconds": 1.5, "seed": 0,
               "test": {"n": 5, "rmse": 0.5, "mae": 0.4, "r2": 0.9,
                        "baseline": {"name": "mean of the training targets", "rmse": 2.0, "mae": 1.5, "r2": 0.0}},
               "notes": ["The model beats the mean predictor <clearly>."], "versions": {"torch": "x"}}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "config.yaml").write_text("name: demo\n")
    html = build_report(tmp_path).read_text()
    assert html.count("data:image/png;base64,") == 2
    assert "Predicted vs actual on the test set" in html and "extra view" in html
    assert "&lt;clearly&gt;" in html  # text is escaped
    md = (tmp_path / "report.md").read_text()
    assert "| rmse | 0.5000 | 2.0000 |" in md
    assert md.index("predicted_vs_actual.png") < md.index("extra_view.png")  # known plots first


def test_device_selection():
    from corenets.errors import ConfigError
    from corenets.train.device import select_device

    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in ("cpu", "cuda", "mps")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU; use --device cpu"):
            select_device("cuda")
