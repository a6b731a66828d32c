"""The export document (model.preprocessing.json): its schema, its portable tokenizer pattern, its test vectors for
every input kind, and the format page generated from the schema."""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import torch

from tiny_runs import image_run, make_run, series_run, table_run, text_run

from corenets.export_document import FORMAT_VERSION, load_schema, render_page, validate

pytest.importorskip("onnxruntime", reason="export needs the [export] extra")
jsonschema = pytest.importorskip("jsonschema", reason="the schema check needs jsonschema (the [export] extra)")

ROOT = Path(__file__).resolve().parents[1]


def export_doc(run: Path) -> dict:
    from corenets.export import export_run

    r = export_run(run, "onnx", exporter="torchscript")
    return json.loads(r.preprocessing.read_text(encoding="utf-8"))


def tta_image_run(root: Path) -> Path:
    """A tiny image run whose model.pt says it is scored with flip TTA."""
    from corenets.runs import load_run, save_model

    path = image_run(root, name="img-tta")
    run = load_run(path)
    save_model(path / "model.pt", run.model, {**run.spec, "tta": "flip"})
    return path


def sequence_run(root: Path, mode: str) -> Path:
    from corenets.data.sequence import SequencePreprocessing
    from corenets.data.tabular import TablePreprocessing
    from corenets.data.vision import ImagePreprocessing

    if mode == "rows":
        inner = ImagePreprocessing(shape=[3, 8, 8], scale=1 / 255, mean=[0.5, 0.4, 0.3], std=[0.2, 0.25, 0.3], mode="RGB")
        pre, shape = SequencePreprocessing(mode="rows", inner=inner.to_dict()), (8, 24)
    else:
        import pandas as pd

        df = pd.DataFrame({"a": [1.0, 2.0, 4.0], "b": [0.5, 0.1, 0.2]})
        pre, shape = SequencePreprocessing(mode="features", inner=TablePreprocessing.fit(df, ["a", "b"], [], "error").to_dict()), (2, 1)
    return make_run(root, f"seq-{mode}", "gru", shape, "multiclass", ["x", "y", "z"], pre, {"hidden_size": 8})


def returns_run(root: Path, target: str) -> Path:
    from corenets.data.timeseries import SeriesPreprocessing

    pre = SeriesPreprocessing(window=6, horizon=1, target=target, mean=0.001, std=0.02, target_mean=0.0005,
                              target_std=0.015, column="Close", date_column="Date", missing="error")
    return make_run(root, f"series-{target}", "lstm", (6, 1), "regression", None, pre, {"hidden_size": 8})


KINDS = {  # kind -> builder
    "image": lambda root: image_run(root),
    "image_rows": lambda root: sequence_run(root, "rows"),
    "text": lambda root: text_run(root),
    "text_subwords": lambda root: text_run(root, model="gru", subwords=40, name="text-sub"),
    "table": lambda root: table_run(root),
    "table_regression": lambda root: table_run(root, task="regression"),
    "table_sequence": lambda root: sequence_run(root, "features"),
    "series": lambda root: series_run(root),
    "series_log_returns": lambda root: returns_run(root, "log_returns"),
    "series_returns": lambda root: returns_run(root, "returns"),
    "series_delta": lambda root: returns_run(root, "delta"),
}


@pytest.mark.parametrize("name", list(KINDS))
def test_every_kind_writes_a_valid_document_with_exact_vectors(tmp_path, name):
    from corenets.runs import load_run

    run_dir = KINDS[name](tmp_path)
    doc = export_doc(run_dir)  # export validates it; so does this
    validate(doc)
    assert doc["format"] == "corenets.export-document" and doc["format_version"] == FORMAT_VERSION
    variants = {"text_subwords": "text", "table_regression": "table", "series_log_returns": "series", "series_returns": "series",
                "series_delta": "series"}
    assert doc["kind"] == variants.get(name, name)
    cases = doc["test_vectors"]["cases"]
    assert len(cases) == 8 and doc["test_vectors"]["tolerance"] == 1e-5
    run = load_run(run_dir)
    pre = run.preprocessing
    for case in cases:  # each case's model input is what corenets makes of its raw input; its answer what predict says
        raw = np.asarray(case["raw"], np.uint8) if doc["raw_input"]["type"] == "image" else case["raw"]
        x = pre.prepare([raw]).x
        assert np.allclose(np.asarray(case["model_input"]), x[0].double().numpy(), atol=1e-6, rtol=0)
        stated = [x.shape[1] if d == "sequence" else d for d in doc["input"]["shape"][1:]]  # text: padded to max_len
        assert list(x.shape[1:]) == stated and str(x.dtype).removeprefix("torch.") == doc["input"]["dtype"]
        p = run.predict([raw])
        answer = p.values[0] if p.proba is None else p.proba[0]
        assert np.allclose(case["answer"], answer, atol=1e-5, rtol=0)


