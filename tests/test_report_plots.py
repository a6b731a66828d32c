"""The report's plots read well at the page's width: confusion numbers, many classes, 1-2 epoch runs, compare."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.axes import Axes

from corenets.evaluate import plots

PAGE_PX = 960  # report.html's content width (max-width 1000px less padding)


@pytest.fixture
def drawn(monkeypatch):
    """Every figure saved and every Axes.text call's font size, while the plot functions run."""
    seen = {"figs": [], "fonts": []}
    save, text = plots._save, Axes.text

    def keep(plt, fig, path):
        seen["figs"].append(fig)
        return save(plt, fig, path)

    def record(self, x, y, s, *a, **kw):
        seen["fonts"].append(kw.get("fontsize", 10))
        return text(self, x, y, s, *a, **kw)

    monkeypatch.setattr(plots, "_save", keep)
    monkeypatch.setattr(Axes, "text", record)
    return seen


def _png_width(path) -> int:
    return int.from_bytes(path.read_bytes()[16:20], "big")


def test_confusion_numbers_are_readable_at_the_page_width(tmp_path, drawn):
    rng = np.random.default_rng(0)
    cm = rng.integers(0, 30, (10, 10)) + np.diag(np.full(10, 900))
    path = plots.confusion(cm.tolist(), [f"class {i}" for i in range(10)], tmp_path / "c.png")
    shrink = min(1.0, PAGE_PX / _png_width(path))  # the browser scales a wider image down to the page
    px = min(drawn["fonts"]) * 110 / 72 * shrink  # font points -> pixels at 110 dpi, then on the page
    assert len(drawn["fonts"]) == 100 and px >= 11, px  # was ~7 px: 7 pt in a 1540 px-wide two-panel figure


def test_many_classes_show_the_top_confusions_not_a_matrix(tmp_path, drawn):
    k = 40
    cm = np.diag(np.full(k, 50))
    cm[3, 7], cm[7, 3], cm[12, 30] = 25, 9, 4
    plots.confusion(cm.tolist(), [f"c{i}" for i in range(k)], tmp_path / "c.png", top=20)
    ax = drawn["figs"][0].axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["c3 -> c7", "c7 -> c3", "c12 -> c30"]  # only real confusions, most frequent first
    assert len(drawn["fonts"]) == 3 and "3 most frequent confusions of 40 classes" in ax.get_title()


@pytest.mark.parametrize("epochs", [1, 2])
def test_short_run_curves_are_not_dots_on_a_fractional_axis(tmp_path, drawn, epochs):
    rows = [{"epoch": e, "train_loss": 0.5 / e, "val_loss": 0.6 / e, "train_rmse": 0.02, "val_rmse": 0.021}
            for e in range(1, epochs + 1)]
    plots.curves(rows, tmp_path / "c.png", "rmse", unit="log return")
    loss, metric = drawn["figs"][0].axes[:2]
    lo, hi = loss.get_xlim()
    assert hi - lo >= 1  # was 0.96-1.04 for one epoch
    assert all(float(t).is_integer() for t in loss.get_xticks() if lo <= t <= hi)
    assert metric.get_ylabel() == "rmse (log return)"
    assert len(loss.texts) + len(metric.texts) == 4 * epochs  # each point carries its value


def test_compare_plot_has_whole_epoch_ticks(tmp_path, drawn):
    rows = [{"epoch": e, "val_accuracy": 0.8 + e / 100} for e in (1, 2)]
    plots.overlay_curves({"a": rows, "b": rows[:1]}, "val_accuracy", tmp_path / "o.png")
    ax = drawn["figs"][0].axes[0]
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_model_summary_gives_per_example_sizes_not_the_training_sets():
    import torch

    from corenets.evaluate.summary import model_summary
    from corenets.models import build_model

    torch.manual_seed(0)
    model = build_model("seed_cnn", (1, 28, 28), 10, {}, task="multiclass")
    train_x = torch.zeros(54_000, 1, 28, 28)  # said "Input size (MB): 169.34": the whole set behind a [:2] slice
    text = model_summary(model, train_x[:1], batch_size=64)
    assert "Input size" not in text and "Units." not in text and "Estimated Total Size" not in text
    assert "parameters: 93,322 (93,322 trainable), 0.37 MB as float32" in text
    # conv 26*26*32*9 + 11*11*64*288 + 3*3*64*576 + dense 576*64 + 64*10 = 2,824,266 multiply-adds per image
    assert "multiply-adds per example: 2.82 M" in text
    assert "per example" in text and "for a batch of 64" in text
    assert "[1, 32, 26, 26]" in text  # the layer table traces one example


def test_a_short_run_draws_its_loss_per_step(tmp_path, drawn):
    rows = [{"epoch": 1, "train_loss": 0.9, "val_loss": 0.7, "train_accuracy": 0.6, "val_accuracy": 0.7}]
    steps = [{"epoch": (i + 1) / 50, "train_loss": 2.3 - i / 30} for i in range(50)]
    plots.curves(rows, tmp_path / "c.png", "accuracy", steps=steps)
    loss = drawn["figs"][0].axes[0]
    per_step = [line for line in loss.get_lines() if len(line.get_xdata()) == 50]
    assert len(per_step) == 1 and per_step[0].get_label() == "train, each step"
    assert loss.get_xlim()[0] < 0.05  # the step axis starts at the first step, not at epoch 1


def test_one_epoch_runs_write_steps_csv_and_longer_ones_do_not(tmp_path):
    from corenets.config import apply_overrides
    from corenets.experiment import run_config
    from corenets.files import read_history
    from corenets.recipes import load_recipe

    def run(epochs):
        cfg = apply_overrides(load_recipe("quickstart"), [f"train.epochs={epochs}", f"out={tmp_path / str(epochs)}",
                                                          "report.classical_baseline=false"])
        return run_config(cfg, quiet=True)

    steps = read_history(run(1) / "steps.csv")
    assert len(steps) == 41 and steps[-1]["epoch"] == 1.0  # digits: 1,294 training rows in batches of 32
    assert not (run(4) / "steps.csv").exists()
