"""as_sequence views: images as rows, tables as features; predict redoes the reshape."""

import numpy as np
import pytest
import torch

from corenets.data import Preprocessing, load_dataset
from corenets.errors import ConfigError, DataError


def test_rows_view_of_images():
    plain = load_dataset("digits")
    seq = load_dataset("digits", as_sequence="rows")
    assert seq.input_shape == (8, 8)
    torch.testing.assert_close(seq.train.x, plain.train.x[:, 0])
    # a saved preprocessing turns raw pixels into the same sequences
    pre = Preprocessing.from_dict(seq.preprocessing.to_dict())
    from sklearn.datasets import load_digits

    raw = load_digits().images[:5]
    torch.testing.assert_close(pre.transform(raw), plain.preprocessing.transform(raw)[:, 0])
    assert pre.shape == (1, 8, 8)  # inner attributes stay reachable


def test_features_view_of_table():
    seq = load_dataset("breast_cancer", as_sequence="features")
    assert seq.input_shape == (30, 1) and seq.task == "binary"
    pre = Preprocessing.from_dict(seq.preprocessing.to_dict())
    from sklearn.datasets import load_breast_cancer

    x = pre.transform(load_breast_cancer().data[:3])
    assert x.shape == (3, 30, 1)


def test_wrong_view_is_a_clear_error():
    with pytest.raises(DataError, match="as_sequence=rows needs images"):
        load_dataset("breast_cancer", as_sequence="rows")
    with pytest.raises(ConfigError, match="as_sequence"):
        load_dataset("digits", as_sequence="columns")


def test_mnist_lstm_recipe_runs_on_the_format_fixture(tmp_path):
    """No MNIST offline here: the recipe runs on files in the official IDX format."""
    import json

    from vision_fixtures import write_mnist_like

    from corenets.config import apply_overrides
    from corenets.experiment import run_config
    from corenets.recipes import load_recipe

    folder = write_mnist_like(tmp_path / "idx", n_train=120, n_test=40)
    cfg = apply_overrides(load_recipe("mnist-lstm"), [f"data.path={folder}", "train.epochs=1", "model.hidden_size=16",
                                                      f"out={tmp_path / 'runs'}"])
    run = run_config(cfg, quiet=True)
    m = json.loads((run / "metrics.json").read_text())
    assert m["data"]["input_shape"] == [28, 28] and m["data"]["test"] == 40
