"""Requests made to hurt the server: each is refused with a 4xx and one line, before the costly step it aims at.

Each case is the issue's reproduction, kept small: the test asserts the refusal (and that the costly step never
ran), not the blow-up. The same numbers as the issue where they are cheap to build (16 one-colour 6000x6000 PNGs
are 560 KB; 600,000 one-character texts are 3 MB of JSON).
"""

from __future__ import annotations

import io
import json
import threading

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="serving needs the [serve] extra")
pytest.importorskip("multipart", reason="serving needs the [serve] extra (python-multipart)")

import warnings  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402
from tiny_runs import image_run, png, series_run, table_run, text_run  # noqa: E402

from corenets.cli import main  # noqa: E402
from corenets.data import http_body  # noqa: E402
from corenets.serve import create_app  # noqa: E402
from corenets.serve.model import Budget  # noqa: E402


def post_json(client: TestClient, body: str | bytes):
    return client.post("/predict", content=body, headers={"content-type": "application/json"})


def refused(r, status: int, *words: str) -> None:
    assert r.status_code == status, r.text
    message = r.json()["error"]
    assert "\n" not in message and len(message) < 600
    for w in words:
        assert w in message, message


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    return {"image": image_run(root), "text": text_run(root), "table": table_run(root), "series": series_run(root)}


@pytest.fixture(scope="module")
def clients(runs):
    return {kind: TestClient(create_app(run)) for kind, run in runs.items()}


def never(what: str):
    def fail(*a, **k):
        raise AssertionError(f"{what} ran on a request that should have been refused first")
    return fail


# ------------------------------------------------------------------ unbounded work per request


def test_sixteen_one_colour_6000x6000_pngs_are_refused_from_their_headers(clients, monkeypatch):
    """The issue: 16 such PNGs (a 2.2 MB request) took RSS from 253 MB to 2.9 GB for 17.9 s."""
    import corenets.data.images as images

    big = io.BytesIO()
    Image.new("L", (6000, 6000), 0).save(big, "PNG")  # 36 MP of one colour: 35 KB
    monkeypatch.setattr(images, "load_image", never("decoding"))
    r = clients["image"].post("/predict", files=[("file", (f"{i}.png", big.getvalue(), "image/png")) for i in range(16)])
    refused(r, 413, "576,000,000 pixels", "40,000,000", "--max-request-pixels")
    monkeypatch.undo()
    ok = clients["image"].post("/predict", files={"file": ("one.png", png(np.zeros((28, 28))), "image/png")})
    assert ok.status_code == 200, ok.text


def test_one_image_over_max_pixels_names_its_flag(runs):
    client = TestClient(create_app(runs["image"], max_pixels=1_000_000))
    refused(client.post("/predict", files={"file": ("b.png", png(np.zeros((1001, 1000))), "image/png")}),
            413, "b.png", "1,001,000 pixels", "--max-pixels")


def test_600000_one_character_texts_are_refused_before_tokenizing(clients, monkeypatch):
    """The issue: 600,000 one-character texts (3 MB) took 45 s and 1.24 GB."""
    from corenets.data.text import TextPreprocessing

    body = json.dumps({"texts": ["a"] * 600_000})
    assert len(body) < 4 * 2**20
    monkeypatch.setattr(TextPreprocessing, "transform", never("tokenizing"))
    monkeypatch.setattr(http_body, "from_json", never("parsing"))  # refused from a count of its quotes (~2 ms)
    refused(post_json(clients["text"], body), 413, "600,001 strings or more", "limit of 1,000", "--max-texts")


def test_the_quote_count_never_refuses_a_text_body_the_limits_allow(runs, monkeypatch):
    """Escaped quotes and backslashes inside the texts do not count as strings: a body at the limit is answered."""
    client = TestClient(create_app(runs["text"], max_texts=3))
    at_limit = {"text": 'say "hi"', "texts": ['"a" \\"b\\"', '\\' * 20 + '"' * 9, 'x"' * 30]}
    assert client.post("/predict", json=at_limit).status_code == 200
    refused(client.post("/predict", json={"texts": ["a"] * 4}), 413, "4 texts", "limit of 3", "--max-texts")
    monkeypatch.setattr(http_body, "from_json", never("parsing"))
    refused(client.post("/predict", json={"texts": ['a "b"'] * 7}), 413, "8 strings or more", "limit of 3")  # 7 texts and a key


