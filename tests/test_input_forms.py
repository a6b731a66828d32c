"""Every raw form a user can hand a run, for every input kind: each one predicts exactly what `corenets predict`
predicts on the same file or sentence, or is refused with a CorenetsError that says how to state it.

Defect 1 of the "one contract" issue: on a digits run `predict(images[:8])` read the float batch in the dataset's
units while `list(images)` and `images[0]` were read as 8-bit pixels (all '6'), and Fashion-MNIST images scaled to
[0, 1] were read as 0-255 pixels (all 'Sandal'). A float array now has to say its units.
"""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from tiny_runs import image_run, make_run, table_run, text_run

from corenets.cli import main
from corenets.errors import CorenetsError, InputError
from corenets.runs import load_run


def close(a, b, atol=1e-6):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol, rtol=0)


def cli_json(capsys, *argv) -> list[dict]:
    capsys.readouterr()
    assert main(["predict", *map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def png(path, pixels: np.ndarray):
    """(C, H, W) or (H, W) uint8 -> a PNG file."""
    a = pixels[0] if pixels.ndim == 3 and pixels.shape[0] == 1 else pixels.transpose(1, 2, 0) if pixels.ndim == 3 else pixels
    Image.fromarray(a).save(path)
    return path


# ------------------------------------------------------------------ images


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A digits-shaped run: 8x8 gray, pixels stored 0..16 (scale 1/16), as `quickstart`'s."""
    from corenets.data.vision import ImagePreprocessing

    pre = ImagePreprocessing(shape=[1, 8, 8], scale=1 / 16, mean=[0.3], std=[0.4], mode="L")
    return make_run(tmp_path_factory.mktemp("digits"), "digits-mlp", "mlp", (1, 8, 8), "multiclass",
                    [str(i) for i in range(10)], pre, {"hidden": [16]})


@pytest.fixture(scope="module")
def digits_images():
    from sklearn.datasets import load_digits

    return load_digits().images[:8]  # (8, 8, 8) float64, 0..16


def test_defect_1_a_float_batch_a_list_and_one_image_are_read_alike(digits_run, digits_images):
    run = load_run(digits_run)
    with pytest.raises(InputError, match=r"ambiguous.*units='dataset'"):
        run.predict(digits_images)  # was read in dataset units, while the list below was read as 0-255 pixels
    with pytest.raises(InputError, match="ambiguous"):
        run.predict(list(digits_images))
    with pytest.raises(InputError, match="ambiguous"):
        run.predict(digits_images[0])
    batch = run.predict(digits_images, units="dataset").proba
    close(run.predict(list(digits_images), units="dataset").proba, batch)
    close(run.predict(digits_images[0], units="dataset").proba, batch[:1])
    close(run.predict(torch.from_numpy(digits_images), units="dataset").proba, batch)
    close(run.predict(digits_images / 16, units="unit").proba, batch, atol=1e-5)
    close(run.predict(digits_images * 255 / 16, units="pixels").proba, batch, atol=1e-5)
    # misstated units are refused by their range, not read wrongly: 0..16 is not [0, 1]
    with pytest.raises(InputError, match=r"units='unit' means values from 0 to 1, but these run from 0 to 16"):
        run.predict(digits_images, units="unit")


def test_digit_files_through_the_cli_and_every_form(digits_run, digits_images, tmp_path, capsys):
    pixels = np.rint(digits_images * 255 / 16).astype(np.uint8)  # (8, 8, 8): what a PNG of each digit holds
    files = [png(tmp_path / f"d{i}.png", p) for i, p in enumerate(pixels)]
    res = cli_json(capsys, digits_run, *files, "--top", "10")
    cli = np.array([[t["probability"] for t in sorted(r["top"], key=lambda t: int(t["class"]))] for r in res])
    run = load_run(digits_run)
    ref = run.predict(pixels).proba  # uint8: plainly 0-255 pixels, no units needed
    close(cli, ref, atol=6e-5)  # the CLI rounds to 4 decimals
    assert [r["top"][0]["class"] for r in res] == run.predict(pixels).labels
    forms = {
        "paths": [str(f) for f in files], "one path": str(files[0]), "PIL images": [Image.open(f) for f in files],
        "bytes": [f.read_bytes() for f in files], "uint8 list": list(pixels), "one uint8 image": pixels[0],
        "uint8 tensor": torch.from_numpy(pixels), "uint8 (N, 1, H, W)": pixels[:, None],
        "uint8 (N, H, W, 1)": pixels[..., None], "uint8 flat rows": pixels.reshape(8, 64),
    }
    for name, raw in forms.items():
        got = run.predict(raw).proba
        close(got, ref[: len(got)], atol=1e-6), name


@pytest.fixture(scope="module")
def fashion_run(tmp_path_factory):
    return image_run(tmp_path_factory.mktemp("fashion"), model="mlp", options={"hidden": [16]})  # 28x28 gray, 1/255


def test_defect_1_images_scaled_to_0_1_are_refused_without_units(fashion_run):
    run = load_run(fashion_run)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 28, 28)).astype(np.uint8)
    ref = run.predict(x).proba
    scaled = x.astype(np.float32) / 255
    with pytest.raises(InputError, match="units="):
        run.predict(scaled)  # was read as 0-255 pixels: near-black images, all one class
    close(run.predict(scaled, units="unit").proba, ref, atol=1e-5)
    close(run.predict(torch.from_numpy(scaled), units="unit").proba, ref, atol=1e-5)
    close(run.predict(list(scaled), units="unit").proba, ref, atol=1e-5)
    model_units = run.preprocessing.prepare(x).x
    close(run.predict(model_units, units="model").proba, ref)
    with pytest.raises(InputError, match="units='model' needs images of the model's size"):
        run.predict(np.zeros((40, 40), np.float32), units="model")
    with pytest.raises(InputError, match="units='pixels' means values from 0 to 255"):
        run.predict(scaled * 300, units="pixels")


