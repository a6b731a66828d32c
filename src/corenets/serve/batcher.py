"""Dynamic batching of image uploads: requests that arrive together share one forward pass.

One worker thread owns the model. While it runs a batch, new requests queue up; when it is
done it takes all of them (up to `max_images` images) as the next batch. So a lone request
waits for nothing (a batch of one), and under load the per-request cost of the forward pass
and of the Python around it is shared. This also means torch is never called from many
threads at once, which on a few cores only adds switching.

Requests arrive decoded: each request's uploads are decoded and shrunk to the model's size in
its own thread, inside the server's pixel budget (ServedModel.files), so a bad upload fails only
its own request and a large one never holds up this thread. A batch is therefore at most
`max_images` images of the model's size (64 x 28 x 28 pixels for Fashion-MNIST): the work of one
batch is bounded, whatever the uploads were. If the batched forward pass itself fails, every
request of that batch is retried alone, so one input cannot poison the answers of the others.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future
from typing import Any

import numpy as np

from .model import ServedModel


class _Job:
    __slots__ = ("pixels", "names", "future")

    def __init__(self, pixels: np.ndarray, names: list[str]):
        self.pixels, self.names = pixels, names  # uint8 (n, C, H, W) of the model's size; a name per image
        self.future: Future = Future()


class ImageBatcher:
    """Predict uploaded images in batches formed from concurrent requests.

    Args:
        served: a model whose input kind batches uploads (`served.pre.batch_uploads`: images).
        max_images: most images in one forward pass; a single request larger than this is still one batch.
    """

    def __init__(self, served: ServedModel, max_images: int = 64):
        self.served, self.max_images = served, max_images
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._held: _Job | None = None  # taken from the queue but kept for the next batch (it did not fit)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.batches = 0  # forward passes so far; with `images`, the mean batch size
        self.images = 0

    async def predict(self, pixels: np.ndarray, names: list[str]) -> dict[str, Any]:
        """The same answer as ServedModel.predict(pixels, names), up to float rounding."""
        return await asyncio.wrap_future(self.submit(pixels, names))

    def submit(self, pixels: np.ndarray, names: list[str]) -> Future:
        """Queue one request's decoded images (served.files(uploads)); the future gets its answer or its InputError."""
        self._start()
        job = _Job(pixels, names)
        self._queue.put(job)
        return job.future

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:  # started lazily, so creating an app (or importing) starts nothing
                    self._thread = threading.Thread(target=self._loop, name="corenets-batcher", daemon=True)
                    self._thread.start()

    def _next_batch(self) -> list[_Job]:
        first = self._held or self._queue.get()  # blocks while idle
        self._held = None
        jobs, n = [first], len(first.pixels)
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return jobs
            if n + len(job.pixels) > self.max_images:
                self._held = job
                return jobs
            jobs.append(job)
            n += len(job.pixels)

    def _loop(self) -> None:
        while True:
            jobs = [j for j in self._next_batch() if j.future.set_running_or_notify_cancel()]
            try:
                self.run_batch(jobs)
            except BaseException as e:  # noqa: BLE001 - a bug here must fail these requests, not hang them
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(e)

    def run_batch(self, jobs: list[_Job]) -> None:
        """Predict the images of all jobs in one pass, and settle every job's future."""
        if not jobs:
            return
        served = self.served
        names = [n for job in jobs for n in job.names]
        try:
            out = served.predict(np.concatenate([job.pixels for job in jobs]), names)
        except Exception:  # noqa: BLE001 - find out whose input it was: each job again, alone
            for job in jobs:
                try:
                    job.future.set_result(served.predict(job.pixels, job.names))
                except Exception as e:  # noqa: BLE001
                    job.future.set_exception(e)
            return
        self.batches += 1
        self.images += len(names)
        preds, start = out["predictions"], 0
        for job in jobs:
            job.future.set_result({**out, "predictions": preds[start:start + len(job.pixels)]})
            start += len(job.pixels)
