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


def test_serve_subprocess_answers_and_survives_bad_requests(tmp_path):
    pytest.importorskip("uvicorn", reason="serving needs the [serve] extra")
    pytest.importorskip("multipart", reason="serving needs the [serve] extra")
    from tiny_runs import text_run

    run = text_run(tmp_path)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "corenets", "serve", str(run), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    base = f"http://127.0.0.1:{port}"

    def post(obj):
        req = urllib.request.Request(base + "/predict", json.dumps(obj).encode(), {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/health", timeout=1)
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.1)
        assert post({"text": ""})[0] == 422
        assert post({"nothing": 1})[0] == 422
        status, body = post({"text": "a good film"})
        assert status == 200 and body["predictions"][0]["label"] in ("negative", "positive")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"at http://127.0.0.1:{port}/" in out


def test_serve_a_folder_that_is_not_a_run(tmp_path, capsys):
    pytest.importorskip("uvicorn", reason="serving needs the [serve] extra")
    assert main(["serve", str(tmp_path)]) == 2
    assert "has no model.pt" in capsys.readouterr().err