@pytest.fixture(scope="module")
def rgb_run(tmp_path_factory):
    return image_run(tmp_path_factory.mktemp("rgb"), model="mlp", shape=(3, 16, 16), options={"hidden": [8]})


def test_colour_images_of_any_size_match_the_cli(rgb_run, tmp_path, capsys):
    rng = np.random.default_rng(1)
    hwc = rng.integers(0, 256, (4, 16, 16, 3)).astype(np.uint8)
    big = rng.integers(0, 256, (30, 20, 3)).astype(np.uint8)  # another size: resized as training images were
    files = [png(tmp_path / f"c{i}.png", a.transpose(2, 0, 1)) for i, a in enumerate([*hwc, big])]
    res = cli_json(capsys, rgb_run, *files, "--top", "1")
    run = load_run(rgb_run)
    pred = run.predict([str(f) for f in files])
    assert [r["top"][0]["class"] for r in res] == pred.labels
    close([r["top"][0]["probability"] for r in res], pred.proba.max(1), atol=6e-5)
    close(run.predict(hwc).proba, pred.proba[:4])  # (N, H, W, C)
    close(run.predict(hwc.transpose(0, 3, 1, 2)).proba, pred.proba[:4])  # (N, C, H, W)
    close(run.predict(big).proba, pred.proba[4:])  # one (H, W, C) image of another size
    close(run.predict([*hwc, big]).proba, pred.proba)
    close(run.predict(Image.fromarray(big)).proba, pred.proba[4:])