def test_text_vectors_hold_the_hard_cases(tmp_path):
    doc = export_doc(text_run(tmp_path))
    raws = [c["raw"] for c in doc["test_vectors"]["cases"]]
    (encode,) = [s for s in doc["steps"] if s["op"] == "encode_tokens"]
    vocab = set(encode["vocabulary"])
    from corenets.data.text import tokenize

    assert any(not r.isascii() for r in raws)  # a word with non-ASCII letters
    assert any(all(t not in vocab for t in tokenize(r) if t.isalpha() and t.isascii() and len(t) > 3) for r in raws)
    max_len = next(s["length"] for s in doc["steps"] if s["op"] == "truncate")
    assert any(len(tokenize(r)) > max_len for r in raws)  # over-long: its model input keeps the first max_len tokens
    unknown = next(c for c in doc["test_vectors"]["cases"] if "zqxjv" in c["raw"])
    assert encode["unknown_id"] in unknown["model_input"]


def test_table_vectors_hold_an_unseen_category(tmp_path):
    doc = export_doc(table_run(tmp_path))
    (step,) = doc["steps"]
    cats = step["categorical"][0]["categories"]
    unseen = [c for c in doc["test_vectors"]["cases"] if c["raw"]["city"] not in cats]
    assert len(unseen) == 1 and unseen[0]["model_input"][len(step["numeric"]):] == [0.0] * len(cats)


def resize_as_documented(p: np.ndarray, step: dict) -> np.ndarray:
    """The schema's `resize`, written from its description alone: (H, W, C) 8-bit pixels -> (height, width, C)."""
    bits = step["fraction_bits"]
    for name in step["passes"]:
        axis = {"height": 0, "width": 1}[name]
        n, m = p.shape[axis], step[name]
        if n == m:
            continue
        scale = n / m
        f = max(scale, 1.0)
        rows = []
        for o in range(m):
            center = (o + 0.5) * scale
            lo, hi = max(int(center - f + 0.5), 0), min(int(center + f + 0.5), n)
            w = [max(0.0, 1 - abs((i - center + 0.5) * (1 / f))) for i in range(lo, hi)]
            k = np.array([int(v / sum(w) * 2**bits + 0.5) for v in w], dtype=np.int64)
            part = np.moveaxis(p, axis, 0)[lo:hi].astype(np.int64)
            rows.append(np.clip((2 ** (bits - 1) + np.tensordot(k, part, 1)) >> bits, 0, 255))
        p = np.moveaxis(np.stack(rows), 0, axis)
    return p


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_the_documents_resize_is_corenets_resize(tmp_path, mode):
    """Images that shrink in both axes, grow in both, or one of each (Pillow's own two-axis resize sometimes
    takes the height pass first, one level off this): corenets' pixels are the document's, exactly."""
    from PIL import Image

    from corenets.data.images import to_pixels

    doc = export_doc(image_run(tmp_path, shape=(1 if mode == "L" else 3, 28, 28)))
    step = next(s for s in doc["steps"] if s["op"] == "resize")
    rng = np.random.default_rng(0)
    for w, h in [(37, 53), (100, 61), (20, 40), (13, 9), (57, 29), (28, 40), (40, 28), (640, 480), (3, 2)]:
        a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        img = Image.fromarray(a).convert(mode)
        ours = to_pixels(img, (28, 28), mode).transpose(1, 2, 0)
        pixels = np.asarray(img).reshape(h, w, -1)
        assert np.array_equal(resize_as_documented(pixels, step), ours), (w, h)


