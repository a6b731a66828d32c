"""Messages that do not mislead (issue 18): early stopping says so, compare across datasets or tasks says so and
gives each run its own baseline, and a run at or below its baseline is warned about everywhere it is read."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import corenets as cn
from corenets.cli import main
from corenets.compare import compare_runs
from corenets.experiment import baseline_warnings
from corenets.record import Metrics, write_metrics

# min_delta 100 on val_loss: nothing after epoch 1 counts as an improvement, so patience 1 stops at epoch 2
STOP_EARLY = ["--set", "train.early_stopping=1", "--set", "train.min_delta=100"]


def test_early_stopping_says_so_on_the_console_and_in_the_report(tmp_path, capsys):
    assert main(["run", "quickstart", "--epochs", "6", "--out", str(tmp_path), *STOP_EARLY]) == 0
    out = capsys.readouterr().out
    said = [line for line in out.splitlines() if "early stopping" in line.lower()]
    assert len(said) == 1, out
    assert "epoch 2" in said[0] and "val_loss" in said[0] and "epoch 1" in said[0]
    assert "epoch 3/6" not in out
    (run,) = tmp_path.iterdir()
    report = (run / "report.md").read_text()
    line = next(s for s in report.splitlines() if "stopped early" in s.lower())
    assert "epoch 2 of 6" in line and "val_loss" in line and "epoch 1" in line and "kept" in line
    m = json.loads((run / "metrics.json").read_text())
    assert m["epochs_run"] == 2 and m["best_epoch"] == 1 and "val_loss" in m["stopped"]


def test_early_stopping_in_a_notebook_says_so_and_keeps_the_best_epoch(capsys):
    bundle = cn.load_dataset("digits")
    torch.manual_seed(0)
    model = cn.create_model("mlp", bundle.input_shape, bundle.num_outputs, hidden=[8])
    history = cn.fit(model, bundle, cn.TrainConfig(epochs=6, early_stopping=1, min_delta=100), device="cpu")
    out = capsys.readouterr().out
    assert len(history.rows) == 2 and history.best_epoch == 1
    line = next(s for s in out.splitlines() if "early stopping" in s.lower())
    assert "epoch 2" in line and "val_loss" in line and "epoch 1" in line


def _finished(root, name, task, dataset, test, rows=None):
    run = root / name
    run.mkdir()
    write_metrics(run, Metrics(task=task, test=test, recipe=name, epochs_run=2, data={"dataset": dataset}))
    if rows:
        from corenets.files import write_history

        write_history(run / "history.csv", rows)
    return run


def _cls(acc, base, name="majority class ('0', from the training labels)"):
    return {"n": 10, "accuracy": acc, "balanced_accuracy": acc, "baseline": {"name": name, "accuracy": base,
                                                                             "balanced_accuracy": 0.5}}


def test_compare_across_datasets_says_so_and_gives_each_run_its_baseline(tmp_path):
    a = _finished(tmp_path, "a", "multiclass", "digits", _cls(0.95, 0.10, "majority class ('3', ...)"))
    b = _finished(tmp_path, "b", "binary", "breast_cancer", _cls(0.97, 0.63, "majority class ('benign', ...)"))
    text = compare_runs([a, b], tmp_path)
    assert "different datasets" in text and "digits" in text and "breast_cancer" in text
    assert "majority class ('3'" in text and "majority class ('benign'" in text
    assert "0.1000" in text and "0.6300" in text
    c = _finished(tmp_path, "c", "regression", "diabetes", {"n": 5, "rmse": 50.0, "mae": 40.0, "r2": 0.4,
                                                             "baseline": {"name": "mean of the training targets",
                                                                          "rmse": 70.0, "mae": 60.0, "r2": 0.0}})
    text = compare_runs([a, c], tmp_path)  # different tasks: said, not refused
    assert "different tasks" in text and "rmse" in text and "accuracy" in text and "70.0000" in text


def test_compare_of_one_dataset_keeps_one_baseline_line(tmp_path):
    a = _finished(tmp_path, "a", "multiclass", "digits", _cls(0.95, 0.10))
    b = _finished(tmp_path, "b", "multiclass", "digits", _cls(0.90, 0.10))
    text = compare_runs([a, b], tmp_path)
    assert "different" not in text and text.count("baseline (") == 1


@pytest.mark.parametrize("task,test,warned", [
    ("multiclass", _cls(0.10, 0.10), True),  # at the baseline
    ("binary", _cls(0.40, 0.63), True),
    ("binary", _cls(0.90, 0.63), False),
    ("regression", {"rmse": 71.0, "baseline": {"name": "mean of the training targets", "rmse": 70.0}}, True),
    ("regression", {"rmse": 50.0, "baseline": {"name": "mean of the training targets", "rmse": 70.0}}, False),
    ("multiclass", {"accuracy": {"mean": 0.1, "std": 0.01}, "baseline": {"name": "majority class", "accuracy": 0.12}},
     True),  # a cross-validation parent
])
def test_a_score_at_or_below_its_baseline_is_warned(task, test, warned):
    said = baseline_warnings(test, task)
    assert bool(said) == warned
    if warned:
        assert "baseline" in said[0] and ("accuracy" in said[0] or "rmse" in said[0])


def test_a_run_below_its_baseline_warns_on_the_console_in_the_report_and_in_metrics_json(tmp_path, capsys,
                                                                                         monkeypatch):
    from corenets.experiment_torch import TorchEngine

    # constant outputs: every row gets class 0 (malignant, the minority), so accuracy falls below the majority's
    monkeypatch.setattr(TorchEngine, "predict_outputs", lambda self, x: np.zeros((len(x), 1), np.float32))
    assert main(["run", "breast-cancer-ann", "--epochs", "1", "--quiet", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("warning:") and "baseline" in line for line in out.splitlines()), out
    (run,) = tmp_path.iterdir()
    m = json.loads((run / "metrics.json").read_text())
    assert m["warnings"] and "majority class" in m["warnings"][0]
    assert m["warnings"][0] in (run / "report.md").read_text()


def test_corenets_evaluate_rewrites_the_warnings_with_the_scores(tmp_path, capsys, monkeypatch):
    from corenets.experiment_torch import TorchEngine

    with monkeypatch.context() as m:  # a run scored below its baseline...
        m.setattr(TorchEngine, "predict_outputs", lambda self, x: np.zeros((len(x), 1), np.float32))
        assert main(["run", "breast-cancer-ann", "--epochs", "2", "--quiet", "--out", str(tmp_path),
                     "--set", "report.classical_baseline=false"]) == 0
    (run,) = tmp_path.iterdir()
    assert json.loads((run / "metrics.json").read_text())["warnings"]
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0  # ...re-scored with its real weights: the warning goes with the score
    assert "warning:" not in capsys.readouterr().out
    m = json.loads((run / "metrics.json").read_text())
    assert m["test"]["accuracy"] > m["test"]["baseline"]["accuracy"] and m["warnings"] == []
    assert "Warning:" not in (run / "report.md").read_text()