def test_characters_per_text_rows_and_prices_have_limits_with_flags(runs):
    text = TestClient(create_app(runs["text"], max_text_chars=50, max_texts=3))
    refused(text.post("/predict", json={"text": "a" * 51}), 413, "51 characters", "--max-text-chars")
    refused(text.post("/predict", json={"texts": ["ok", "b" * 60]}), 413, "--max-text-chars")
    lines = b"one\ntwo\nthree\nfour\n"  # a text file is held to the same limits, line by line
    refused(text.post("/predict", files={"file": ("t.txt", lines, "text/plain")}), 413, "more than 3 lines", "--max-texts")
    assert text.post("/predict", files={"file": ("t.txt", b"one\n\n\n\n  \ntwo\n", "text/plain")}).status_code == 200
    assert text.post("/predict", json={"texts": ["a good film", "dull"]}).status_code == 200

    table = TestClient(create_app(runs["table"], max_rows=3))
    row = {"age": 30, "income": 2.0, "city": "oslo"}
    refused(table.post("/predict", json={"rows": [row] * 4}), 413, "4 rows", "limit of 3", "--max-rows")
    csv = b"age,income,city\n" + b"30,2.0,oslo\n" * 4
    refused(table.post("/predict", files={"file": ("t.csv", csv, "text/csv")}), 413, "4 rows", "--max-rows")
    assert table.post("/predict", json={"rows": [row] * 3}).status_code == 200

    wide = b",".join(b"c%d" % i for i in range(1001)) + b"\n" + b",".join(b"1" for _ in range(1001)) + b"\n"
    refused(table.post("/predict", files={"file": ("wide.csv", wide, "text/csv")}), 413, "1,001 columns", "--max-columns")
    narrow = TestClient(create_app(runs["table"], max_columns=2))  # the training columns (3) are always allowed
    assert narrow.post("/predict", files={"file": ("t.csv", b"age,income,city\n30,2.0,oslo\n", "text/csv")}).status_code == 200

    series = TestClient(create_app(runs["series"], max_prices=30))
    refused(series.post("/predict", json={"prices": [100.0] * 31}), 413, "31 prices", "--max-prices")
    assert series.post("/predict", json={"prices": [100.0 + i for i in range(30)]}).status_code == 200


def test_a_limit_below_one_is_refused_when_the_app_is_made(runs):
    from corenets.errors import ConfigError

    with pytest.raises(ConfigError, match="--max-texts must be a whole number of 1 or more"):
        create_app(runs["text"], max_texts=0)


# ------------------------------------------------------------------ 500s that are 4xx


@pytest.mark.parametrize("kind", ["text", "table", "series"])
def test_json_nested_2000_deep_is_a_400_not_a_recursion_error(clients, kind):
    body = "[" * 2000 + "]" * 2000  # 4 KB
    refused(post_json(clients[kind], body), 400, "nested too deeply")
    refused(post_json(clients[kind], '{"rows": ' + body + "}"), 400, "nested too deeply")


def test_an_integer_10_to_the_400_is_a_422_naming_the_key(clients):
    huge = "1" + "0" * 400
    row = '{"rows": [{"age": ' + huge + ', "income": 1, "city": "oslo"}]}'
    refused(post_json(clients["table"], row), 422, "rows.0.age", "401 digits")
    prices = ["100"] * 12
    refused(post_json(clients["series"], '{"prices": [' + ", ".join(prices[:3] + [huge] + prices[4:]) + "]}"),
            422, "prices.3", "valid number")
    refused(post_json(clients["series"], '{"prices": [' + ", ".join(["1e400"] + prices[1:]) + "]}"),
            422, "prices.0", "finite number")


def test_rows_that_mix_objects_and_lists_are_a_422(clients, runs):
    refused(post_json(clients["table"], '{"rows": [{"age": 1, "income": 2, "city": "oslo"}, [1, 2, 3]]}'),
            422, "rows.1", "object")
    from tiny_runs import make_run

    from corenets.data.bundle import Preprocessing

    plain = TestClient(create_app(make_run(runs["table"].parent, "plain", "mlp", (3,), "binary", ["a", "b"],
                                           Preprocessing(), {"hidden": [4]})))
    refused(plain.post("/predict", json={"rows": [[1, 2, 3], {"a": 1}]}), 422, "rows.1")
    refused(plain.post("/predict", json={"rows": [[1, 2, 3], [1, 2]]}), 422, "differ in length")


def test_table_keys_the_model_does_not_read_never_become_columns(clients, monkeypatch):
    from corenets.data.tabular import TablePreprocessing

    seen = []
    real = TablePreprocessing.frame
    monkeypatch.setattr(TablePreprocessing, "frame", lambda self, raw: seen.append(raw) or real(self, raw))
    rows = [{"age": 30, "income": 2.0, "city": "oslo", **{f"junk{i}_{j}": 1 for j in range(50)}} for i in range(20)]
    assert clients["table"].post("/predict", json={"rows": rows}).status_code == 200
    assert {k for r in seen[0] for k in r} == {"age", "income", "city"}  # not 20 x 50 junk columns


