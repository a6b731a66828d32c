"""The notebook API (issue 18): every public name visible, fit as the CLI trains, and a notebook model given
what a CLI run gets: test metrics with baselines, a complete run folder, inline curves and a predictions grid."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import corenets as cn
from corenets import cli
from corenets.errors import ConfigError


@pytest.fixture(scope="module")
def digits():
    return cn.load_dataset("digits")


@pytest.fixture(scope="module")
def trained(digits):
    torch.manual_seed(0)
    model = cn.create_model("mlp", digits.input_shape, digits.num_outputs, hidden=[32])
    history = cn.fit(model, digits, cn.TrainConfig(epochs=3, lr=0.01), verbose=0)
    return model, history


@pytest.fixture(scope="module")
def saved(trained, digits, tmp_path_factory):
    model, history = trained
    return cn.save_run(model, digits, history, tmp_path_factory.mktemp("nb") / "digits-notebook")


def test_dir_shows_every_public_name_and_import_stays_lazy():
    names = dir(cn)
    for name in ("fit", "evaluate", "save_run", "load_dataset", "create_model", "load_run", "Run", "History",
                 "TrainConfig", "RunConfig", "run_recipe", "list_recipes", "CorenetsError"):
        assert name in names and name in cn.__all__
    assert all(getattr(cn, name) is not None for name in cn.__all__)
    assert "Any" not in names and "annotations" not in names  # the module's own imports are not public names
    code = "import sys, corenets; dir(corenets); print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # import and tab completion load neither torch nor numpy


def test_fit_uses_the_clis_device_rule_and_prints_a_line_per_epoch(digits, capsys, monkeypatch):
    from corenets import api

    asked = []
    monkeypatch.setattr(api, "select_device", lambda name: asked.append(name) or torch.device("cpu"))
    model = cn.create_model("mlp", digits.input_shape, digits.num_outputs, hidden=[8])
    cn.fit(model, digits, cn.TrainConfig(epochs=2))
    out = capsys.readouterr().out
    assert asked == ["auto"]
    assert [line.split()[:2] for line in out.splitlines() if line.startswith("epoch")] == [["epoch", "1/2"],
                                                                                         ["epoch", "2/2"]]
    assert "val_loss" in out
    cn.fit(model, digits, cn.TrainConfig(epochs=1), verbose=0)
    assert capsys.readouterr().out == ""


def test_the_progress_bar_is_tqdm_auto_and_shows_in_a_notebook(digits, monkeypatch):
    """Jupyter's stdout is not a terminal: the bar must not depend on isatty there."""
    import tqdm.auto

    from corenets.train import callbacks

    made = []

    class Bar:
        def __init__(self, **kw):
            made.append(kw)

        def update(self, n):
            pass

        def set_postfix(self, **kw):
            pass

        def close(self):
            pass

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    monkeypatch.setattr(callbacks, "in_notebook", lambda: True)
    model = cn.create_model("mlp", digits.input_shape, digits.num_outputs, hidden=[8])
    cn.fit(model, digits, cn.TrainConfig(epochs=2), device="cpu")
    assert len(made) == 2 and made[0]["total"] > 1
    made.clear()
    cn.fit(model, digits, cn.TrainConfig(epochs=1), device="cpu", verbose=2)  # Keras' verbose=2: lines, no bar
    assert made == []


def test_history_reads_as_keras_and_keeps_rows_and_column(trained):
    _, history = trained
    assert history.epoch == [0, 1, 2]  # Keras counts epochs from 0
    assert history.history["val_loss"] == history.column("val_loss") and len(history.rows) == 3
    assert history.history["loss"] == history.column("train_loss")  # Keras' name for the training loss
    assert history.history["accuracy"] == history.column("train_accuracy")
    assert history.best_epoch in (1, 2, 3) and history.config.epochs == 3


