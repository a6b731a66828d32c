"""ONNX and TorchScript export: every model family, checked against PyTorch (max abs diff <= 1e-4)."""

from __future__ import annotations

import json

import pytest
import torch

from tiny_runs import image_run, table_run, text_run

from corenets.cli import main
from corenets.export import TOLERANCE, ExportError, UnpackedRecurrent, export_run

FAMILIES = [  # (id, builder, kwargs)
    ("mlp", table_run, {"model": "mlp", "options": {"hidden": [16, 8], "batch_norm": True}}),
    ("seed_cnn", image_run, {"model": "seed_cnn"}),
    ("cnn_bn", image_run, {"model": "cnn_bn", "shape": (3, 32, 32), "options": {"widths": [8, 16]}}),
    ("airnet", image_run, {"model": "airnet", "shape": (3, 32, 32), "options": {"width": 8}}),
    ("rnn", image_run, {"model": "rnn", "options": {"hidden_size": 8}}),
    ("lstm-stacked-bi", image_run, {"model": "lstm", "options": {"hidden_size": 8, "layers": 2, "bidirectional": True}}),
    ("gru-stacked-bi-mean", image_run, {"model": "gru", "options": {"hidden_size": 8, "layers": 2, "bidirectional": True,
                                                                      "readout": "mean"}}),
    ("text-lstm", text_run, {"model": "lstm"}),
    ("text-gru-stacked-bi-max", text_run, {"model": "gru", "options": {"layers": 2, "bidirectional": True, "readout": "max"}}),
    ("text-gru-subwords", text_run, {"model": "gru", "subwords": 40}),
]


# The TorchScript-based ONNX exporter takes ~1 s a model, torch.export (dynamo) 3-20 s: CI runs every family with
# the first and three families with dynamo (the default); `pytest -m slow` runs dynamo on every family.
FAST_DYNAMO = {"mlp", "seed_cnn", "text-lstm"}
CASES = [pytest.param(f, "torchscript", id=f"{f[0]}-torchscript") for f in FAMILIES] + [
    pytest.param(f, "dynamo", id=f"{f[0]}-dynamo", marks=() if f[0] in FAST_DYNAMO else (pytest.mark.slow,))
    for f in FAMILIES
]


def _encode_from_doc(doc: dict, sentences: list[str]):
    """What a program that is not corenets would write, following model.preprocessing.json's steps only (Python's
    re has no \\p{L}: the pattern's [\\p{L}\\p{N}_] is Python's \\w, which test_export_document checks)."""
    import re
    import zlib

    import numpy as np

    steps = {s["op"]: s for s in doc["steps"]}
    enc, n = steps["encode_tokens"], steps["pad"]["length"]
    index = {w: i for i, w in enumerate(enc["vocabulary"])}
    g = enc.get("char_ngrams")
    out = np.zeros((len(sentences), n, 1 + g["slots"]) if g else (len(sentences), n), np.int64)
    pattern = steps["regex_findall"]["pattern"].replace(r"\p{L}\p{N}_", r"\w")
    for r, s in enumerate(sentences):
        s, i, kept = s.lower(), 0, ""
        while i < len(s):  # replace_literals: one left-to-right scan
            hit = next((p for p in steps["replace_literals"]["pairs"] if s.startswith(p[0], i)), None)
            kept, i = (kept + hit[1], i + len(hit[0])) if hit else (kept + s[i], i + 1)
        for c, t in enumerate(re.findall(pattern, kept)[: steps["truncate"]["length"]]):
            if not g:
                out[r, c] = index.get(t, enc["unknown_id"])
                continue
            w, grams = f"<{t}>", []
            for k in range(g["n_min"], g["n_max"] + 1):
                for i in range(len(w) - k + 1):
                    if w[i: i + k] not in grams:
                        grams.append(w[i: i + k])
            ids = [index.get(t, enc["unknown_id"])] + [1 + zlib.crc32(x.encode()) % g["buckets"] for x in grams[: g["slots"]]]
            out[r, c, : len(ids)] = ids
    return out


