"""A bounded load test of `corenets serve` on loopback, and single-image ONNX vs PyTorch eager latency.

    .venv/bin/python benchmarks/serve_load.py RUN [--requests 2000] [--concurrency 16]
        [--workers 1] [--client asyncio|threads] [--hostile]

--hostile: the same server takes --requests good uploads, then --requests more of which every other one is
hostile (hostile_requests: the issue's pixel bombs, deep JSON, huge integers, 600,000 texts, oversized and broken
bodies); it reports the good requests' p50 in both runs and the server's peak RSS in both (loopback only).

RUN is an image run (e.g. seed_cnn on Fashion-MNIST); --hostile also takes a text run (its good request is two
sentences as JSON, so the hostile JSON bodies reach the text kind's validation). The server runs in its own process(es)
(`corenets serve RUN [--workers N]` on 127.0.0.1 and a free port). Every request is a real
multipart upload (field `file`) of the same 28x28 PNG (a Fashion-MNIST test image) to POST /predict.

The client is this process. By default it is one asyncio task per connection (uvloop when
installed), each with one keep-alive connection, writing the prebuilt request bytes and parsing
only the status line and Content-Length: a lean client, since it shares the machine's cores with
the server. `--client threads` is the older one (http.client in one thread per connection), which
costs more CPU per request. Latencies are the client's own clock, from before the write to the
last byte of the answer; a 200 counts only if its body is a prediction. Needs nothing beyond
Python and the [serve] extra.

Reported: latency p50/p95/p99/max (serial, then at the given concurrency), requests/s, errors, and
the resident memory of the server's processes, sampled every 20 ms (after warm-up, peak during the
run, end; and the peak of each half of the run, since a leak keeps growing while allocator arenas
settle early). Both client and server share this machine's cores, so the client's CPU is part of the cost.
"""

from __future__ import annotations

import argparse
import asyncio
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


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (the worker processes of `corenets serve --workers N`)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def tree_rss_kb(pids: list[int]) -> int:
    """Resident memory summed over the server's processes (pages shared between workers count once per process)."""
    total = 0
    for p in pids:
        try:
            total += rss_kb(p)
        except OSError:
            pass
    return total


class MemorySampler(threading.Thread):
    def __init__(self, pids: list[int], every: float = 0.02):
        super().__init__(daemon=True)
        self.pids, self.every, self.samples, self.stop = pids, every, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.perf_counter(), tree_rss_kb(self.pids)))
            time.sleep(self.every)


