"""Train and validation metrics of a regression run in one unit (the target's), and the curve says which."""

from __future__ import annotations

import torch

from corenets.config import TrainConfig
from corenets.data import SplitSpec, load_dataset
from corenets.models import build_model
from corenets.train.loop import fit


def test_train_and_validation_rmse_share_the_targets_units():
    # stock-lstm's epoch line printed train_rmse 1.0007 (standardised) beside val_rmse 0.0103 (log returns)
    bundle = load_dataset("price_csv", SplitSpec(seed=0, val_fraction=0.1, test_fraction=0.2), target="log_returns",
                          window=10)
    torch.manual_seed(0)
    model = build_model("mlp", bundle.input_shape, 1, {"hidden": [4]}, task="regression")
    rows = fit(model, bundle, TrainConfig(epochs=1, lr=1e-7, batch_size=64, loss="mse")).rows
    train, val = rows[0]["train_rmse"], rows[0]["val_rmse"]
    assert train < 0.2 and val < 0.2  # daily log returns of MSFT: about 0.01-0.05, not ~1 (standard units)
    assert 0.2 < train / val < 5