@pytest.mark.parametrize("route", ["/predict", "/explain"])
def test_a_file_that_is_not_utf8_text_is_refused_by_a_text_server(clients, runs, route):
    """Before: a PNG or a Latin-1 file was read as text with replacement characters, and answered 200."""
    client = clients["text"]
    image = png(np.zeros((8, 8)))
    refused(client.post(route, files={"file": ("cat.png", image, "image/png")}), 415, "cat.png is not UTF-8 text",
            "byte 0x00 at offset 8", "UTF-8")
    refused(client.post(route, files={"file": ("t.txt", "café crème\n".encode("latin-1"), "text/plain")}), 415,
            "t.txt is not UTF-8 text (byte 0xe9 at offset 3)")
    refused(client.post(route, files=[("file", ("a.txt", b"fine\n", "text/plain")), ("file", ("b.bin", b"x\x00", "x/y"))]),
            415, "b.bin", "offset 1")
    if route == "/predict":  # UTF-8 with a byte-order mark is text: the mark is not part of the first sentence
        from corenets.runs import load_run

        r = client.post(route, files={"file": ("t.txt", "\ufeffcafé crème\ndull\n".encode(), "text/plain")})
        assert r.status_code == 200, r.text
        got = [p["probabilities"] for p in r.json()["predictions"]]
        assert np.allclose(got, load_run(runs["text"]).predict(["café crème", "dull"]).proba, atol=1e-6)


def test_predict_and_explain_read_a_request_alike(clients):
    """One reader for both routes: the same refusal, word for word, for a wrong content type, a binary text file and
    a count over a limit."""
    client = clients["text"]
    for kwargs in ({"content": b"hi", "headers": {"content-type": "text/plain"}},
                   {"files": {"file": ("x.png", png(np.zeros((4, 4))), "image/png")}},
                   {"json": {"texts": ["a"] * 1001}}):
        a, b = client.post("/predict", **kwargs), client.post("/explain", **kwargs)
        assert (a.status_code, a.json()) == (b.status_code, b.json())
        assert a.status_code in (413, 415)


def test_json_to_an_image_server_is_refused_before_it_is_parsed(clients):
    refused(post_json(clients["image"], "[" * 2000 + "]" * 2000), 415, "multipart")


# ------------------------------------------------------------------ one slow request does not hold up the others


def test_the_budget_admits_in_arrival_order_and_never_holds_more_than_its_limit():
    budget = Budget(10)
    order, inside = [], []
    release = threading.Event()

    def take(name: str, n: int, hold: bool) -> None:
        with budget(n):
            order.append(name)
            inside.append(budget.used)
            if hold:
                assert release.wait(30)

    a = threading.Thread(target=take, args=("a", 8, True))
    a.start()
    while budget.used != 8:
        pass
    b = threading.Thread(target=take, args=("b", 5, False))  # 8 + 5 > 10: waits for a
    b.start()
    while len(budget._queue) != 1:
        pass
    c = threading.Thread(target=take, args=("c", 1, False))  # would fit, but b came first
    c.start()
    while len(budget._queue) != 2:
        pass
    assert order == ["a"]
    release.set()
    for t in (a, b, c):
        t.join(30)
    assert order == ["a", "b", "c"] and max(inside) <= 10 and budget.used == 0
    with budget(10**9):  # more than the whole budget: admitted alone, counted as the whole budget
        assert budget.used == 10


def test_a_request_stuck_decoding_does_not_hold_up_a_small_one(runs, monkeypatch):
    """Decoding runs in each request's own thread, not in the batcher's: the batcher only ever sees model-sized
    images, so its work per batch is bounded (at most 64 of them) whatever the uploads were."""
    import corenets.data.images as images

    client = TestClient(create_app(runs["image"]))
    started, release = threading.Event(), threading.Event()
    real = images.read_upload

    def read_upload(name, data, max_pixels):
        if name == "slow.png":
            started.set()
            assert release.wait(30)
        return real(name, data, max_pixels)

    monkeypatch.setattr(images, "read_upload", read_upload)
    slow: dict = {}
    t = threading.Thread(target=lambda: slow.update(r=client.post(
        "/predict", files={"file": ("slow.png", png(np.zeros((28, 28))), "image/png")})))
    t.start()
    assert started.wait(30)
    fast = client.post("/predict", files={"file": ("fast.png", png(np.ones((28, 28))), "image/png")})
    assert fast.status_code == 200 and "r" not in slow  # answered while the other one is still decoding
    release.set()
    t.join(30)
    assert slow["r"].status_code == 200


