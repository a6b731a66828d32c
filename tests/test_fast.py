"""Speed-recipe features: airnet's whitening init, BN-bias lr groups, the linear schedule, lookahead EMA,
the cifar10-fast and fashion-mnist-fast recipes end to end on format fixtures, and the time-to-accuracy harness."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

import corenets as cn
from corenets.config import TrainConfig
from corenets.errors import ConfigError
from corenets.models import create_model
from corenets.train.ema import Lookahead
from corenets.train.optim import make_optimizer, make_schedule
from vision_fixtures import write_cifar, write_mnist_like

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("CORENETS_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CORENETS_OFFLINE", "1")


def test_whitening_filters_decorrelate_training_patches():
    g = torch.Generator().manual_seed(0)
    # correlated pixels: a smooth random image (neighbours share most of their value)
    x = torch.nn.functional.avg_pool2d(torch.randn(64, 3, 35, 35, generator=g), 4, stride=1)  # (64, 3, 32, 32)
    model = create_model("airnet", (3, 32, 32), 10, width=8)
    model.init_from_data(x)
    whiten = model[0]
    assert whiten.weight.shape == (24, 3, 2, 2) and not whiten.weight.requires_grad
    out = torch.nn.functional.conv2d(x, whiten.weight[:12])  # the + half of the filters
    feats = out.permute(0, 2, 3, 1).reshape(-1, 12)
    cov = torch.cov(feats.T)
    off = cov - torch.diag(torch.diag(cov))
    assert off.abs().max() < 1e-3  # no correlation left between the filters' outputs
    assert (torch.diag(cov) > 0.8).all() and (torch.diag(cov) < 1.01).all()  # unit variance, up to eps on tiny eigenvalues
    assert torch.equal(whiten.weight[12:], -whiten.weight[:12])


def test_airnet_bn_has_bias_only_and_convs_start_as_identity():
    model = create_model("airnet", (1, 28, 28), 10, width=4, multipliers=[1, 2])
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(not b.weight.requires_grad and b.bias.requires_grad for b in bns)
    conv = model[2][0]  # first conv of the first group: 8 whitened channels -> 4
    assert torch.equal(conv.weight[:, :, 1, 1][:, :4], torch.eye(4))
    with pytest.raises(ConfigError, match="bn_momentum"):
        create_model("airnet", (1, 28, 28), 10, bn_momentum=0)


def test_bn_bias_lr_scale_makes_a_second_group_with_the_same_lr_times_decay():
    model = create_model("airnet", (1, 28, 28), 10, width=4)
    cfg = TrainConfig(optimizer="sgd", lr=0.1, weight_decay=5e-4, bn_bias_lr_scale=64, schedule="onecycle", epochs=1)
    opt = make_optimizer(model, cfg)
    main, norm = opt.param_groups
    n_bn = sum(1 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert len(norm["params"]) == n_bn and norm["lr"] == pytest.approx(6.4)
    assert norm["lr"] * norm["weight_decay"] == pytest.approx(main["lr"] * main["weight_decay"])
    sched, _ = make_schedule(opt, cfg, 10)
    for _ in range(3):  # one-cycle peaks each group at its own rate
        opt.step()
        sched.step()
    assert opt.param_groups[1]["lr"] == pytest.approx(64 * opt.param_groups[0]["lr"])
    assert len(make_optimizer(model, TrainConfig()).param_groups) == 1
    with pytest.raises(ConfigError, match="bn_bias_lr_scale"):
        make_optimizer(model, TrainConfig(bn_bias_lr_scale=0))


def test_linear_schedule_rises_then_falls_to_zero():
    p = torch.nn.Parameter(torch.zeros(1))
    cfg = TrainConfig(optimizer="sgd", lr=1.0, schedule="linear", warmup=0.2, epochs=1)
    opt = make_optimizer(torch.nn.Linear(1, 1), cfg)
    sched, interval = make_schedule(opt, cfg, 10)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert interval == "step" and p is not None
    assert lrs == pytest.approx([0.5, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125])
    with pytest.raises(ConfigError, match="warmup"):
        make_schedule(opt, TrainConfig(schedule="linear", warmup=1.5), 10)


def test_lookahead_pulls_weights_to_their_average_and_ends_there():
    lin = torch.nn.Linear(1, 1, bias=False)
    lin.weight.data.fill_(0.0)
    la = Lookahead(lin, decay=0.5, every=1, total_steps=1)  # full ramp at once: d = 0.5 per step
    lin.weight.data.fill_(1.0)
    la.step(lin)
    assert lin.weight.item() == pytest.approx(0.5)  # avg 0 -> 0.5, and the weights restart from it
    lin.weight.data.fill_(1.5)
    la.finish(lin)
    assert lin.weight.item() == pytest.approx(1.0) and la.state_dict()["avg"]["weight"].item() == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="train.ema"):
        Lookahead(lin, decay=1.5, every=1, total_steps=1)


@pytest.mark.parametrize("recipe,sets", [
    ("cifar10-fast", ["model.width=8"]),
    ("fashion-mnist-fast", ["model.width=4"]),
])
def test_fast_recipes_run_end_to_end_on_format_fixtures(tmp_path, offline, recipe, sets):
    folder = write_cifar(tmp_path / "cifar") if recipe.startswith("cifar") else write_mnist_like(tmp_path / "idx")
    run = cn.run_recipe(recipe, f"data.path={folder}", "train.batch_size=32", "train.precision=fp32", *sets,
                        epochs=1, out=str(tmp_path / "runs"), quiet=True)
    m = json.loads((run / "metrics.json").read_text())
    assert m["epochs_run"] == 1 and 0.0 <= m["test"]["accuracy"] <= 1.0
    state = torch.load(run / "model.pt", weights_only=True)["state_dict"]
    whiten = state["0.weight"]  # set from the training images, saved, and loaded for predict
    assert whiten.abs().sum() > 0 and torch.equal(whiten[len(whiten) // 2:], -whiten[:len(whiten) // 2])
    pred = cn.load_run(run).predict(torch.randint(0, 255, (2, *m["data"]["input_shape"])).numpy().astype("uint8"))
    assert pred.proba.shape == (2, 10)


def test_time_to_accuracy_harness_writes_curve_json_and_plot(tmp_path, offline):
    spec = importlib.util.spec_from_file_location("tta", ROOT / "benchmarks" / "time_to_accuracy.py")
    tta = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tta)
    folder = write_mnist_like(tmp_path / "idx", n_train=300, n_test=60)
    peer = tmp_path / "peer.jsonl"
    peer.write_text('{"epoch": 1, "train_seconds": 1.0, "test_accuracy": 0.5}\n{"final": {}}\n')
    out = tmp_path / "tta.json"
    res = tta.main(["--recipe", "fashion-mnist-fast", "--seeds", "0", "--checkpoints", "0", "--target", "0.0",
                    "--set", f"data.path={folder}", "--set", "model.width=4", "--set", "train.epochs=1",
                    "--set", "train.batch_size=64", "--peer-jsonl", str(peer), "--out", str(out)])
    saved = json.loads(out.read_text())
    run = saved["corenets"]["1"][0]
    assert len(run["points"]) == 2 and run["points"][0]["seconds"] <= run["final"]["seconds"]  # checkpoint 0 + end
    assert 0 <= run["final"]["test_accuracy"] <= 1 and saved["summary"]["1"]["seconds_to_target"] == [run["points"][0]["seconds"]]
    assert saved["summary"]["peer"] == {"final_test_accuracy": 0.5, "train_seconds": 1.0, "seconds_to_target": 1.0}
    assert out.with_suffix(".png").stat().st_size > 1000 and res["recipe"] == "fashion-mnist-fast"