@pytest.mark.parametrize("raw, units, words", [
    (np.zeros((3, 40, 40), np.uint8), None, "could be one (C, H, W) colour image or 3 gray images"),
    (np.zeros((2, 28, 28), bool), None, "must hold numbers"),
    (np.full((28, 28), np.nan, np.float32), "unit", "NaN"),
    ({"pixels": 1}, None, "cannot read a dict as an image"),
    (np.zeros((28, 28), np.float32), "percent", "units='percent' is not known"),
    ([], None, "no images"),
])
def test_ambiguous_or_unreadable_images_are_refused(fashion_run, raw, units, words):
    with pytest.raises(CorenetsError, match=re.escape(words)):
        load_run(fashion_run).predict(raw, units=units)


def test_a_rows_view_of_images_reads_every_form_like_the_image_run(tmp_path, capsys):
    from corenets.data.sequence import SequencePreprocessing
    from corenets.data.vision import ImagePreprocessing

    inner = ImagePreprocessing(shape=[1, 8, 8], scale=1 / 16, mean=[0.3], std=[0.4], mode="L")
    pre = SequencePreprocessing(mode="rows", inner=inner.to_dict())
    run_dir = make_run(tmp_path, "rows-lstm", "lstm", (8, 8), "multiclass", [str(i) for i in range(10)], pre,
                       {"hidden_size": 8})
    pixels = np.random.default_rng(2).integers(0, 256, (3, 8, 8)).astype(np.uint8)
    files = [png(tmp_path / f"r{i}.png", p) for i, p in enumerate(pixels)]
    res = cli_json(capsys, run_dir, *files, "--top", "1")
    run = load_run(run_dir)
    ref = run.predict(pixels)
    assert [r["top"][0]["class"] for r in res] == ref.labels
    close(run.predict(list(pixels)).proba, ref.proba)
    close(run.predict(pixels.astype(np.float64) / 255, units="unit").proba, ref.proba, atol=1e-5)
    with pytest.raises(InputError, match="ambiguous"):
        run.predict(pixels.astype(np.float64))


# ------------------------------------------------------------------ text


def test_sentences_in_every_form_match_the_cli(tmp_path, capsys):
    run_dir = text_run(tmp_path)
    sentences = ["a good film", "dull and long", "Not good AT ALL!"]
    res = cli_json(capsys, run_dir, *sentences)
    run = load_run(run_dir)
    ref = run.predict(sentences)
    assert [r["prediction"] for r in res] == ref.labels and [r["text"] for r in res] == sentences
    close([r["p(positive)"] for r in res], ref.proba[:, 1])
    (tmp_path / "s.txt").write_text("\n".join(sentences) + "\n\n")
    assert [r["prediction"] for r in cli_json(capsys, run_dir, tmp_path / "s.txt")] == ref.labels
    for raw in (tuple(sentences), np.array(sentences), pd.Series(sentences)):
        close(run.predict(raw).proba, ref.proba)
    close(run.predict(sentences[0]).proba, ref.proba[:1])
    for bad, words in (([1, 2], "give a sentence or a list of sentences"), ([], "no sentences"),
                       (np.zeros((2, 3)), "give a sentence")):
        with pytest.raises(InputError, match=words):
            run.predict(bad)
    with pytest.raises(InputError, match="units='unit' applies to image runs only"):
        run.predict(sentences, units="unit")


# ------------------------------------------------------------------ tables


def test_table_rows_in_every_form_match_the_cli(tmp_path, capsys):
    run_dir = table_run(tmp_path, options={"hidden": [8]})
    df = pd.DataFrame({"age": [30.0, 55.0, 41.5], "income": [2.0, 4.5, 3.1], "city": ["oslo", "rome", "paris"]})
    df.to_csv(tmp_path / "rows.csv", index=False)
    res = cli_json(capsys, run_dir, tmp_path / "rows.csv")
    run = load_run(run_dir)
    ref = run.predict(df)
    assert [r["prediction"] for r in res] == ref.labels
    close([r["p(yes)"] for r in res], ref.proba[:, 1])
    rows = df.to_dict("records")
    for raw in (str(tmp_path / "rows.csv"), rows, df.to_dict("list"), df[["city", "income", "age"]]):
        close(run.predict(raw).proba, ref.proba)
    close(run.predict(rows[1]).proba, ref.proba[1:2])  # one dict row
    close(run.predict(df.iloc[2]).proba, ref.proba[2:3])  # one pandas row
    with pytest.raises(InputError, match="expected a table with columns"):
        run.predict(np.zeros((2, 3)))  # numbers cannot name the category 'city'
    with pytest.raises(CorenetsError, match="lacks the training column"):
        run.predict({"age": 1.0, "income": 2.0})
    with pytest.raises(InputError, match="not a mix"):
        run.predict({"age": [1.0], "income": 2.0, "city": "oslo"})