# ------------------------------------------------------------------ the server refuses to start on a bad folder


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("corenets: error:"), err
    return err[0]


def test_serve_refuses_to_start_on_an_invalid_config_yaml(tmp_path, capsys):
    pytest.importorskip("uvicorn", reason="serving needs the [serve] extra")
    run = text_run(tmp_path)
    (run / "config.yaml").write_text("train: {epochs: [not a number\n", encoding="utf-8")
    assert main(["serve", str(run)]) == 2
    assert "config.yaml is invalid, so the server would refuse every request" in _one_line_error(capsys)
    (run / "config.yaml").write_text("train:\n  batch_size: -1\n", encoding="utf-8")
    assert main(["serve", str(run)]) == 2
    assert "batch_size" in _one_line_error(capsys)


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"task": "binary"}'])
def test_serve_refuses_to_start_on_an_invalid_metrics_json(tmp_path, capsys, content):
    pytest.importorskip("uvicorn", reason="serving needs the [serve] extra")
    run = text_run(tmp_path)
    (run / "metrics.json").write_text(content, encoding="utf-8")
    assert main(["serve", str(run)]) == 2
    assert "metrics.json" in _one_line_error(capsys)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"root:x:0:0:root:/root:/bin/bash\n"])
def test_serve_refuses_to_start_on_a_damaged_model_pt(tmp_path, capsys, content):
    pytest.importorskip("uvicorn", reason="serving needs the [serve] extra")
    run = text_run(tmp_path)
    (run / "model.pt").write_bytes(content)
    assert main(["serve", str(run)]) == 2
    assert "model.pt" in _one_line_error(capsys)


@pytest.mark.parametrize("flag,value", [("--max-texts", "0"), ("--max-request-pixels", "-1"), ("--max-rows", "0"),
                                        ("--max-upload-mb", "nan"), ("--max-upload-mb", "inf")])
def test_serve_refuses_a_limit_that_cannot_work(tmp_path, capsys, flag, value):
    pytest.importorskip("uvicorn", reason="serving needs the [serve] extra")
    assert main(["serve", str(text_run(tmp_path)), flag, value]) == 2
    assert flag in _one_line_error(capsys)


def test_serve_refuses_an_address_it_cannot_listen_on_in_one_line(tmp_path, capsys):
    pytest.importorskip("uvicorn", reason="serving needs the [serve] extra")
    import socket

    run = text_run(tmp_path)
    assert main(["serve", str(run), "--port", "99999"]) == 2
    assert "--port must be from 1 to 65535" in _one_line_error(capsys)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", str(run), "--port", str(port)]) == 2  # before: uvicorn's log line and exit 3
        assert f"cannot listen on 127.0.0.1:{port}" in _one_line_error(capsys)


def test_a_refused_start_prints_one_line_and_no_library_warning_first(tmp_path):
    """As a user runs it (a subprocess, every warning filter at its default): stderr is the one error line."""
    pytest.importorskip("uvicorn", reason="serving needs the [serve] extra")
    import os
    import subprocess
    import sys
    from pathlib import Path

    run = text_run(tmp_path)
    (run / "config.yaml").write_text("train: {epochs: [x\n", encoding="utf-8")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]), "PYTHONWARNINGS": ""}
    done = subprocess.run([sys.executable, "-m", "corenets", "serve", str(run)], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [done.stderr.strip()] and done.stderr.startswith("corenets: error: "), done.stderr


def test_malformed_or_oversized_forms_are_400s(clients):
    client = clients["image"]
    one = png(np.zeros((28, 28)))
    refused(client.post("/predict", files=[("file", (f"{i}.png", one, "image/png")) for i in range(65)]),
            400, "more than 64 parts")
    refused(client.post("/predict", content=b"--x\r\nnot a part", headers={"content-type": "multipart/form-data"}),
            400, "no boundary")
    refused(client.post("/predict", content=b"--x\r\nbroken\r\n\r\n", headers={"content-type": "multipart/form-data; boundary=x"}),
            400, "could not be read")
    refused(client.post("/predict", data={"file": "not a file"}, files={"other": ("a.png", one, "image/png")}),
            422, "no file in the form field 'file'")
    r = client.post("/predict", files=[("file", (f"{i}.png", one, "image/png")) for i in range(64)])
    assert r.status_code == 200 and len(r.json()["predictions"]) == 64
