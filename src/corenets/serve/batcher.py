"""Dynamic batching of image uploads: requests that arrive together share one forward pass.

One worker thread owns the model. While it runs a batch, new requests queue up; when it is
done it takes all of them (up to `max_images` images) as the next batch. So a lone request
waits for nothing (a batch of one), and under load the per-request cost of the forward pass
and of the Python around it is shared. This also means torch is never called from many
threads at once, which on a few cores only adds switching.

Each request is decoded on its own, so a bad upload fails only its own request. If the
batched forward pass itself fails, every request of that batch is retried alone, so one
input cannot poison the answers of the others.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future
from typing import Any

from .model import ServedModel


class _Job:
    __slots__ = ("uploads", "future")

    def __init__(self, uploads: list[tuple[str, bytes]]):
        self.uploads = uploads
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

    async def predict(self, uploads: list[tuple[str, bytes]]) -> dict[str, Any]:
        """The same answer as ServedModel.predict(served.image_batch(uploads), names), up to float rounding."""
        return await asyncio.wrap_future(self.submit(uploads))

    def submit(self, uploads: list[tuple[str, bytes]]) -> Future:
        """Queue one request's uploads; the future gets its answer dict or its InputError."""
        self._start()
        job = _Job(uploads)
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
        jobs, n = [first], len(first.uploads)
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return jobs
            if n + len(job.uploads) > self.max_images:
                self._held = job
                return jobs
            jobs.append(job)
            n += len(job.uploads)

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
        """Decode each job, predict all decoded images in one pass, and settle every job's future."""
        served = self.served
        decoded = []
        for job in jobs:
            try:
                decoded.append((job, served.image_batch(job.uploads)))
            except Exception as e:  # noqa: BLE001 - an InputError (or a bug) belongs to this request only
                job.future.set_exception(e)
        if not decoded:
            return
        names = [n for job, _ in decoded for n, _ in job.uploads]
        try:
            out = served.predict([im for _, ims in decoded for im in ims], names)
        except Exception:  # noqa: BLE001 - find out whose input it was: each job again, alone
            for job, ims in decoded:
                try:
                    job.future.set_result(served.predict(ims, [n for n, _ in job.uploads]))
                except Exception as e:  # noqa: BLE001
                    job.future.set_exception(e)
            return
        self.batches += 1
        self.images += len(names)
        preds, start = out["predictions"], 0
        for job, ims in decoded:
            job.future.set_result({**out, "predictions": preds[start:start + len(ims)]})
            start += len(ims)