def test_a_numeric_table_and_its_features_view_take_arrays(tmp_path):
    from corenets.data.sequence import SequencePreprocessing
    from corenets.data.tabular import TablePreprocessing

    df = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0) ** 2})
    pre = TablePreprocessing.fit(df, ["a", "b"], [], "error")
    flat = load_run(make_run(tmp_path, "num", "mlp", (2,), "binary", ["n", "y"], pre, {"hidden": [4]}))
    seq = load_run(make_run(tmp_path, "feat", "lstm", (2, 1), "binary", ["n", "y"],
                            SequencePreprocessing(mode="features", inner=pre.to_dict()), {"hidden_size": 4}))
    for run in (flat, seq):
        ref = run.predict(df.iloc[:3])
        close(run.predict(df.to_numpy()[:3]).proba, ref.proba)
        close(run.predict([1.0, 1.0]).proba, ref.proba[1:2])  # one row of numbers, in the training column order


# ------------------------------------------------------------------ series: every entry point answers in prices


@pytest.fixture(scope="module")
def stock(tmp_path_factory):
    """A log-return run (as stock-lstm) and a CSV whose last 11 prices are its window."""
    from corenets.data.timeseries import SeriesPreprocessing

    root = tmp_path_factory.mktemp("stock")
    pre = SeriesPreprocessing(window=10, horizon=1, target="log_returns", mean=0.0005, std=0.01,
                              target_mean=0.0004, target_std=0.012, column="Close", date_column="Date", missing="error")
    run_dir = make_run(root, "stock-lstm", "lstm", (10, 1), "regression", None, pre, {"hidden_size": 8}, seed=3)
    prices = list(400 + np.cumsum(np.random.default_rng(3).normal(0, 2, 70)))
    csv = root / "prices.csv"
    dates = pd.bdate_range("2024-01-01", periods=len(prices))
    pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Close": prices}).to_csv(csv, index=False)
    return run_dir, prices, csv


