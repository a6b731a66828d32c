"""Layers and losses: with weights copied from their torch twins, the same outputs and the same gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corenets.scratch import ShapeError, Tensor, losses, nn

rng = np.random.default_rng(1)


def _twin_check(mine: nn.Module, theirs: torch.nn.Module, x: np.ndarray, train: bool = False):
    theirs = theirs.double()
    mine.load_state_dict(theirs.state_dict())
    mine.train(train), theirs.train(train)
    xs, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = mine(xs), theirs(xt)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), atol=1e-6)
    up = rng.normal(size=out.shape)
    out.backward(up)
    ref.backward(torch.tensor(up))
    np.testing.assert_allclose(xs.grad, xt.grad.numpy(), atol=1e-6)
    named = dict(theirs.named_parameters())
    assert [n for n, _ in mine.named_parameters()] == list(named)  # torch's names, in torch's order
    for name, p in mine.named_parameters():
        np.testing.assert_allclose(p.grad, named[name].grad.numpy(), atol=1e-6, err_msg=name)


def test_mlp_matches_torch():
    mine = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 5), nn.LeakyReLU(0.2),
                         nn.Linear(5, 3), nn.Tanh(), nn.Linear(3, 2), nn.Sigmoid())
    theirs = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8), torch.nn.ReLU(), torch.nn.Linear(8, 5),
                                 torch.nn.LeakyReLU(0.2), torch.nn.Linear(5, 3), torch.nn.Tanh(),
                                 torch.nn.Linear(3, 2), torch.nn.Sigmoid())
    _twin_check(mine, theirs, rng.normal(size=(4, 3, 4)))


def test_cnn_matches_torch():
    mine = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, stride=2),
                         nn.Flatten(), nn.Linear(6, 3))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                 torch.nn.Conv2d(4, 6, 3, stride=2), torch.nn.Flatten(), torch.nn.Linear(6, 3))
    _twin_check(mine, theirs, rng.normal(size=(2, 1, 8, 8)))


def test_default_init_follows_torch_bounds():
    layer = nn.Linear(100, 50, rng=np.random.default_rng(0))
    assert layer.weight.shape == (50, 100) and layer.bias.shape == (50,)
    assert 0.09 < np.abs(layer.weight.data).max() <= 0.1  # uniform in +-1/sqrt(100)
    assert layer.num_parameters() == 100 * 50 + 50


def test_parameters_zero_grad_train_eval():
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 1, bias=False))
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight"]
    losses.mse_loss(model(Tensor(np.ones((2, 3)))), np.zeros((2, 1))).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    assert not model[1].training
    x = Tensor(np.ones((2, 3)))
    np.testing.assert_array_equal(model(x).data, model(x).data)  # dropout is off in eval
    model.train()
    assert model[1].training


def test_dropout_zeroes_about_p_and_keeps_the_mean():
    drop = nn.Dropout(0.3, rng=np.random.default_rng(0))
    y = drop(Tensor(np.ones((200, 200)))).data
    assert abs((y == 0).mean() - 0.3) < 0.01
    assert abs(y.mean() - 1.0) < 0.02


def test_linear_rejects_the_wrong_width():
    with pytest.raises(ShapeError, match=r"Linear: input \(2, 5\) has 5 features, this layer takes 3"):
        nn.Linear(3, 1)(Tensor(np.ones((2, 5))))


def test_load_state_dict_names_a_bad_shape():
    with pytest.raises(ShapeError, match="weight has shape"):
        nn.Linear(3, 1).load_state_dict({"weight": np.ones((2, 3)), "bias": np.ones(1)})


# ---------------------------------------------------------------- losses

LOGITS = rng.normal(size=(5, 4)) * 3


@pytest.mark.parametrize("name", ["mse", "bce", "bce_logits", "bce_logits_extreme", "cross_entropy"])
def test_losses_match_torch(name, against_torch):
    y_bin = rng.integers(0, 2, size=(5, 1)).astype(float)
    y_cls = rng.integers(0, 4, size=5)
    cases = {
        "mse": (lambda p: losses.mse_loss(p, y_bin * 3), lambda p: torch.nn.functional.mse_loss(p, torch.tensor(y_bin * 3)),
                [LOGITS[:, :1]]),
        "bce": (lambda p: losses.binary_cross_entropy(p.sigmoid(), y_bin),
                lambda p: torch.nn.functional.binary_cross_entropy(p.sigmoid(), torch.tensor(y_bin)), [LOGITS[:, :1]]),
        "bce_logits": (lambda p: losses.binary_cross_entropy_with_logits(p, y_bin),
                       lambda p: torch.nn.functional.binary_cross_entropy_with_logits(p, torch.tensor(y_bin)),
                       [LOGITS[:, :1]]),
        "bce_logits_extreme": (lambda p: losses.binary_cross_entropy_with_logits(p, y_bin),
                               lambda p: torch.nn.functional.binary_cross_entropy_with_logits(p, torch.tensor(y_bin)),
                               [np.array([[800.0], [-800.0], [40.0], [-40.0], [0.0]])]),
        "cross_entropy": (lambda p: losses.cross_entropy(p, y_cls),
                          lambda p: torch.nn.functional.cross_entropy(p, torch.tensor(y_cls)), [LOGITS * 20]),
    }
    against_torch(*cases[name])


def test_loss_shape_mismatch_is_named():
    with pytest.raises(ShapeError, match=r"mse_loss: prediction shape \(5, 1\) differs from target shape \(5,\)"):
        losses.mse_loss(Tensor(np.ones((5, 1))), np.ones(5))
    with pytest.raises(ShapeError, match="class indices in"):
        losses.cross_entropy(Tensor(np.ones((2, 3))), np.array([0, 3]))
