"""corenets lr-find / cn.lr_find: the range test runs on a copy, and suggests a rate where the loss falls fastest."""

import math

import numpy as np
import pytest
import torch

import corenets as cn
from corenets import cli
from corenets.tune.lr_find import range_test, smooth, suggest

SMALL = ["model.hidden=[32]", "train.batch_size=32"]


def test_range_test_leaves_the_model_untouched_and_suggests_inside_the_ramp():
    from corenets.experiment import prepare
    from corenets.recipes import load_recipe
    from corenets.config import set_values, parse_override

    cfg = set_values(load_recipe("quickstart"), [parse_override(t) for t in SMALL])
    run = prepare(cfg, quiet=True)
    before = {k: v.clone() for k, v in run.engine.model.state_dict().items()}
    r = range_test(run.engine.model, run.bundle, cfg.train, run.engine.device, 1e-6, 1.0, 80)
    after = run.engine.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # batch-norm statistics too
    assert 10 <= len(r.lrs) <= 80 and r.lrs[0] == pytest.approx(1e-6)
    assert all(b > a for a, b in zip(r.lrs, r.lrs[1:]))  # exponential: each step's rate above the last
    assert r.lrs[1] / r.lrs[0] == pytest.approx((1.0 / 1e-6) ** (1 / 79))
    assert r.lrs[0] < r.suggestion < r.lrs[-1]
    assert min(r.losses) < r.losses[0]  # the ramp did train the copy


def test_suggestion_is_the_steepest_descent_of_the_smoothed_curve():
    lrs = list(np.logspace(-6, 0, 61))
    # a loss flat until 1e-4, falling fastest at 1e-3 (a logistic step in log lr), then blowing up past 0.1
    x = np.log10(lrs)
    losses = list(2.0 - 1.5 / (1 + np.exp(-(x + 3) * 4)) + np.where(x > -1, (x + 1) * 20, 0))
    got = suggest(lrs, losses)
    assert 10**-3.3 < got < 10**-2.7
    assert smooth([1.0, 1.0, 1.0]) == pytest.approx([1.0, 1.0, 1.0])  # bias-corrected: no ramp from zero


def test_cli_prints_the_suggestion_and_the_set_argument(tmp_path, capsys):
    plot = tmp_path / "lr.png"
    code = cli.main(["lr-find", "quickstart", "--steps", "60", "--set", *SMALL, "--out", str(plot)])
    out, err = capsys.readouterr()
    assert code == 0, err
    lr = float(out.split("--set train.lr=")[1].split()[0])
    assert 1e-7 < lr < 10 and math.isfinite(lr)
    assert plot.stat().st_size > 1000
    assert not list(tmp_path.glob("quickstart-*"))  # no run folder: nothing trained for real


def test_api_returns_the_curve(tmp_path):
    r = cn.lr_find("quickstart", *SMALL, steps=40, out=tmp_path / "lr.png")
    assert len(r.lrs) == len(r.losses) == len(r.smoothed) and r.plot.is_file()
    assert r.set_argument == f"--set train.lr={r.suggestion:.3g}"


def test_bad_ramp_is_one_line(capsys):
    assert cli.main(["lr-find", "quickstart", "--start-lr", "1", "--end-lr", "0.1"]) == 2
    assert "start-lr" in capsys.readouterr().err


@pytest.mark.parametrize("precision", ["auto", "bf16"])
def test_a_recipe_with_mixed_precision_runs_the_range_test_in_it(tmp_path, precision):
    """fashion-mnist-cnn says precision: auto; the range test used to pass "auto" to torch.autocast (a KeyError)."""
    import corenets.train.loop as loop
    import corenets.train.precision as prec

    seen = []
    real = prec.autocast
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop, "autocast", lambda device, p: seen.append(p) or real(device, p))
        r = cn.lr_find("quickstart", *SMALL, f"train.precision={precision}", steps=30, out=tmp_path / "lr.png")
    assert len(r.lrs) >= 10 and math.isfinite(r.suggestion)
    resolved = prec.resolve_precision(precision, torch.device("cpu"))
    assert seen and set(seen) == {resolved}  # the same precision `corenets run` trains in