def test_the_server_forecast_predict_and_export_document_give_one_price(stock, tmp_path, capsys):
    run_dir, prices, csv = stock
    run = load_run(run_dir)
    value = float(run.predict(prices).values[0])
    assert abs(value / prices[-1] - 1) < 0.2  # a price near the last one, not a log return near 0
    # corenets forecast
    capsys.readouterr()
    assert main(["forecast", str(run_dir), str(csv)]) == 0
    forecast = float(re.search(r"step +1 \(~[\d-]+\): ([\d.]+)", capsys.readouterr().out).group(1))
    assert forecast == pytest.approx(value, abs=1e-4)
    # corenets predict on the same CSV
    assert cli_json(capsys, run_dir, csv)[0]["prediction"] == pytest.approx(value, rel=1e-9)
    # the ONNX export, fed and read back by its document's stated preprocessing and post-processing, as a program
    # that is not corenets would (the torch model stands in where onnxruntime is not installed)
    from corenets.export import export_run

    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - the [export] extra is not installed
        ort = None
    if ort is not None:
        exported = export_run(run_dir, "onnx", out=tmp_path / "model.onnx", exporter="torchscript", batch=4)
        session = ort.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"])
        forward = lambda x: float(session.run(None, {"input": x})[0][0, 0])  # noqa: E731
        doc = json.loads(exported.preprocessing.read_text())
    else:
        from corenets.export_document import build

        forward = lambda x: float(run.model(torch.from_numpy(x)))  # noqa: E731
        doc = build(run, False, lambda x: run.model(x).detach().numpy(), run.preprocessing.prepare(prices).x, "none")
    (st,), post = doc["steps"], doc["postprocess"]
    p = np.asarray(prices[-11:])
    assert st["op"] == "series_window" and st["feature"] == "log_returns" and st["needs"] == 11
    f = ((np.log(p[1:] / p[:-1]) - st["mean"]) / st["std"]).astype(np.float32).reshape(1, 10, 1)
    with torch.no_grad():
        out = forward(f)
    assert post["op"] == "price" and post["target"] == "log_returns" and "exp" in post["text"]
    assert p[-1] * np.exp(out * post["scale"] + post["shift"]) == pytest.approx(value, rel=1e-6)
    # the server
    pytest.importorskip("fastapi")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from corenets.serve import create_app

    client = TestClient(create_app(run_dir))
    r = client.post("/predict", json={"prices": prices})
    assert r.status_code == 200 and r.json()["predictions"][0]["value"] == pytest.approx(value, rel=1e-6)
    r = client.post("/predict", files={"file": ("prices.csv", csv.read_bytes(), "text/csv")})
    assert r.status_code == 200 and r.json()["predictions"][0]["value"] == pytest.approx(value, rel=1e-6)


def test_prices_in_every_form(stock):
    run_dir, prices, csv = stock
    run = load_run(run_dir)
    ref = run.predict(prices).values
    frame = pd.read_csv(csv)
    for raw in (np.asarray(prices), pd.Series(prices), torch.tensor(prices), str(csv), frame, prices[-11:]):
        close(run.predict(raw).values, ref, atol=1e-9)
    rows = run.predict(np.stack([prices[-12:-1], prices[-11:]])).values  # rows of exactly the window
    close(rows[1:], ref, atol=1e-9)
    for bad, words in ((prices[:5], "needs the last 11 prices"), ([[1, 2], [3, 4]], "rows of 11 prices"),
                       (["a"] * 11, "prices must be numbers"), ([0.0] * 11, "non-positive")):
        with pytest.raises(InputError, match=words):
            run.predict(bad)


# ------------------------------------------------------------------ the contract itself


def test_no_entry_point_switches_on_a_kind_name():
    import pathlib
    import subprocess

    src = pathlib.Path(__file__).resolve().parent.parent / "src"
    pattern = r"kind ?(==|!=|in) ?[\"'(\[]+ ?[\"']?(image|text|table|series|sequence|token)"
    found = subprocess.run(["grep", "-rnE", pattern, str(src)], capture_output=True, text=True).stdout
    assert found == "", found


def test_the_server_parses_with_the_kind(tmp_path):
    """A served image run refuses JSON as the image kind says; a rows run takes rows of numbers."""
    from corenets.data.bundle import Limits, Preprocessing

    with pytest.raises(InputError, match="images are sent as files") as e:
        from corenets.data.vision import ImagePreprocessing

        ImagePreprocessing(shape=[1, 8, 8], scale=1 / 16, mean=[0], std=[1]).http_json({"rows": []}, Limits())
    assert e.value.status == 415
    assert Preprocessing().http_json({"rows": [[1, 2]]}, Limits()) == [[1, 2]]
    with pytest.raises(InputError):
        Preprocessing().http_json({"rows": [{"a": 1}]}, Limits())
    buf = io.BytesIO()
    Image.new("L", (9, 9)).save(buf, "PNG")
    with pytest.raises(InputError, match="limit of 80") as e:
        ImagePreprocessing(shape=[1, 8, 8], scale=1 / 16, mean=[0], std=[1]).http_files([("a.png", buf.getvalue())], Limits(max_pixels=80))
    assert e.value.status == 413
