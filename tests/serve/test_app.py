"""The JSON API with FastAPI's TestClient: every input kind, every refusal, and concurrent requests."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="serving needs the [serve] extra")
pytest.importorskip("multipart", reason="serving needs the [serve] extra (python-multipart)")

import warnings  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette 1.x warns that it prefers httpx2 to httpx; both work
    from fastapi.testclient import TestClient  # noqa: E402
from tiny_runs import image_run, png, series_run, table_run, text_run  # noqa: E402

from corenets.runs import load_run  # noqa: E402
from corenets.serve import create_app  # noqa: E402


def images(n: int, size=(28, 28), seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [png(rng.integers(0, 256, size)) for _ in range(n)]


@pytest.fixture(scope="module")
def image_client(tmp_path_factory):
    run = image_run(tmp_path_factory.mktemp("img"))
    return TestClient(create_app(run, max_upload_mb=1, max_pixels=1_000_000)), run


@pytest.fixture(scope="module")
def text_client(tmp_path_factory):
    run = text_run(tmp_path_factory.mktemp("text"), options={"bidirectional": True})
    return TestClient(create_app(run)), run


@pytest.fixture(scope="module")
def table_client(tmp_path_factory):
    run = table_run(tmp_path_factory.mktemp("table"), options={"hidden": [8]})
    return TestClient(create_app(run)), run


# ------------------------------------------------------------------ health, info, page


def test_health_info_page_and_docs(image_client):
    client, run = image_client
    assert client.get("/health").json() == {"status": "ok", "run": run.name}
    card = client.get("/info").json()
    assert card["recipe"] == run.name and card["dataset"] == "tiny" and card["model"] == "seed_cnn"
    assert card["classes"] == ["class0", "class1", "class2", "class3"] and card["input"] == "image"
    assert card["parameters"] == sum(p.numel() for p in load_run(run).model.parameters())
    assert card["test_metrics"] == {"n": 10, "accuracy": 0.5} and card["trained"] == "2026-01-02T03:04:05"
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script src" not in page.text and "http://" not in page.text and "https://" not in page.text  # offline
    assert client.get("/docs").status_code == 200 and "/predict" in client.get("/openapi.json").json()["paths"]


# ------------------------------------------------------------------ each input kind


def test_images_are_one_batch_and_match_run_predict(image_client):
    client, run = image_client
    files = images(3)
    r = client.post("/predict", files=[("file", (f"{i}.png", b, "image/png")) for i, b in enumerate(files)])
    assert r.status_code == 200, r.text
    body = r.json()
    assert [p["input"] for p in body["predictions"]] == ["0.png", "1.png", "2.png"]
    expected = load_run(run).predict([io.BytesIO(b).getvalue() for b in files])
    for p, label, proba in zip(body["predictions"], expected.labels, expected.proba):
        assert p["label"] == label == p["top_k"][0]["class"]
        np.testing.assert_allclose(p["probabilities"], proba, atol=1e-6)
        assert len(p["top_k"]) == 4 and p["top_k"][0]["probability"] >= p["top_k"][1]["probability"]


def test_a_jpeg_of_another_size_and_mode_is_converted(image_client):
    client, _ = image_client
    rgb = png(np.random.default_rng(1).integers(0, 256, (64, 40, 3)), "JPEG")
    r = client.post("/predict", files={"file": ("photo.jpg", rgb, "image/jpeg")})
    assert r.status_code == 200 and abs(sum(r.json()["predictions"][0]["probabilities"]) - 1) < 1e-6


def test_text(text_client):
    client, run = text_client
    r = client.post("/predict", json={"texts": ["a good film", "dull and long, not good"]})
    assert r.status_code == 200, r.text
    expected = load_run(run).predict(["a good film", "dull and long, not good"])
    assert [p["label"] for p in r.json()["predictions"]] == expected.labels
    one = client.post("/predict", json={"text": "a good film"}).json()["predictions"]
    # alone or in a batch of two: the same numbers up to float rounding (the batch's kernels may differ by CPU)
    np.testing.assert_allclose(one[0]["probabilities"], r.json()["predictions"][0]["probabilities"], atol=1e-6)


def test_each_kind_names_its_own_page_widget(text_client, table_client, tmp_path):
    """/info's "input" picks the page's widget: a text run showed the rows box (JSON numbers) until its kind said "text"."""
    assert text_client[0].get("/info").json()["input"] == "text"
    assert table_client[0].get("/info").json()["input"] == "table"
    assert TestClient(create_app(series_run(tmp_path))).get("/info").json()["input"] == "series"


def test_text_with_subwords(tmp_path):
    run = text_run(tmp_path, model="gru", subwords=40)  # tokens carry character n-grams: (T, 1 + slots) inputs
    client = TestClient(create_app(run))
    texts = ["a goodish film", "dull and longer"]  # words the vocabulary lacks, read by their pieces
    r = client.post("/predict", json={"texts": texts})
    assert r.status_code == 200, r.text
    expected = load_run(run).predict(texts)
    np.testing.assert_allclose([p["probabilities"] for p in r.json()["predictions"]], expected.proba, atol=1e-6)


def test_table_rows_and_csv(table_client):
    client, run = table_client
    rows = [{"age": 30, "income": 2.5, "city": "oslo"}, {"age": 61, "income": 4.0, "city": "rome"}]
    r = client.post("/predict", json={"rows": rows})
    assert r.status_code == 200, r.text
    import pandas as pd

    expected = load_run(run).predict(pd.DataFrame(rows))
    assert [p["label"] for p in r.json()["predictions"]] == expected.labels
    csv = pd.DataFrame(rows).to_csv(index=False).encode()
    by_csv = client.post("/predict", files={"file": ("rows.csv", csv, "text/csv")})
    assert by_csv.status_code == 200 and by_csv.json()["predictions"] == r.json()["predictions"]


def test_regression_and_series_return_values(tmp_path):
    reg = TestClient(create_app(table_run(tmp_path, task="regression", options={"hidden": [4]})))
    r = reg.post("/predict", json={"rows": [{"age": 30, "income": 2.5, "city": "oslo"}]})
    assert r.status_code == 200 and set(r.json()["predictions"][0]) == {"value"}
    run = series_run(tmp_path)
    client = TestClient(create_app(run))
    assert client.get("/info").json()["series"]["prices_needed"] == 10
    prices = list(np.linspace(40, 60, 15))
    r = client.post("/predict", json={"prices": prices})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"][0]["value"] == pytest.approx(float(load_run(run).predict(prices).values[0]), rel=1e-6)
    csv = "Date,Close\n" + "".join(f"2024-01-{d + 1:02d},{p}\n" for d, p in enumerate(prices))
    r2 = client.post("/predict", files={"file": ("prices.csv", csv.encode(), "text/csv")})
    assert r2.status_code == 200 and r2.json()["predictions"][0]["value"] == pytest.approx(r.json()["predictions"][0]["value"])
    short = client.post("/predict", json={"prices": prices[:3]})
    assert short.status_code == 422 and "3 prices; this model needs at least 10" in short.json()["error"]


# ------------------------------------------------------------------ refusals: 4xx JSON, and the server goes on


def refused(r, status: int, *words: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    for w in words:
        assert w in r.json()["error"]


def test_upload_too_large_by_header_and_by_stream(image_client):
    client, _ = image_client
    refused(client.post("/predict", files={"file": ("big.png", b"\0" * (2 * 2**20), "image/png")}), 413, "limit of 1 MB")

    def chunks():  # no Content-Length: the body is counted as it arrives
        for _ in range(30):
            yield b"x" * 100_000

    refused(client.post("/predict", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}),
            413, "limit of 1 MB")
    assert client.post("/predict", files={"file": ("ok.png", images(1)[0], "image/png")}).status_code == 200


def test_decompression_bomb_is_refused_before_decoding(image_client):
    client, _ = image_client
    bomb = png(np.zeros((2000, 2000)))  # 4 MP of zeros compress to a few KB; the limit here is 1 MP
    assert len(bomb) < 2**20
    refused(client.post("/predict", files={"file": ("bomb.png", bomb, "image/png")}), 413, "bomb.png", "4,000,000 pixels")


def test_non_image_content_is_refused_by_decoding_not_by_name(image_client):
    client, _ = image_client
    refused(client.post("/predict", files={"file": ("cat.png", b"GIF89a not really", "image/png")}), 415, "cat.png")
    refused(client.post("/predict", files={"file": ("x.png", b"", "image/png")}), 422, "empty")
    truncated = images(1)[0][:60]
    r = client.post("/predict", files={"file": ("cut.png", truncated, "image/png")})
    assert r.status_code in (415, 422) and "cut.png" in r.json()["error"]
    refused(client.post("/predict", json={"text": "hi"}), 415, "multipart")
    refused(client.post("/predict", data={"x": "1"}), 415, "not accepted")
    refused(client.post("/predict", files={"other": ("a.png", images(1)[0], "image/png")}), 422, "field 'file'")


def test_empty_text_and_bad_json(text_client):
    client, _ = text_client
    refused(client.post("/predict", json={"text": "   "}), 422, "empty")
    refused(client.post("/predict", json={"texts": ["fine", ""]}), 422, "text 2 of 2 is empty")
    refused(client.post("/predict", json={"text": 5}), 422, '{"text"')
    refused(client.post("/predict", content=b"{not json", headers={"content-type": "application/json"}), 400, "not valid JSON")


def test_wrong_csv_columns(table_client):
    client, _ = table_client
    refused(client.post("/predict", files={"file": ("x.csv", b"age,salary\n1,2\n", "text/csv")}), 422, "income", "city")
    refused(client.post("/predict", json={"rows": [{"age": 3}]}), 422, "income")
    refused(client.post("/predict", files={"file": ("x.csv", b"age,income,city\n1,abc,oslo\n", "text/csv")}), 422, "non-numeric")
    refused(client.post("/predict", files={"file": ("x.csv", b"", "text/csv")}), 422, "empty")
    assert client.get("/health").status_code == 200


# ------------------------------------------------------------------ concurrency


def test_eight_threads_get_the_serial_answers(image_client):
    client, _ = image_client
    payloads = images(16, seed=3)
    post = lambda b: client.post("/predict", files={"file": ("x.png", b, "image/png")}).json()["predictions"][0]  # noqa: E731
    serial = [post(b) for b in payloads]
    results: dict[int, dict] = {}
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(k, len(payloads), 8):
                results[i] = post(payloads[i])
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, expected in enumerate(serial):  # concurrent images may share a forward pass: equal up to float rounding
        got = results[i]
        assert got["label"] == expected["label"] and got["input"] == expected["input"]
        assert [t["class"] for t in got["top_k"]] == [t["class"] for t in expected["top_k"]]
        np.testing.assert_allclose(got["probabilities"], expected["probabilities"], rtol=1e-5, atol=1e-6)


def test_sequence_views_take_the_raw_inputs_of_their_dataset(tmp_path):
    """A recurrent run over image rows (fashion-mnist-lstm) is served as an image model."""
    from tiny_runs import make_run

    from corenets.data.sequence import SequencePreprocessing
    from corenets.data.vision import ImagePreprocessing

    inner = ImagePreprocessing(shape=[1, 28, 28], scale=1 / 255, mean=[0.3], std=[0.25], mode="L")
    pre = SequencePreprocessing(mode="rows", inner=inner.to_dict())
    run = make_run(tmp_path, "rows-lstm", "lstm", (28, 28), "multiclass", ["a", "b", "c"], pre, {"hidden_size": 8})
    client = TestClient(create_app(run))
    assert client.get("/info").json()["input"] == "image"
    files = images(2, seed=5)
    r = client.post("/predict", files=[("file", (f"{i}.png", b, "image/png")) for i, b in enumerate(files)])
    assert r.status_code == 200, r.text
    assert [p["label"] for p in r.json()["predictions"]] == load_run(run).predict(files).labels


def test_text_file_upload_is_one_sentence_per_line(text_client):
    client, run = text_client
    r = client.post("/predict", files={"file": ("reviews.txt", b"a good film\n\ndull and long\n", "text/plain")})
    assert r.status_code == 200, r.text
    assert [p["label"] for p in r.json()["predictions"]] == load_run(run).predict(["a good film", "dull and long"]).labels
    refused(client.post("/predict", files={"file": ("empty.txt", b"\n \n", "text/plain")}), 422, "empty")


WEIRD_BODIES = [None, [], {}, 0, "text", [None], [[]], {"rows": None}, {"rows": [[1, 2]]}, {"rows": [{"age": [1]}]},
                {"rows": [{"age": "x", "income": 1, "city": 3}]}, {"text": None}, {"texts": [1, 2]}, {"texts": []},
                {"prices": [[1, 2], [3]]}, {"prices": ["a"]}, {"text": "x" * 100_000}, [{"age": 1e308, "income": -1e308, "city": ""}]]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the 1e308 row, on purpose
@pytest.mark.parametrize("which", ["text_client", "table_client"])
def test_odd_json_never_breaks_the_server(which, request):
    client, _ = request.getfixturevalue(which)
    for body in WEIRD_BODIES:
        r = client.post("/predict", json=body)
        assert r.status_code < 500, (body, r.text)
        assert r.status_code == 200 or "error" in r.json()
    assert client.get("/health").status_code == 200


def test_rows_of_the_wrong_width_for_a_plain_run(tmp_path):
    from tiny_runs import make_run

    from corenets.data.bundle import Preprocessing

    client = TestClient(create_app(make_run(tmp_path, "plain", "mlp", (3,), "binary", ["a", "b"], Preprocessing(),
                                            {"hidden": [4]})))
    assert client.get("/info").json()["input"] == "rows"
    assert client.post("/predict", json={"rows": [[1, 2, 3], [4, 5, 6]]}).status_code == 200
    refused(client.post("/predict", json={"rows": [[1, 2]]}), 422, "does not fit")
