"""model.members: an ensemble trains like its members trained alone and predicts their averaged probabilities."""

import copy

import pytest
import torch

from corenets.config import TrainConfig, apply_overrides
from corenets.errors import ConfigError
from corenets.models import build_model, create_model
from corenets.models.ensemble import Ensemble, average_outputs
from corenets.train.loop import fit, predict_outputs

from test_loop import blobs


def test_binary_average_is_the_logit_of_the_mean_probability():
    outs = torch.tensor([[[2.0], [-1.0], [0.0]], [[-0.5], [3.0], [0.0]], [[1.0], [1.0], [0.0]]])
    got = average_outputs(outs, "binary")
    assert torch.allclose(torch.sigmoid(got), torch.sigmoid(outs).mean(0), atol=1e-6)
    # confident members stay finite and ordered (no clamped ties at 0 or 1)
    far = average_outputs(torch.tensor([[[60.0], [80.0], [-70.0]], [[50.0], [90.0], [-90.0]]]), "binary")
    assert torch.isfinite(far).all() and far[1] > far[0] > 0 > far[2]


def test_multiclass_average_is_the_log_of_the_mean_probability():
    outs = torch.randn(4, 5, 3, generator=torch.Generator().manual_seed(0)) * 3
    got = average_outputs(outs, "multiclass")
    assert torch.allclose(got.softmax(-1), outs.softmax(-1).mean(0), atol=1e-6)
    assert torch.allclose(got.exp().sum(-1), torch.ones(5), atol=1e-5)  # already log-probabilities


def test_regression_average_is_the_mean_value():
    outs = torch.tensor([[[1.0], [4.0]], [[3.0], [-2.0]]])
    assert torch.equal(average_outputs(outs, "regression"), torch.tensor([[2.0], [1.0]]))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_members_train_exactly_as_they_would_alone(optimizer):
    """Same start, same batches: the ensemble's members end where the two models trained one by one end.

    With SGD a mean of the losses would halve each member's steps, and a clip of the joint gradient norm
    would clip members that alone stay under the limit; both are caught here.
    """
    bundle = blobs(task="multiclass")
    torch.manual_seed(0)
    members = [create_model("mlp", (4,), 3, hidden=[8]) for _ in range(2)]
    alone = [copy.deepcopy(m) for m in members]
    cfg = TrainConfig(epochs=3, batch_size=16, lr=0.05, optimizer=optimizer, grad_clip=0.5)
    ens = Ensemble(members, "multiclass")
    hist = fit(ens, bundle, cfg, seed=3)
    alone_hist = [fit(m, bundle, cfg, seed=3) for m in alone]
    for a, b in zip(alone, ens.members):
        for pa, pb in zip(a.parameters(), b.parameters()):
            assert torch.allclose(pa, pb, atol=1e-5)
    ref = average_outputs(torch.stack([predict_outputs(m, bundle.val.x) for m in alone]), "multiclass")
    assert torch.allclose(predict_outputs(ens, bundle.val.x), ref, atol=1e-5)
    # the logged training loss is the members' mean, on a single model's scale
    for epoch in range(3):
        mean = sum(h.rows[epoch]["train_loss"] for h in alone_hist) / 2
        assert hist.rows[epoch]["train_loss"] == pytest.approx(mean, rel=1e-5)


def test_members_start_from_different_draws():
    torch.manual_seed(0)
    ens = build_model("mlp", (4,), 1, {"hidden": [8]}, members=3, task="binary")
    assert isinstance(ens, Ensemble) and len(ens.members) == 3
    w = [m.net[0].weight if hasattr(m, "net") else next(m.parameters()) for m in ens.members]
    assert not torch.equal(w[0], w[1]) and not torch.equal(w[1], w[2])
    assert not isinstance(build_model("mlp", (4,), 1, {}, members=1, task="binary"), Ensemble)


@pytest.mark.parametrize("members", [0, -2, 65])
def test_a_bad_member_count_is_a_clear_error(members):
    with pytest.raises(ConfigError, match=f"model.members={members} must be between 1"):
        build_model("mlp", (4,), 3, {}, members=members, task="multiclass")