@pytest.mark.parametrize("family,exporter", CASES)
def test_onnx_parity_every_family(tmp_path, family, exporter):
    pytest.importorskip("onnxruntime", reason="ONNX export needs the [export] extra")
    if exporter == "dynamo":
        pytest.importorskip("onnxscript", reason="torch.export's ONNX exporter needs onnxscript")
    name, build, kw = family
    run = build(tmp_path, **kw)
    r = export_run(run, "onnx", exporter=exporter)
    assert r.exporter == ("dynamo" if exporter == "dynamo" else "torchscript-onnx")
    assert r.path == run / "model.onnx" and r.path.stat().st_size > 1000
    assert r.max_abs_diff <= TOLERANCE
    assert r.shapes[1][0] == 1  # one row as well as the batch: the batch axis is dynamic
    if name.startswith("text"):
        assert r.shapes[2][1] < r.shapes[0][1]  # a shorter sequence: the sequence axis is dynamic
    doc = json.loads(r.preprocessing.read_text())
    assert doc["kind"] in ("image", "image_rows", "text", "table")
    if name == "text-gru-subwords":  # the n-gram slots stay fixed; batch and sequence vary
        assert doc["input"]["shape"] == ["batch", "sequence", 7] and r.shapes[0][2] == 7
    if name.startswith("text"):  # the tokenizer, spelled out for a consumer that is not corenets
        enc = next(s for s in doc["steps"] if s["op"] == "encode_tokens")
        assert ("CRC-32" in enc["text"] and "char_ngrams" in enc) == (name == "text-gru-subwords")
        from corenets.runs import load_run

        sents = ["A good film -LRB- not dull -RRB- !", "unheard-of goodness, and\\/or longer fun, hahaha", "", "a cliché, naïve"]
        ours = load_run(run).preprocessing.transform(sents).numpy()
        assert (_encode_from_doc(doc, sents) == ours).all()  # the document alone reproduces corenets' input
    assert doc["input"]["dtype"] == ("int64" if name.startswith("text") else "float32")


@pytest.mark.parametrize("cell", ["gru", pytest.param("lstm", marks=pytest.mark.slow)])
def test_dynamo_exports_in_one_process_do_not_depend_on_each_other(tmp_path, cell):
    """Two text GRUs (LSTMs) exported one after the other: the second kept its sequence axis (torch.onnx swaps a
    while-loop cell into aten's kernels per export; a stale dispatch cache made every export after the first fix it)."""
    pytest.importorskip("onnxruntime", reason="ONNX export needs the [export] extra")
    pytest.importorskip("onnxscript", reason="torch.export's ONNX exporter needs onnxscript")
    import onnxruntime as ort

    runs = [text_run(tmp_path, model=cell, name="plain"), text_run(tmp_path, model=cell, subwords=40, name="subwords")]
    for run in runs:
        r = export_run(run, "onnx", exporter="dynamo")
        assert r.exporter == "dynamo" and r.max_abs_diff <= TOLERANCE
        assert r.shapes[2][1] < r.shapes[0][1]  # the shorter sequence was compared too
        dims = ort.InferenceSession(str(r.path), providers=["CPUExecutionProvider"]).get_inputs()[0].shape
        assert isinstance(dims[0], str) and isinstance(dims[1], str), dims  # batch and sequence stay symbolic


