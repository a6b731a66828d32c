"""A bounded load test of `corenets serve` on loopback, and single-image ONNX vs PyTorch eager latency.

    flock /tmp/corenets-heavy.lock .venv/bin/python benchmarks/serve_load.py RUN [--requests 2000] [--concurrency 16]

RUN is an image run (e.g. seed_cnn on Fashion-MNIST). The server runs in its own process
(`corenets serve RUN` on 127.0.0.1 and a free port); the client is 16 threads, each with one
keep-alive connection, posting the same 28x28 PNG (a Fashion-MNIST test image) as multipart
field `file`. Reported: latency p50/p95/p99 (serial, then at the given concurrency), requests/s,
errors, and the server's resident memory sampled every 20 ms (after warm-up, peak, end).
Both processes share this machine's cores, so the client's own CPU is part of the cost.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_png() -> bytes:
    """The first Fashion-MNIST test image as PNG bytes (Debian's copy), else a fixed random 28x28."""
    from PIL import Image

    try:
        from corenets.data.formats import read_idx

        x = read_idx(Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"))[0]
    except Exception:  # noqa: BLE001 - any 28x28 image measures the same path
        x = np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(x.astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def multipart(png: bytes) -> tuple[bytes, str]:
    boundary = "corenetsbenchmarkboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + png + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class MemorySampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.02):
        super().__init__(daemon=True)
        self.pid, self.every, self.samples, self.stop = pid, every, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.samples.append((time.perf_counter(), rss_kb(self.pid)))
            except OSError:
                return
            time.sleep(self.every)


def load(port: int, body: bytes, ctype: str, n: int, concurrency: int) -> tuple[list[float], dict[int, int], float]:
    """n POSTs spread over `concurrency` threads; returns latencies (s), status counts, wall seconds."""
    lat: list[float] = []
    status: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(n))

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, codes = [], {}
        while True:
            with lock:
                if next(counter, None) is None:
                    break
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/predict", body, {"Content-Type": ctype})
                r = conn.getresponse()
                r.read()
                code = r.status
            except (OSError, http.client.HTTPException):
                code = -1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - t0)
            codes[code] = codes.get(code, 0) + 1
        conn.close()
        with lock:
            lat.extend(mine)
            for k, v in codes.items():
                status[k] = status.get(k, 0) + v

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat, status, time.perf_counter() - t0


def pct(lat: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(lat) * 1000, q))


def onnx_vs_eager(run_dir: str, png: bytes, repeats: int = 2000) -> dict[str, float]:
    """Median single-image latency (preprocessed 1x1x28x28 tensor -> logits), one thread each."""
    import tempfile

    import onnxruntime as ort
    import torch

    from corenets.export import export_run
    from corenets.runs import load_run

    torch.set_num_threads(1)
    run = load_run(run_dir)
    x = run.preprocessing.transform([png])
    with tempfile.TemporaryDirectory() as d:
        r = export_run(run_dir, "onnx", out=Path(d) / "m.onnx")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(r.path), opts, providers=["CPUExecutionProvider"])
        feed = {"input": x.numpy()}

        def timeit(fn) -> float:
            for _ in range(100):
                fn()
            ts = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
            return float(np.median(ts) * 1e6)

        model = run.model.eval()

        def eager():
            with torch.inference_mode():
                model(x)

        return {"onnxruntime_us": timeit(lambda: sess.run(None, feed)), "eager_us": timeit(eager),
                "exporter": r.exporter, "max_abs_diff": r.max_abs_diff}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--serial", type=int, default=300, help="requests at concurrency 1 first (single-image latency)")
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--threads", type=int, default=1, help="torch threads in the server (corenets serve --threads)")
    p.add_argument("--skip-onnx", action="store_true")
    args = p.parse_args(argv)

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "corenets", "serve", args.run, "--port", str(port),
                               "--threads", str(args.threads)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit(f"server exited: {server.stderr.read().decode()[-2000:]}")
                time.sleep(0.1)
        png = test_png()
        body, ctype = multipart(png)
        sampler = MemorySampler(server.pid)
        sampler.start()
        load(port, body, ctype, args.warmup, args.concurrency)
        rss_warm = rss_kb(server.pid)
        serial, serial_status, _ = load(port, body, ctype, args.serial, 1)
        t_start = time.perf_counter()
        lat, status, wall = load(port, body, ctype, args.requests, args.concurrency)
        rss_end = rss_kb(server.pid)
        sampler.stop.set()
        sampler.join()
        during = [kb for t, kb in sampler.samples if t >= t_start]
        errors = sum(v for k, v in {**status, **serial_status}.items() if k != 200)
        result = {
            "requests": args.requests, "concurrency": args.concurrency, "server_torch_threads": args.threads,
            "serial_p50_ms": pct(serial, 50), "serial_p95_ms": pct(serial, 95),
            "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99),
            "req_per_s": args.requests / wall, "errors": errors, "status": status,
            "rss_after_warmup_mb": rss_warm / 1024, "rss_peak_mb": max(during or [rss_end]) / 1024,
            "rss_end_mb": rss_end / 1024,
        }
    finally:
        server.terminate()
        server.wait(timeout=10)
    if not args.skip_onnx:
        result["single_image"] = onnx_vs_eager(args.run, png)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
