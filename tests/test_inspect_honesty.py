"""Honest explanations: completeness of integrated gradients on every model family, the model randomisation
check (Adebayo et al., 2018), input ablation, and gate traces equal to corenets.scratch's cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("captum")

from corenets.data.sequence import SequencePreprocessing  # noqa: E402
from corenets.data.text import TextPreprocessing, build_vocab  # noqa: E402
from corenets.data.vision import ImagePreprocessing  # noqa: E402
from corenets.inspect.core import integrated_gradients, subject_of  # noqa: E402
from corenets.inspect.gates import gate_trace  # noqa: E402
from corenets.inspect.honesty import image_ablation, randomisation, text_ablation  # noqa: E402
from corenets.inspect.text import word_attributions  # noqa: E402
from corenets.models import build_model  # noqa: E402

IMG = ImagePreprocessing(shape=[1, 28, 28], scale=1 / 255, mean=[0.3], std=[0.25], mode="L")
VOCAB = build_vocab(["a good film", "a bad film", "great fun and moving", "dull and long", "not good at all"])


def _net(name, shape, k=4, members=1, task="multiclass", **opts):
    torch.manual_seed(0)
    return build_model(name, shape, k if task == "multiclass" else 1, opts, members, task).eval()


FAMILIES = [  # (model, input shape, options, input kind)
    ("mlp", (1, 28, 28), {}, IMG),
    ("seed_cnn", (1, 28, 28), {}, IMG),
    ("cnn_bn", (1, 28, 28), {"widths": [8, 16]}, IMG),
    ("small_cnn", (1, 8, 8), {}, IMG),
    ("airnet", (1, 28, 28), {}, IMG),
    ("rnn", (28, 28), {"hidden_size": 16}, SequencePreprocessing(mode="rows", inner=IMG.to_dict())),
    ("lstm", (28, 28), {"hidden_size": 16}, SequencePreprocessing(mode="rows", inner=IMG.to_dict())),
    ("gru", (1, 28, 28), {"hidden_size": 16}, IMG),
]


@pytest.mark.parametrize("name,shape,opts,kind", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_integrated_gradients_are_complete_on_every_family(name, shape, opts, kind):
    net = _net(name, shape, **opts)
    subject = subject_of(net, kind, "multiclass", list("abcd"))
    x = torch.randn(3, *shape)
    for i in range(3):
        cls = int(subject.proba(x[i:i + 1]).argmax())
        attr, gap = integrated_gradients(subject, x[i:i + 1], cls)
        assert attr.shape == shape
        assert gap < 0.01, f"{name}: completeness gap {gap:.4f}"


def test_integrated_gradients_are_complete_for_ensembles_flip_tta_and_binary():
    net = _net("seed_cnn", (1, 28, 28), members=3)
    x = torch.randn(2, 1, 28, 28)
    for tta in ("none", "flip"):
        subject = subject_of(net, IMG, "multiclass", list("abcd"), tta)
        assert any(("ensemble of 3" in n) for n in subject.notes)
        assert any("flip TTA" in n for n in subject.notes) == (tta == "flip")
        for i in range(2):
            assert integrated_gradients(subject, x[i:i + 1], 1)[1] < 0.01
    binary = subject_of(_net("mlp", (5,), task="binary"), IMG, "binary", ["no", "yes"])
    a1, gap = integrated_gradients(binary, torch.randn(1, 5), 1)
    a0, _ = integrated_gradients(binary, torch.randn(1, 5).zero_() + 0, 0)
    assert gap < 0.01
    # the evidence for class 0 is the evidence for class 1 with its sign turned
    x1 = torch.randn(1, 5)
    np.testing.assert_allclose(integrated_gradients(binary, x1, 0)[0], -integrated_gradients(binary, x1, 1)[0], rtol=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("subwords", [0, 40])
def test_word_attributions_are_complete(cell, subwords):
    kind = TextPreprocessing(vocab=VOCAB, max_len=12, **({"subwords": subwords, "slots": 6, "ngrams": [3, 5]} if subwords else {}))
    opts = {"hidden_size": 8, "embed_dim": 6}
    torch.manual_seed(1)
    net = build_model(cell, (12, 7) if subwords else (12,), 1, opts, 1, "binary", facts=kind.facts()).eval()
    subject = subject_of(net, kind, "binary", ["neg", "pos"])
    ids = kind.transform(["a good film and great fun", "not good at all"])
    for row in ids:
        real = (row[..., 0] if subwords else row) != 0
        attr, gap = word_attributions(subject, row[None, real], 1)
        assert attr.shape == (int(real.sum()),)
        assert gap < 0.01, f"{cell}: gap {gap:.4f}"


def test_word_attributions_of_an_ensemble_cover_every_member():
    kind = TextPreprocessing(vocab=VOCAB, max_len=12)
    torch.manual_seed(2)
    net = build_model("lstm", (12,), 1, {"hidden_size": 8, "embed_dim": 6}, 3, "binary", facts=kind.facts()).eval()
    subject = subject_of(net, kind, "binary", ["neg", "pos"])
    ids = kind.transform(["a good film and great fun"])
    attr, gap = word_attributions(subject, ids[:, :6], 1)
    assert gap < 0.01 and attr.shape == (6,)
    with torch.no_grad():
        f_x = net(ids[:, :6])[0, 0].item()
        for m in net.members:  # every member's words at the baseline (zero vectors): the ensemble's own change
            m.embed.weight.zero_()
        f_zero = net(ids[:, :6])[0, 0].item()
    assert abs(attr.sum() - (f_x - f_zero)) < 0.01 * abs(f_x - f_zero)


# ------------------------------------------------------------------ trained models on learnable images


@pytest.fixture(scope="module")
def trained_cnn():
    """seed_cnn trained on learnable bar images (class k: a bright band at row band k), and its test images."""
    from vision_fixtures import class_images


    xtr, ytr = class_images(400, 28, 1, 0, classes=4)
    torch.manual_seed(0)
    xte, yte = class_images(40, 28, 1, 1, classes=4)
    norm = lambda a: (torch.from_numpy(a).float() / 255 - 0.3) / 0.25  # noqa: E731
    x, y = norm(xtr), torch.from_numpy(ytr).long()
    net = build_model("seed_cnn", (1, 28, 28), 4, {}, 1, "multiclass")
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    torch.manual_seed(0)
    for _ in range(2):
        for i in torch.randperm(len(x)).split(32):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x[i]), y[i]).backward()
            opt.step()
    net.eval()
    xt = norm(xte)
    assert (net(xt).argmax(1).numpy() == yte).mean() > 0.9
    return net, xt, yte


def test_model_randomisation_check_on_a_trained_seed_cnn(trained_cnn, capsys):
    net, x, _ = trained_cnn
    trained = subject_of(net, IMG, "multiclass", list("abcd"))
    torch.manual_seed(123)
    fresh = subject_of(build_model("seed_cnn", (1, 28, 28), 4, {}, 1, "multiclass").eval(), IMG, "multiclass", list("abcd"))
    rho = randomisation(trained, fresh, x[:10])
    with capsys.disabled():
        print(f"\nmodel randomisation: Spearman(trained, re-initialised signed IG) = {rho:.3f} (must be < 0.5)")
    assert rho < 0.5
    assert randomisation(trained, trained, x[:3]) > 0.99  # the same weights agree: the statistic can tell


def test_input_ablation_on_a_trained_seed_cnn(trained_cnn, capsys):
    net, x, _ = trained_cnn
    subject = subject_of(net, IMG, "multiclass", list("abcd"))
    top, rand = image_ablation(subject, x[:20])
    with capsys.disabled():
        print(f"\ninput ablation (bars): top-10% pixels drop p by {top:.3f}, random 10% by {rand:.3f}")
    assert top > rand


# ------------------------------------------------------------------ gate traces


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gate_traces_match_the_scratch_cells_in_float64(kind):
    from corenets.scratch.engine import Tensor
    from corenets.scratch.recurrent import gru_step, lstm_step

    torch.manual_seed(0)
    rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](5, 7, batch_first=True).double()
    x = torch.randn(9, 5, dtype=torch.float64)
    trace = gate_trace(rnn, x)
    with torch.no_grad():
        out, _ = rnn(x[None])
    np.testing.assert_allclose(trace["h"].numpy(), out[0].numpy(), atol=1e-10)  # the trace is this network's
    w = [Tensor(p.detach().numpy()) for p in (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)]
    h, c = Tensor(np.zeros((1, 7))), Tensor(np.zeros((1, 7)))
    for t in range(len(x)):
        xt = Tensor(x[t:t + 1].numpy())
        if kind == "lstm":
            h, c, gates = lstm_step(xt, h, c, *w)
        else:
            h, gates = gru_step(xt, h, *w)
        for g, v in gates.items():
            np.testing.assert_allclose(trace[g][t].numpy(), v.data[0], atol=1e-6, rtol=0, err_msg=f"{kind} gate {g}, step {t}")
        np.testing.assert_allclose(trace["h"][t].numpy(), h.data[0], atol=1e-6, rtol=0)


# ------------------------------------------------------------------ real data (slow): input ablation

FASHION = "/usr/share/datasets/fashion-mnist"
SST2 = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"


def _trained(tmp_path, args) -> "object":
    from corenets.cli import main
    from corenets.runs import load_run

    assert main(["run", *args, "--quiet", "--out", str(tmp_path)]) == 0
    (run,) = [p for p in tmp_path.iterdir() if (p / "model.pt").is_file()]
    return load_run(run)


def _ablation_on_test(run, ablate, n: int = 100):
    from corenets.experiment import load_data
    from corenets.inspect.api import run_subject

    bundle = load_data(run.config)
    return ablate(run_subject(run), bundle.test.x[:n])


@pytest.mark.slow
@pytest.mark.skipif(not __import__("os").path.exists(f"{FASHION}/train-images-idx3-ubyte.gz"), reason="Debian's Fashion-MNIST is not installed")
def test_input_ablation_on_trained_fashion_mnist(tmp_path, capsys):
    run = _trained(tmp_path, ["fashion-mnist-cnn", "--epochs", "2", "--set", f"data.path={FASHION}"])
    top, rand = _ablation_on_test(run, image_ablation)
    with capsys.disabled():
        print(f"\nFashion-MNIST seed_cnn, 100 test images: deleting the top-10% IG pixels drops p(predicted) by "
              f"{top:.4f}, a random 10% by {rand:.4f}")
    assert top > rand


@pytest.mark.slow
@pytest.mark.skipif(not (SST2 / "train.tsv").is_file(), reason=f"SST-2 is not at {SST2}")
def test_input_ablation_on_trained_sst2(tmp_path, capsys):
    run = _trained(tmp_path, ["sst2-lstm", "--epochs", "1", "--set", f"data.path={SST2}"])
    top, rand = _ablation_on_test(run, text_ablation)
    with capsys.disabled():
        print(f"\nSST-2 sst2-lstm, 100 test sentences: deleting the top-10% words (by layer IG) drops p(predicted) "
              f"by {top:.4f}, a random 10% by {rand:.4f}")
    assert top > rand