def test_the_document_alone_reproduces_image_and_series_inputs(tmp_path):
    """The formulas as stated, in units stated: the resize of the schema, then x = (p / 255 - mean[c]) / std[c] on
    8-bit pixels; log returns."""
    doc = export_doc(image_run(tmp_path, shape=(3, 8, 8), model="cnn_bn", options={"widths": [4, 8]}))
    norm = next(s for s in doc["steps"] if s["op"] == "normalize")
    resize = next(s for s in doc["steps"] if s["op"] == "resize")
    assert sum(np.shape(c["raw"])[:2] != (8, 8) for c in doc["test_vectors"]["cases"]) == 3  # vectors that resize
    for case in doc["test_vectors"]["cases"]:
        p = resize_as_documented(np.asarray(case["raw"], np.uint8), resize).astype(np.float64)  # (H, W, C) 0-255
        x = ((p / norm["divisor"] - norm["mean"]) / norm["std"]).transpose(2, 0, 1)
        assert np.abs(x - np.asarray(case["model_input"])).max() < 1e-5
    doc = export_doc(returns_run(tmp_path, "log_returns"))
    (win,) = doc["steps"]
    post = doc["postprocess"]
    for case in doc["test_vectors"]["cases"]:
        p = np.asarray(case["raw"])
        x = (np.log(p[1:] / p[:-1])[-win["window"]:] - win["mean"]) / win["std"]
        assert np.abs(x - np.asarray(case["model_input"])[:, 0]).max() < 1e-5
        price = p[-1] * np.exp(case["output"][0] * post["scale"] + post["shift"])
        assert price == pytest.approx(case["answer"], rel=1e-9)  # a price, from the last input price


def test_flip_tta_is_inside_the_exported_graph(tmp_path):
    """Exported bare, a flip-TTA model answered differently from `corenets predict`; now the graph holds the mirror."""
    import onnxruntime as ort

    from corenets.runs import load_run

    run_dir = tta_image_run(tmp_path)
    doc = export_doc(run_dir)
    assert doc["provenance"]["tta"] == "flip" and "mirror" in doc["output"]["meaning"]
    run = load_run(run_dir)
    images = np.random.default_rng(1).integers(0, 256, (5, 28, 28, 1), dtype=np.uint8)
    x = run.preprocessing.prepare(images).x
    sess = ort.InferenceSession(str(run_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        bare, scored = run.model(x).numpy(), run.scorer(x).numpy()
    assert np.abs(got - scored).max() < 1e-4 and np.abs(bare - scored).max() > 1e-3


def test_portable_pattern_is_pythons_tokenizer():
    """Python's \\w is exactly [\\p{L}\\p{N}_] and \\s exactly the listed code points, over every code point; so the
    portable pattern, read with those classes, splits text as corenets does."""
    from corenets.data import text, text_document

    word, space = re.compile(r"\w"), re.compile(r"\s")
    listed = re.compile(f"[{text_document._SPACE.encode().decode('unicode_escape')}]")
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        assert bool(word.match(ch)) == (unicodedata.category(ch)[0] in "LN" or ch == "_"), hex(cp)
        assert bool(space.match(ch)) == bool(listed.match(ch)), hex(cp)
    as_python = re.compile(text_document.PORTABLE_TOKEN.replace(r"\p{L}\p{N}_", r"\w").replace(
        text_document._SPACE, text_document._SPACE.encode().decode("unicode_escape")))
    for s in ["it's a -lrb- great -rrb- film!", "cliché, naïve café — ÆRØ 3½ ٣ x_y 'tis", "a\u2003b\u001cc\ufeffd"]:
        assert as_python.findall(s) == text._TOKEN.findall(s)


def test_schema_refuses_a_broken_document(tmp_path):
    doc = export_doc(table_run(tmp_path))
    for broken in ({k: v for k, v in doc.items() if k != "steps"}, {**doc, "format_version": 2},
                   {**doc, "steps": [{"op": "sharpen", "text": "?"}]},
                   {**doc, "steps": [{**doc["steps"][0], "missing": "guess"}]},
                   {**doc, "postprocess": {"op": "softmax"}}):
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)
    jsonschema.Draft202012Validator.check_schema(load_schema())


def test_format_page_is_generated_from_the_schema():
    """docs/reference/export-format.md is render_page()'s output; regenerate it with
    `python -m corenets.export_document docs/reference/export-format.md`."""
    page = (ROOT / "docs" / "reference" / "export-format.md").read_text(encoding="utf-8")
    assert page == render_page()
    schema = load_schema()
    for ref in schema["$defs"]["step"]["oneOf"]:
        assert f"### `{ref['$ref'].rsplit('/', 1)[-1]}`" in page
    assert "docs/reference/export-format.md" in (ROOT / "README.md").read_text(encoding="utf-8")