class _Exchange(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection that sends a fixed request and reads one response at a time."""

    def __init__(self):
        self.buf, self.done, self.transport = bytearray(), None, None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0 or self.done is None or self.done.done():
            return
        head = bytes(self.buf[:end]).decode("latin-1").lower()
        try:
            length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")
                           if line.startswith("content-length:")), 0)
            status = int(head.split(" ", 2)[1])
        except (ValueError, IndexError) as e:
            self.done.set_exception(ConnectionError(f"not an HTTP response head: {head[:80]!r} ({e})"))
            return
        if len(self.buf) >= end + 4 + length:
            body = bytes(self.buf[end + 4:end + 4 + length])
            del self.buf[:end + 4 + length]
            self.done.set_result((status, body))

    def connection_lost(self, exc) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("the server closed the connection"))

    async def send(self, request: bytes, timeout: float = 30) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        done = self.done = loop.create_future()
        late = loop.call_later(timeout, lambda: done.done() or done.set_exception(TimeoutError("no answer in time")))
        self.transport.write(request)
        try:
            return await done
        finally:
            late.cancel()


def load(port: int, body: bytes, ctype: str, n: int, concurrency: int) -> tuple[list[float], dict[int, int], float]:
    """n POSTs over `concurrency` keep-alive connections (one asyncio task each, uvloop if installed).

    The request is built once (a real multipart upload, same bytes every time) and written raw; only
    the status line and Content-Length are parsed, so the client costs little CPU per request. A 200
    counts as a success only if its body is a prediction. Returns latencies (s), status counts, wall seconds.
    """
    request = (f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {ctype}\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    async def main() -> tuple[list[float], dict[int, int], float]:
        loop = asyncio.get_running_loop()
        left = [n]
        lat: list[float] = []
        status: dict[int, int] = {}

        async def worker() -> None:
            conn = None
            while left[0] > 0:
                left[0] -= 1
                t0 = time.perf_counter()
                try:
                    if conn is None:
                        conn = (await loop.create_connection(_Exchange, "127.0.0.1", port))[1]
                    code, answer = await conn.send(request)
                    if code == 200 and b'"predictions"' not in answer:
                        code = -2  # a 200 that is not an answer
                except OSError:  # refused, reset, closed, timed out
                    code = -1
                    if conn is not None:
                        conn.transport.close()
                    conn = None
                lat.append(time.perf_counter() - t0)
                status[code] = status.get(code, 0) + 1
            if conn is not None:
                conn.transport.close()

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return lat, status, time.perf_counter() - t0

    try:
        import uvloop

        return uvloop.run(main())
    except ImportError:
        return asyncio.run(main())


def load_threads(port: int, body: bytes, ctype: str, n: int, concurrency: int) -> tuple[list[float], dict[int, int], float]:
    """The older client: n POSTs from `concurrency` threads, each with one http.client keep-alive connection."""
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


# ------------------------------------------------------------------ --hostile: good requests mixed with hostile ones


def _request(port: int, body: bytes, ctype: str, path: str = "/predict", length: int | None = None) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\n\r\n").encode() + body


def _png(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def hostile_requests(port: int, png: bytes) -> dict[str, bytes]:
    """The hostile requests of the issue and their neighbours, each built once (raw HTTP/1.1 bytes). Each is one the
    server must refuse (but a text server reads "text named .png", which is plain ASCII, as the text it is); large
    requests it accepts (a 2000x2000 photo, 64 images at once) are load, not hostility."""
    from PIL import Image

    big = _png(Image.new("RGB", (6000, 6000), (200, 30, 30)))  # 36 MP of one colour: 117 KB

    def files(named: list[tuple[str, bytes]]) -> bytes:
        boundary = "corenetsbenchmarkboundary"
        parts = b"".join((f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{n}\"\r\n"
                          f"Content-Type: image/png\r\n\r\n").encode() + data + b"\r\n" for n, data in named)
        return _request(port, parts + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}")

    as_json = lambda text: _request(port, text.encode(), "application/json")  # noqa: E731
    return {
        "16 one-colour 6000x6000 PNGs (576 MP)": files([(f"{i}.png", big) for i in range(16)]),
        "one 8000x8000 PNG (64 MP)": files([("huge.png", _png(Image.new("L", (8000, 8000))))]),
        "65 files": files([(f"{i}.png", png) for i in range(65)]),
        "a truncated PNG": files([("cut.png", png[: len(png) // 2])]),
        "text named .png": files([("cat.png", b"GIF89a not an image at all")]),
        "JSON nested 2,000 deep": as_json("[" * 2000 + "]" * 2000),
        "an integer 10**400": as_json('{"rows": [{"x": 1' + "0" * 400 + "}]}"),
        "600,000 one-character texts (3 MB)": as_json('{"texts": [' + ",".join(['"a"'] * 600_000) + "]}"),
        "Content-Length of 11 MB": _request(port, b"", "multipart/form-data; boundary=x", length=11 * 2**20),
        "a broken multipart body": _request(port, b"--x\r\nnot a part", "multipart/form-data; boundary=x"),
    }


def load_mixed(port: int, plan: list[tuple[str, bytes]], concurrency: int) -> dict[str, list[tuple[float, int]]]:
    """Each (label, request) of `plan` once, over `concurrency` tasks; "good" requests reuse a keep-alive connection,
    every other one gets a fresh connection (the server may close one after refusing a body it did not read).
    Returns {label: [(latency s, status)]}; a good 200 counts only if its body is a prediction (else status -2)."""

    async def main() -> dict[str, list[tuple[float, int]]]:
        loop = asyncio.get_running_loop()
        todo = iter(plan)
        out: dict[str, list[tuple[float, int]]] = {}

        async def worker() -> None:
            conn = None
            for label, request in todo:
                good = label == "good"
                t0 = time.perf_counter()
                try:
                    if conn is None or not good:
                        if conn is not None:
                            conn.transport.close()
                        conn = (await loop.create_connection(_Exchange, "127.0.0.1", port))[1]
                    code, answer = await conn.send(request)
                    if good and code == 200 and b'"predictions"' not in answer:
                        code = -2
                except OSError:  # refused, reset, closed, timed out
                    code = -1
                    if conn is not None:
                        conn.transport.close()
                    conn = None
                out.setdefault(label, []).append((time.perf_counter() - t0, code))
                if not good and conn is not None:
                    conn.transport.close()
                    conn = None
            if conn is not None:
                conn.transport.close()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return out

    try:
        import uvloop

        return uvloop.run(main())
    except ImportError:
        return asyncio.run(main())


def measured(pids: list[int], fn):
    """fn() while sampling the server's RSS: (fn's result, peak MB, wall seconds)."""
    sampler = MemorySampler(pids)
    sampler.start()
    t0 = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    return result, max(kb for _, kb in sampler.samples) / 1024, wall


def good_request(port: int, png: bytes) -> bytes:
    """The good request for the served run's input: the PNG upload (image), or two sentences as JSON (text)."""
    card = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/info", timeout=10).read())
    if card["input"] == "text":
        return _request(port, json.dumps({"texts": ["a gripping and moving film", "dull and far too long"]}).encode(),
                        "application/json")
    if card["input"] != "image":
        raise SystemExit(f"--hostile measures image and text runs; this run reads {card['input']}")
    return _request(port, *multipart(png))


