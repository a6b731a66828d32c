"""`corenets serve` as a user starts it: a subprocess on a free loopback port, answering over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from corenets.cli import main

SRC = str(Path(__file__).resolve().parents[2] / "src")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """`corenets serve RUN ARGS` in a subprocess on a free loopback port; `out` holds its output once stopped."""

    def __init__(self, run, *args: str, start_s: float = 30):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.args, self.run, self.start_s, self.out = args, run, start_s, ""

    def __enter__(self) -> Served:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen([sys.executable, "-m", "corenets", "serve", str(self.run), "--port", str(self.port),
                                      *self.args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for _ in range(int(self.start_s * 10)):
            try:
                urllib.request.urlopen(self.base + "/health", timeout=1)
                break
            except OSError:
                assert self.proc.poll() is None, self.proc.stdout.read()
                time.sleep(0.1)
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.out, _ = self.proc.communicate(timeout=20)

    def post(self, body: bytes, content_type: str, timeout: float = 20) -> tuple[int, dict]:
        """POST /predict; the status and the JSON answer, for refusals too."""
        req = urllib.request.Request(self.base + "/predict", body, {"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


def test_serve_subprocess_answers_and_survives_bad_requests(tmp_path):
    pytest.importorskip("uvicorn", reason="serving needs the [serve] extra")
    pytest.importorskip("multipart", reason="serving needs the [serve] extra")
    from tiny_runs import text_run

    run = text_run(tmp_path)
    with Served(run) as server:
        post = lambda obj: server.post(json.dumps(obj).encode(), "application/json")  # noqa: E731
        assert post({"text": ""})[0] == 422
        assert post({"nothing": 1})[0] == 422
        status, body = post({"text": "a good film"})
        assert status == 200 and body["predictions"][0]["label"] in ("negative", "positive")
    assert f"at http://127.0.0.1:{server.port}/" in server.out


def test_serve_a_folder_that_is_not_a_run(tmp_path, capsys):
    pytest.importorskip("uvicorn", reason="serving needs the [serve] extra")
    assert main(["serve", str(tmp_path)]) == 2
    assert "has no model.pt" in capsys.readouterr().err


@pytest.mark.parametrize("option, value, message", [("--workers", "0", "--workers must be 1 or more, got 0"),
                                                    ("--threads", "-1", "--threads must be 0")])
def test_serve_refuses_a_bad_worker_or_thread_count(tmp_path, capsys, option, value, message):
    pytest.importorskip("uvicorn", reason="serving needs the [serve] extra")
    assert main(["serve", str(tmp_path), option, value]) == 2
    assert message in capsys.readouterr().err


def test_serve_with_two_workers_answers_like_one_and_keeps_its_limits(tmp_path):
    """Each worker process loads the model itself (from CORENETS_SERVE); the answers, card and limits are the same."""
    pytest.importorskip("uvicorn", reason="serving needs the [serve] extra")
    pytest.importorskip("multipart", reason="serving needs the [serve] extra")
    import io

    import numpy as np
    from PIL import Image
    from tiny_runs import image_run

    from corenets.runs import load_run

    run = image_run(tmp_path)
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8)).save(buf, "PNG")
    image = buf.getvalue()

    def upload(server: Served, name: str, data: bytes):
        boundary = "testboundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        return server.post(body, f"multipart/form-data; boundary={boundary}")

    with Served(run, "--workers", "2", "--max-upload-mb", "0.5", start_s=60) as server:
        with urllib.request.urlopen(server.base + "/info", timeout=10) as r:
            card = json.loads(r.read())
        assert card["model"] == "seed_cnn" and card["input"] == "image"
        expected = load_run(run).predict([image])
        for _ in range(6):  # several connections, so both workers are likely to answer some
            status, body = upload(server, "x.png", image)
            assert status == 200 and body["predictions"][0]["label"] == expected.labels[0]
            np.testing.assert_allclose(body["predictions"][0]["probabilities"], expected.proba[0], atol=1e-6)
        status, body = upload(server, "notes.txt", b"not an image")
        assert status == 415 and "not an image" in body["error"]
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)  # announce a body over the limit,
        conn.putrequest("POST", "/predict")  # send none: refused from the header (sending it all would race the refusal)
        conn.putheader("Content-Type", "multipart/form-data; boundary=x")
        conn.putheader("Content-Length", "600000")
        conn.endheaders()
        r = conn.getresponse()
        assert r.status == 413 and "limit" in json.loads(r.read())["error"]
        conn.close()
        assert upload(server, "x.png", image)[0] == 200  # and still serving
    assert "with 2 worker(s)" in server.out