def test_an_onnx_file_with_a_fixed_sequence_axis_is_refused(tmp_path):
    """What a specialising exporter leaves behind is named as such, not as onnxruntime's 'invalid dimensions'."""
    pytest.importorskip("onnxruntime", reason="ONNX export needs the [export] extra")
    from corenets.export import _onnx_runner

    net = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Flatten(), torch.nn.Linear(24, 1)).eval()
    path = tmp_path / "fixed.onnx"
    with torch.inference_mode():  # batch dynamic, sequence fixed at 6
        torch.onnx.export(net, (torch.ones(2, 6, dtype=torch.long),), str(path), dynamo=False, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    assert _onnx_runner(path)(torch.ones(3, 6, dtype=torch.long)).shape == (3, 1)  # fine where only batch varies
    with pytest.raises(ExportError, match="fixed the sequence axis at 6; it must stay dynamic"):
        _onnx_runner(path, seq=True)


@pytest.mark.parametrize("family", [FAMILIES[1], FAMILIES[6], FAMILIES[8]], ids=["seed_cnn", "gru-bi", "text-gru-bi"])
def test_torchscript_parity(tmp_path, family):
    _, build, kw = family
    run = build(tmp_path, **kw)
    r = export_run(run, "torchscript")
    assert r.path.name == "model.torchscript.pt" and r.exporter == "torchscript"
    assert r.max_abs_diff <= TOLERANCE
    loaded = torch.jit.load(str(r.path))
    x = torch.randn(3, 1, 28, 28) if kw["model"] != "gru" or build is image_run else torch.tensor([[2, 3, 0, 0], [4, 0, 0, 0]])
    with torch.inference_mode():
        from corenets.runs import load_run

        assert torch.allclose(loaded(x), load_run(run).model(x), atol=TOLERANCE)


@pytest.mark.parametrize("options", [
    {}, {"bidirectional": True}, {"layers": 3, "bidirectional": True, "readout": "mean"}, {"readout": "max"},
], ids=["uni-last", "bi-last", "stacked-bi-mean", "max"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_unpacked_twin_equals_packed_model(tmp_path, cell, options):
    """The export path for text models computes what the packed model computes, for any padding layout."""
    run = text_run(tmp_path, model=cell, options=options)
    from corenets.runs import load_run

    net = load_run(run).model
    ids = torch.tensor([[5, 3, 7, 0, 0, 0], [0, 0, 4, 0, 9, 2], [0, 0, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6]])
    with torch.inference_mode():
        assert torch.allclose(UnpackedRecurrent(net)(ids), net(ids), atol=1e-6)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_unpacked_twin_reads_subwords_as_the_packed_model_does(tmp_path, bidirectional):
    run = text_run(tmp_path, model="lstm", options={"bidirectional": bidirectional}, subwords=40)
    from corenets.runs import load_run

    net = load_run(run).model
    words = torch.tensor([[5, 3, 7, 0, 0, 0], [0, 0, 4, 0, 9, 2], [0, 0, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6]])
    grams = torch.randint(1, 41, (4, 6, 6), generator=torch.Generator().manual_seed(0))
    grams[..., 4:] = 0  # some slots empty, as for short words
    ids = torch.cat([words.unsqueeze(-1), grams * (words != 0).unsqueeze(-1)], -1)  # pads carry no n-grams
    with torch.inference_mode():
        assert torch.allclose(UnpackedRecurrent(net)(ids), net(ids), atol=1e-6)


def test_auto_falls_back_when_the_newer_exporter_fails(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime", reason="ONNX export needs the [export] extra")
    import corenets.export as ex

    real = ex._onnx_export

    def dynamo_breaks(module, x, path, dynamo, seq):
        if dynamo:
            raise RuntimeError("pretend torch.export cannot trace this model")
        return real(module, x, path, dynamo, seq)

    monkeypatch.setattr(ex, "_onnx_export", dynamo_breaks)
    r = export_run(text_run(tmp_path, model="gru", options={"layers": 2}), "onnx")
    assert r.exporter == "torchscript-onnx" and r.max_abs_diff <= TOLERANCE
    def nothing_works(*args, **kwargs):
        raise RuntimeError("nothing works")

    monkeypatch.setattr(ex, "_onnx_export", nothing_works)
    with pytest.raises(ExportError, match="dynamo: RuntimeError: nothing works; torchscript-onnx: RuntimeError"):
        export_run(image_run(tmp_path), "onnx")


def test_cli_export_prints_the_difference(tmp_path, capsys):
    pytest.importorskip("onnxruntime", reason="ONNX export needs the [export] extra")
    run = table_run(tmp_path, options={"hidden": [8]})
    out = tmp_path / "exported" / "tabular.onnx"
    assert main(["export", str(run), "--format", "onnx", "--out", str(out), "--exporter", "torchscript"]) == 0
    text = capsys.readouterr().out
    assert "max abs difference vs PyTorch" in text and "torchscript-onnx" in text
    assert out.is_file() and (out.parent / "tabular.preprocessing.json").is_file()
    import onnxruntime as ort

    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape[0] == "batch"


def test_real_batch_from_a_trained_run(tmp_path):
    """A run made by `corenets run` is checked on its own test inputs, not on noise."""
    pytest.importorskip("onnxruntime", reason="ONNX export needs the [export] extra")
    from corenets.config import RunConfig, apply_overrides
    from corenets.experiment import run_config

    cfg = apply_overrides(RunConfig(name="digits-mlp"), ["data.name=digits", "model.name=mlp", "model.hidden=[16]",
                                                        "train.epochs=1", f"out={tmp_path}"])
    run = run_config(cfg, quiet=True)
    r = export_run(run, "onnx", exporter="torchscript")
    assert r.checked_on.startswith("32 test inputs of digits") and r.max_abs_diff <= TOLERANCE


def test_bad_format_and_missing_run(tmp_path):
    with pytest.raises(ExportError, match="choose one of: onnx, torchscript"):
        export_run(tmp_path, "tflite")
    from corenets.errors import RunFolderError

    with pytest.raises(RunFolderError, match="no model.pt"):
        export_run(tmp_path, "torchscript")