def hostile_run(port: int, pids: list[int], png: bytes, n: int, concurrency: int) -> dict:
    """n all-good requests, then n requests of which every other one is hostile (cycling through hostile_requests)."""
    good = good_request(port, png)
    hostile = hostile_requests(port, png)
    kinds = list(hostile)
    plan = [("good", good) if i % 2 == 0 else (kinds[(i // 2) % len(kinds)], hostile[kinds[(i // 2) % len(kinds)]])
            for i in range(n)]
    all_good, rss_good, wall_good = measured(pids, lambda: load_mixed(port, [("good", good)] * n, concurrency))
    mixed, rss_mixed, wall_mixed = measured(pids, lambda: load_mixed(port, plan, concurrency))
    p50 = lambda rows: pct([t for t, _ in rows], 50)  # noqa: E731
    errors = lambda rows: sum(code != 200 for _, code in rows)  # noqa: E731
    return {
        "requests": n, "concurrency": concurrency,
        "all_good": {"p50_ms": p50(all_good["good"]), "p95_ms": pct([t for t, _ in all_good["good"]], 95),
                     "errors": errors(all_good["good"]), "rss_peak_mb": rss_good, "wall_s": wall_good},
        "mixed_good": {"n": len(mixed["good"]), "p50_ms": p50(mixed["good"]),
                       "p95_ms": pct([t for t, _ in mixed["good"]], 95), "errors": errors(mixed["good"]),
                       "rss_peak_mb": rss_mixed, "wall_s": wall_mixed},
        "hostile": {k: {"n": len(v), "status": sorted({c for _, c in v}), "p50_ms": p50(v)}
                    for k, v in mixed.items() if k != "good"},
        "p50_ratio": p50(mixed["good"]) / p50(all_good["good"]), "rss_over_all_good_mb": rss_mixed - rss_good,
    }


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
    p.add_argument("--workers", type=int, default=1, help="server processes (corenets serve --workers)")
    p.add_argument("--client", choices=("asyncio", "threads"), default="asyncio",
                   help="asyncio: one lean raw-socket client task per connection (default); threads: http.client in threads")
    p.add_argument("--skip-onnx", action="store_true")
    p.add_argument("--hostile", action="store_true",
                   help="after warm-up: --requests all-good requests, then --requests with every other one hostile "
                        "(pixel bombs, deep JSON, huge integers, 600,000 texts, oversized bodies, ...); compares the "
                        "good requests' p50 and the server's peak RSS between the two")
    args = p.parse_args(argv)
    load_fn = load if args.client == "asyncio" else load_threads

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "corenets", "serve", args.run, "--port", str(port),
                               "--threads", str(args.threads), "--workers", str(args.workers)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
        if args.hostile:  # warm up with the run's own good request (a text run refuses the PNG)
            load_mixed(port, [("good", good_request(port, png))] * args.warmup, args.concurrency)
        else:
            load_fn(port, body, ctype, args.warmup, args.concurrency)
        pids = process_tree(server.pid)  # after warm-up, so every worker has started
        if args.hostile:
            print(json.dumps(hostile_run(port, pids, png, args.requests, args.concurrency), indent=1))
            return 0
        rss_warm = tree_rss_kb(pids)
        serial, serial_status, _ = load_fn(port, body, ctype, args.serial, 1)
        sampler = MemorySampler(pids)
        sampler.start()
        t_start = time.perf_counter()
        lat, status, wall = load_fn(port, body, ctype, args.requests, args.concurrency)
        t_end = time.perf_counter()
        rss_end = tree_rss_kb(pids)
        sampler.stop.set()
        sampler.join()
        during = [kb for t, kb in sampler.samples if t_start <= t <= t_end]
        half = [kb for t, kb in sampler.samples if t_start + (t_end - t_start) / 2 <= t <= t_end]
        errors = sum(v for k, v in {**status, **serial_status}.items() if k != 200)
        result = {
            "requests": args.requests, "concurrency": args.concurrency, "server_torch_threads": args.threads,
            "server_workers": args.workers, "server_processes": len(pids),
            "client": args.client,
            "serial_p50_ms": pct(serial, 50), "serial_p95_ms": pct(serial, 95),
            "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99), "max_ms": max(lat) * 1000,
            "req_per_s": args.requests / wall, "errors": errors, "status": status,
            "rss_after_warmup_mb": rss_warm / 1024, "rss_peak_mb": max(during or [rss_end]) / 1024,
            "rss_end_mb": rss_end / 1024,
            # a leak grows through the run; allocator arenas settle in the first part of it
            "rss_peak_first_half_mb": max(during[:len(during) - len(half)] or [rss_warm]) / 1024,
            "rss_peak_second_half_mb": max(half or [rss_end]) / 1024,
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