def test_evaluate_gives_test_metrics_with_baselines(trained, digits):
    model, _ = trained
    test = cn.evaluate(model, digits)
    assert test["n"] == len(digits.test) and test["accuracy"] > 0.8
    assert test["baseline"]["accuracy"] < 0.2 and "majority" in test["baseline"]["name"]
    assert "logistic regression" in test["classical"]["name"] and test["classical"]["metrics"]["accuracy"] > 0.8
    assert isinstance(test["warnings"], list)
    assert "classical" not in cn.evaluate(model, digits, classical=False)
    pred = model(digits.test.x[:5]).argmax(1).numpy()
    assert test["accuracy"] == pytest.approx(float(np.mean(
        model.eval()(digits.test.x).argmax(1).detach().numpy() == digits.test.y.numpy())))
    assert pred.shape == (5,)


def test_save_run_writes_the_folder_a_cli_run_writes(saved, trained, digits, capsys, tmp_path):
    names = {p.name for p in saved.iterdir()}
    assert {"config.yaml", "model.pt", "history.csv", "metrics.json", "summary.txt", "plots", "report.md",
            "report.html"} <= names
    m = json.loads((saved / "metrics.json").read_text())
    assert m["epochs_run"] == 3 and m["test"]["accuracy"] > 0.8 and m["data"]["dataset"] == "digits"
    assert "mlp(hidden=[32])" in m["description"] and "3 epochs" in m["description"]
    assert "curves.png" in {p.name for p in (saved / "plots").iterdir()}
    # predict: the folder alone answers as the model in memory does
    model, _ = trained
    run = cn.load_run(saved)
    proba = run.predict(digits.test.x[:20].numpy(), units="model").proba
    expected = torch.softmax(model.eval()(digits.test.x[:20]), 1).detach().numpy()
    assert np.allclose(proba, expected, atol=1e-5)
    # the CLI's commands on it: evaluate, compare (beside a CLI run), export
    assert cli.main(["evaluate", str(saved)]) == 0
    assert "test: accuracy" in capsys.readouterr().out
    assert cli.main(["run", "quickstart", "--epochs", "1", "--quiet", "--out", str(tmp_path / "runs")]) == 0
    (cli_run,) = (tmp_path / "runs").iterdir()
    capsys.readouterr()
    assert cli.main(["compare", str(saved), str(cli_run), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert saved.name in out and cli_run.name in out and "different" not in out
    pytest.importorskip("onnxruntime")
    assert cli.main(["export", str(saved), "--out", str(tmp_path / "exported")]) == 0


def test_a_saved_notebook_run_serves_and_predicts(saved, tmp_path, capsys):
    pytest.importorskip("fastapi")
    import io

    from fastapi.testclient import TestClient
    from PIL import Image
    from sklearn.datasets import load_digits

    from corenets.serve import create_app

    client = TestClient(create_app(saved))
    assert client.get("/info").json()["classes"] == [str(i) for i in range(10)]
    digit = load_digits().images[0]  # 0..16
    buf = io.BytesIO()
    Image.fromarray((digit * 255 / 16).astype(np.uint8), mode="L").save(buf, format="PNG")
    r = client.post("/predict", files=[("file", ("d.png", buf.getvalue(), "image/png"))])
    assert r.status_code == 200, r.text
    label = cn.load_run(saved).predict(buf.getvalue()).labels[0]
    assert f'"{label}"' in r.text
    png = tmp_path / "digit.png"  # and `corenets predict` on the folder says the same
    png.write_bytes(buf.getvalue())
    capsys.readouterr()
    assert cli.main(["predict", str(saved), str(png), "--json"]) == 0
    assert f'"{label}"' in capsys.readouterr().out


def test_save_run_refuses_a_model_it_cannot_rebuild(digits, trained, tmp_path):
    _, history = trained
    with pytest.raises(ConfigError, match="cn.create_model"):
        cn.save_run(torch.nn.Linear(64, 10), digits, history, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_save_run_refuses_a_folder_that_holds_files(trained, digits, saved):
    model, history = trained
    with pytest.raises(cn.CorenetsError, match="already holds"):
        cn.save_run(model, digits, history, saved)


def test_run_and_history_show_their_curves_inline(saved, trained):
    _, history = trained
    for obj in (cn.load_run(saved), history):
        html = obj._repr_html_()
        assert "<img" in html and "data:image/png;base64," in html
    picture = history.plot()  # the report's own curves, as PNG bytes Jupyter shows
    assert picture._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cn.load_run(saved).plot()._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_show_predictions_draws_images_with_predicted_and_true_labels(saved):
    fig = cn.load_run(saved).show_predictions(n=6)
    shown = [ax for ax in fig.axes if ax.get_title()]
    assert len(shown) == 6
    assert all(ax.images for ax in shown)  # each input drawn as an image by the image kind
    assert all(" / " in ax.get_title() for ax in shown)  # "predicted / true"
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"  # inline in Jupyter whatever its backend


def test_show_predictions_writes_text_inputs_as_words(tmp_path):
    from sklearn.datasets import make_classification  # noqa: F401  (scikit-learn is a dependency)

    sentences = [("a wonderful moving film", "pos"), ("dull and boring", "neg"), ("great fun", "pos"),
                 ("a bad long film", "neg")] * 20
    csv = tmp_path / "reviews.csv"
    csv.write_text("text,label\n" + "\n".join(f"{t},{y}" for t, y in sentences) + "\n")
    bundle = cn.load_dataset("text_csv", path=str(csv))
    model = cn.create_model("gru", bundle.input_shape, bundle.num_outputs, hidden_size=8,
                            vocab_size=bundle.facts["vocab_size"])
    history = cn.fit(model, bundle, cn.TrainConfig(epochs=1), device="cpu", verbose=0)
    run = cn.load_run(cn.save_run(model, bundle, history, tmp_path / "text-run"))
    fig = run.show_predictions(n=4, data=bundle)
    shown = [ax for ax in fig.axes if ax.get_title()]
    assert len(shown) == 4
    words = " ".join(t.get_text() for ax in shown for t in ax.texts)
    assert any(w in words for w in ("wonderful", "dull", "great", "bad"))


def test_each_kind_draws_its_own_inputs_and_a_sequence_view_undoes_its_reshape():
    from matplotlib.figure import Figure

    from corenets.data.bundle import Preprocessing
    from corenets.data.sequence import SequencePreprocessing, _reshape
    from corenets.data.vision import ImagePreprocessing

    image = ImagePreprocessing(shape=[3, 4, 5], scale=1 / 255, mean=[0.5] * 3, std=[0.25] * 3, mode="RGB")
    x = torch.randn(1, 3, 4, 5)
    rows = SequencePreprocessing(inner=image.to_dict(), mode="rows")
    a, b, c = Figure().subplots(1, 3)
    image.draw(a, x[0].numpy())
    rows.draw(b, _reshape(x, "rows")[0].numpy())  # (4, 15): each image row a step
    assert np.array_equal(np.asarray(a.images[0].get_array()), np.asarray(b.images[0].get_array()))
    Preprocessing().draw(c, np.arange(20.0))  # rows of numbers: the first ones, written out
    assert c.texts and c.texts[0].get_text().startswith("0, 1, 2") and c.texts[0].get_text().endswith("...")


def test_writing_a_runs_plots_leaves_a_notebooks_inline_backend_alone(tmp_path):
    """cn.save_run in Jupyter draws the report's plots; the user's own plt.plot must still show inline after."""
    pytest.importorskip("matplotlib_inline")
    code = ("import matplotlib; from corenets.evaluate.plots import curves; "
            "curves([{'epoch': 1, 'train_loss': 1.0, 'val_loss': 1.1}], 'c.png', 'accuracy'); "
            "print(matplotlib.get_backend())")
    env = {**__import__("os").environ, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert "inline" in out.stdout and (tmp_path / "c.png").is_file()