def test_members_is_a_model_key_of_a_recipe():
    from corenets.recipes import load_recipe

    cfg = apply_overrides(load_recipe("breast-cancer-lstm"), ["model.members=3"])
    assert cfg.model.members == 3 and "members" not in cfg.model.options
    with pytest.raises(ConfigError, match="members"):
        apply_overrides(cfg, ["model.members=three"])


def test_an_ensemble_run_saves_loads_and_predicts_its_average(tmp_path):
    from corenets.experiment import run_config
    from corenets.recipes import load_recipe
    from corenets.runs import load_run
    import json

    cfg = apply_overrides(load_recipe("breast-cancer-ann"), ["model.members=3", "train.epochs=3", f"out={tmp_path}"])
    run_dir = run_config(cfg, quiet=True)
    run = load_run(run_dir)
    assert isinstance(run.model, Ensemble) and len(run.model.members) == 3
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["members"] == 3 and "ensemble of 3 copies" in (run_dir / "report.md").read_text()
    single = create_model("mlp", (30,), 1, **cfg.model.options)
    assert metrics["parameters"] == 3 * sum(p.numel() for p in single.parameters())
    assert metrics["test"]["accuracy"] > 0.85  # three briefly trained MLPs on breast cancer, averaged
    x = torch.randn(7, 30)
    members = torch.stack([torch.sigmoid(m(x)) for m in run.model.members])
    with torch.no_grad():
        assert torch.allclose(torch.sigmoid(run.model(x)), members.mean(0), atol=1e-6)
    onnx = pytest.importorskip("onnxruntime", reason="ONNX export needs the [export] extra")
    from corenets.export import TOLERANCE, export_run

    r = export_run(run_dir, "onnx", exporter="torchscript")  # the whole average, one graph
    assert onnx is not None and r.max_abs_diff <= TOLERANCE


def test_a_text_ensemble_exports_through_each_members_unpacked_twin():
    from corenets.export import UnpackedRecurrent, exportable

    torch.manual_seed(0)
    ens = build_model("gru", (12,), 1, {"hidden_size": 8, "vocab_size": 30, "embed_dim": 6}, members=2, task="binary")
    ens.eval()
    twin = exportable(ens)
    assert isinstance(twin, Ensemble) and all(isinstance(m, UnpackedRecurrent) for m in twin.members)
    x = torch.randint(1, 30, (5, 12))
    x[:, 7:] = 0  # padded rows
    x[0, 3:] = 0
    with torch.no_grad():
        assert torch.allclose(twin(x), ens(x), atol=1e-5)


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_a_confident_binary_average_keeps_its_digits_in_onnx(tmp_path, exporter):
    """Members sure of their answer (logits near +-11, as a trained SST-2 ensemble's): onnxruntime's sigmoid is
    coarse in its tails, so the average is written with softplus, which exports as itself."""
    pytest.importorskip("onnxruntime", reason="ONNX export needs the [export] extra")
    if exporter == "dynamo":
        pytest.importorskip("onnxscript", reason="torch.export's ONNX exporter needs onnxscript")
    from corenets.export import TOLERANCE, _onnx_export, _onnx_runner

    torch.manual_seed(0)
    members = [create_model("mlp", (4,), 1, hidden=[8]) for _ in range(3)]
    for i, m in enumerate(members):
        bias = list(m.parameters())[-1]  # the output layer's
        assert bias.shape == (1,)
        with torch.no_grad():
            bias.fill_(10.0 + i)
    ens = Ensemble(members, "binary").eval()
    x = torch.randn(16, 4)
    x[8:] *= -1
    with torch.no_grad():
        ref = ens(x)
    assert ref.abs().max() > 9  # confident
    path = tmp_path / "ens.onnx"
    _onnx_export(ens, x, path, dynamo=exporter == "dynamo", seq=False)
    got = torch.as_tensor(_onnx_runner(path)(x))
    assert (got - ref).abs().max() <= TOLERANCE
