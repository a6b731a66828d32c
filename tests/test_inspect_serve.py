"""POST /explain: the same inputs, limits and errors as /predict, answered with attributions; and the page's
explanation view in a real browser (Chromium, as tests/serve/test_browser.py drives it)."""

from __future__ import annotations

import base64
import io
import os

import numpy as np
import pytest

pytest.importorskip("captum")
pytest.importorskip("fastapi", reason="serving needs the [serve] extra")
pytest.importorskip("multipart", reason="serving needs the [serve] extra (python-multipart)")

import warnings  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402
from tiny_runs import image_run, png, table_run, text_run  # noqa: E402

from corenets.serve import create_app  # noqa: E402


@pytest.fixture(scope="module")
def image_client(tmp_path_factory):
    return TestClient(create_app(image_run(tmp_path_factory.mktemp("img")), max_upload_mb=1, max_pixels=1_000_000))


def test_explain_an_image_answers_grad_cam_and_a_png(image_client):
    rng = np.random.default_rng(0)
    files = [("file", (f"{i}.png", png(rng.integers(0, 256, (28, 28))), "image/png")) for i in range(2)]
    got = image_client.post("/explain", files=files)
    assert got.status_code == 200, got.text
    body = got.json()
    pred = image_client.post("/predict", files=files).json()["predictions"]
    assert [e["input"] for e in body["explanations"]] == ["0.png", "1.png"]
    for e, p in zip(body["explanations"], pred):
        assert e["class"] == p["label"] and e["method"] == "grad-cam"
        heat = np.array(e["attribution"])
        assert heat.shape == (28, 28) and heat.min() >= 0
        assert "integrated_gradients" not in e  # a CNN answers Grad-CAM alone (one backward pass)
        assert Image.open(io.BytesIO(base64.b64decode(e["png"]))).size[0] >= 28


@pytest.mark.parametrize("kwargs", [
    {"files": {"file": ("cat.png", b"GIF89a not really", "image/png")}},  # not an image
    {"files": {"file": ("big.png", b"\0" * (2 * 2**20), "image/png")}},  # over --max-upload-mb
    {"json": {"text": "hi"}},  # JSON to an image run
    {"data": {"x": "1"}},  # no file field
])
def test_explain_refuses_what_predict_refuses_with_the_same_answer(image_client, kwargs):
    a, b = image_client.post("/predict", **kwargs), image_client.post("/explain", **kwargs)
    assert (b.status_code, b.json()) == (a.status_code, a.json())
    assert 400 <= b.status_code < 500


def test_explain_text_and_tables(tmp_path):
    text = TestClient(create_app(text_run(tmp_path, "gru")))
    got = text.post("/explain", json={"texts": ["a good film", "dull"]}).json()["explanations"]
    assert [g["tokens"] for g in got] == [["a", "good", "film"], ["dull"]]
    assert all(len(g["attribution"]) == len(g["tokens"]) for g in got)
    empty = {"texts": ["  "]}
    assert text.post("/explain", json=empty).json() == text.post("/predict", json=empty).json()
    table = TestClient(create_app(table_run(tmp_path)))
    rows = {"rows": [{"age": 30, "income": 2, "city": "oslo"}]}
    got = table.post("/explain", json=rows)
    assert got.status_code == 200, got.text
    assert got.json()["explanations"][0]["features"][:2] == ["age", "income"]
