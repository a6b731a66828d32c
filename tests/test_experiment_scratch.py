"""engine: scratch: a recipe trained by the NumPy engine writes the same run folder as a torch run."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import corenets
from corenets.cli import main
from corenets.config import apply_overrides
from corenets.errors import ConfigError
from corenets.experiment import load_data
from corenets.experiment_scratch import check_supported, train_scratch
from corenets.models import create_model
from corenets.recipes import load_recipe


def _cfg(*sets: str):
    return apply_overrides(load_recipe("scratch-mlp-digits"), ["train.epochs=2", *sets])


def test_scratch_weights_are_a_torch_mlp_checkpoint():
    cfg = _cfg("model.hidden=[32]", "model.dropout=0.0")
    bundle = load_data(cfg)
    _, history, out, state = train_scratch(cfg, bundle, quiet=True)
    assert [r["epoch"] for r in history.rows] == [1, 2]
    twin = create_model("mlp", bundle.input_shape, bundle.num_outputs, **cfg.model.options)
    twin.load_state_dict(state)  # same names and shapes as the torch mlp
    with torch.no_grad():
        np.testing.assert_allclose(twin.eval()(bundle.test.x).numpy(), out, atol=1e-4)
    assert (out.argmax(1) == bundle.test.y.numpy()).mean() > 0.8


def test_run_recipe_writes_a_full_run_folder(tmp_path):
    run_dir = corenets.run_recipe("scratch-mlp-digits", "model.hidden=[32]", epochs=3, out=str(tmp_path), quiet=True)
    for name in ["config.yaml", "model.pt", "history.csv", "metrics.json", "summary.txt", "report.html",
                 "plots/curves.png", "plots/confusion.png"]:
        assert (run_dir / name).is_file(), name
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["engine"] == "scratch" and m["epochs_run"] == 3 and m["test"]["accuracy"] > 0.85
    assert "engine: scratch" in (run_dir / "config.yaml").read_text()
    assert "Linear" in (run_dir / "summary.txt").read_text()
    # a fresh process (no loader imported yet) re-evaluates it with torch: model.pt is an ordinary mlp checkpoint
    done = subprocess.run([sys.executable, "-m", "corenets", "evaluate", str(run_dir)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    again = json.loads((run_dir / "metrics.json").read_text())["test"]["accuracy"]
    assert again == pytest.approx(m["test"]["accuracy"], abs=1e-9)


@pytest.mark.parametrize("sets,words", [
    (["model.batch_norm=true"], "batch norm"),
    (["train.schedule=cosine"], "schedule"),
    (["train.optimizer=adamw"], "adamw"),
    (["model.activation=gelu"], "activation"),
    (["train.grad_clip=1.0"], "grad_clip"),
])
def test_unsupported_options_are_errors_not_ignored(sets, words):
    cfg = _cfg(*sets)
    with pytest.raises(ConfigError, match=words):
        check_supported(cfg)  # before any data is loaded or any folder made


def test_scratch_engine_refuses_other_models():
    with pytest.raises(ConfigError, match="mlp only"):
        check_supported(_cfg("model.name=small_cnn"))


# ---------------------------------------------------------------- corenets explain


def test_cli_explain_prints_the_lesson_with_options(capsys):
    assert main(["explain", "epochs", "samples=50", "batch_size=10", "epochs=3"]) == 0
    out = capsys.readouterr().out
    assert "ceil(50 / 10) = 5" in out and "= 15 (counted" in out


def test_cli_explain_lists_topics_and_rejects_bad_input(capsys):
    assert main(["explain"]) == 0
    assert "forward-backward" in capsys.readouterr().out
    assert main(["explain", "backprop"]) == 2
    assert "choose one of: forward-backward" in capsys.readouterr().err
    assert main(["explain", "epochs", "samples=many"]) == 2
    assert "samples='many' is not a valid int" in capsys.readouterr().err


def test_cli_explain_optimizers_plot(tmp_path, capsys):
    png = tmp_path / "paths.png"
    assert main(["explain", "optimizers", "steps=5", "--plot", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
