"""The optimisers follow torch.optim step for step on the same problem, and the fit loop works and guards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corenets.errors import TrainingError
from corenets.scratch import Tensor, fit, losses, nn, optim

rng = np.random.default_rng(3)
X = rng.normal(size=(16, 4))
Y = rng.integers(0, 3, size=16)

CASES = {
    "sgd": (lambda p: optim.SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "momentum": (lambda p: optim.SGD(p, lr=0.1, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    "nesterov_wd": (lambda p: optim.SGD(p, lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01),
                    lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01)),
    "rmsprop": (lambda p: optim.RMSprop(p, lr=0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    "rmsprop_centered_momentum": (
        lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True, weight_decay=0.1),
        lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
    "adam": (lambda p: optim.Adam(p, lr=0.05), lambda p: torch.optim.Adam(p, lr=0.05)),
    "adam_betas_wd": (lambda p: optim.Adam(p, lr=0.01, betas=(0.8, 0.9), weight_decay=0.05),
                      lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.9), weight_decay=0.05)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_optimizer_matches_torch_for_20_steps(name):
    make_mine, make_theirs = CASES[name]
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)).double()
    mine = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    mine.load_state_dict(theirs.state_dict())
    start = mine.state_dict()
    opt, opt_t = make_mine(mine.parameters()), make_theirs(theirs.parameters())
    for _ in range(20):
        opt.zero_grad()
        losses.cross_entropy(mine(Tensor(X)), Y).backward()
        opt.step()
        opt_t.zero_grad()
        torch.nn.functional.cross_entropy(theirs(torch.tensor(X)), torch.tensor(Y)).backward()
        opt_t.step()
    for (name_, p), q in zip(mine.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.data, q.detach().numpy(), atol=1e-6, err_msg=name_)
    assert np.abs(mine.state_dict()["0.weight"] - start["0.weight"]).max() > 1e-3  # it did move


def test_fit_learns_a_separable_problem_and_records_history():
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(2, 8, rng=np.random.default_rng(0)), nn.ReLU(),
                          nn.Linear(8, 2, rng=np.random.default_rng(1)))
    hist = fit(model, losses.cross_entropy, optim.Adam(model.parameters(), lr=0.05), x[:150], y[:150],
               epochs=15, batch_size=32, validation=(x[150:], y[150:]))
    assert len(hist.rows) == 15 and hist.rows[-1]["train_loss"] < hist.rows[0]["train_loss"]
    assert hist.rows[-1]["val_accuracy"] >= 0.9 and hist.rows[-1]["train_accuracy"] >= 0.9
    assert set(hist.rows[0]) == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"}


def test_early_stopping_stops_and_restores_the_best_weights():
    x = rng.normal(size=(40, 3))
    y = rng.integers(0, 2, size=40)  # pure noise: validation loss soon rises
    model = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 2))
    seen = []
    hist = fit(model, losses.cross_entropy, optim.Adam(model.parameters(), lr=0.05), x[:20], y[:20],
               epochs=200, batch_size=5, validation=(x[20:], y[20:]), patience=3,
               on_epoch=lambda row: seen.append(model.state_dict()))
    assert hist.stopped_early and len(hist.rows) == hist.best_epoch + 3 < 200
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, seen[hist.best_epoch - 1][name])


def test_fit_stops_on_nan_with_a_clear_message():
    x = rng.normal(size=(32, 2)) * 1e3
    y = rng.normal(size=(32, 1)) * 1e3
    model = nn.Sequential(nn.Linear(2, 16), nn.Linear(16, 1))
    with pytest.raises(TrainingError, match="lower the learning rate"), np.errstate(all="ignore"):
        fit(model, losses.mse_loss, optim.SGD(model.parameters(), lr=10.0), x, y, epochs=50, batch_size=8)
