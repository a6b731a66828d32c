"""The vision recipes run end to end on files in the official formats (1 epoch, tiny data); engine options work."""

from __future__ import annotations

import json

import pytest
import torch

import corenets as cn
from corenets.config import TrainConfig
from corenets.data import Split, load_dataset
from corenets.errors import ConfigError
from corenets.models import create_model
from corenets.train.loop import fit
from vision_fixtures import write_cifar, write_mnist_like

SMALL = {"cifar10-fast": ["model.width=8"], "cifar10-cnn-bn": ["model.widths=[8, 16]", "model.dense=16"],
         "fashion-mnist-cnn-bn": ["model.widths=[8, 16]", "model.dense=16"]}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CORENETS_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CORENETS_OFFLINE", "1")


@pytest.mark.parametrize("recipe", ["cifar10-cnn", "cifar10-cnn-bn", "cifar10-fast", "fashion-mnist-cnn", "fashion-mnist-cnn-bn"])
def test_vision_recipe_end_to_end_on_format_fixture(tmp_path, recipe):
    folder = write_cifar(tmp_path / "cifar") if recipe.startswith("cifar") else write_mnist_like(tmp_path / "idx")
    run = cn.run_recipe(recipe, f"data.path={folder}", "train.batch_size=32", *SMALL.get(recipe, []),
                        epochs=1, out=str(tmp_path / "runs"), quiet=True)
    m = json.loads((run / "metrics.json").read_text())
    assert m["epochs_run"] == 1 and 0.0 <= m["test"]["accuracy"] <= 1.0
    assert (run / "model.pt").is_file()


def _digits_fit(**train):
    torch.manual_seed(0)
    b = load_dataset("digits")
    b.train = Split(b.train.x[:600], b.train.y[:600])  # small enough for the fast suite
    model = create_model("small_cnn", b.input_shape, b.num_outputs)
    hist = fit(model, b, TrainConfig(epochs=1, batch_size=32, lr=3e-3, **train), seed=0)
    return hist.rows[-1]


def test_engine_options_train_a_cnn():
    base = _digits_fit()
    assert base["val_accuracy"] > 0.6
    # channels_last changes memory layout only: the same numbers up to float rounding
    cl = _digits_fit(channels_last=True)
    assert abs(cl["val_loss"] - base["val_loss"]) < 1e-3
    aug = _digits_fit(augment="translate:1,cutout:2", precision="bf16", tta="flip")
    assert aug["val_accuracy"] > 0.3 and aug["train_loss"] != base["train_loss"]


def test_fp16_needs_cuda_and_bad_augment_spec_is_caught():
    b = load_dataset("digits")
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        fit(create_model("small_cnn", b.input_shape, 10), b, TrainConfig(epochs=1, precision="fp16"))
    with pytest.raises(ConfigError, match="unknown op 'rot'"):
        fit(create_model("small_cnn", b.input_shape, 10), b, TrainConfig(epochs=1, augment="rot:3"))


def test_precision_auto_picks_native_bf16_or_fp32():
    from corenets.train.precision import resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32")
    assert resolve_precision("fp32", cpu) == "fp32"
