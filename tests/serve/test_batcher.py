"""Dynamic batching: requests that arrive together share one forward pass, with the answers they get alone.

Requests reach the batcher decoded (ServedModel.files, in the request's own thread), so a batch is model-sized
images only; a bad upload is refused before it could join one."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image
from tiny_runs import image_run

from corenets.serve.batcher import ImageBatcher, _Job
from corenets.serve.model import InputError, ServedModel


def png(seed: int, size=(28, 28)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, size).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    return ServedModel(image_run(tmp_path_factory.mktemp("img")))


def alone(served: ServedModel, uploads):
    return served.predict(served.files(uploads), [n for n, _ in uploads])


def decoded(served: ServedModel, uploads) -> _Job:
    return _Job(served.files(uploads), [n for n, _ in uploads])


def assert_same(got: dict, expected: dict) -> None:
    assert got["classes"] == expected["classes"] and got["task"] == expected["task"]
    assert len(got["predictions"]) == len(expected["predictions"])
    for g, e in zip(got["predictions"], expected["predictions"]):
        assert g["input"] == e["input"] and g["label"] == e["label"]
        np.testing.assert_allclose(g["probabilities"], e["probabilities"], rtol=1e-5, atol=1e-6)


def test_one_batch_gives_each_request_its_serial_answer(served):
    requests = [[("a.png", png(1))], [("b.png", png(2)), ("c.png", png(3, (40, 30)))], [("d.png", png(4))]]
    jobs = [decoded(served, u) for u in requests]
    assert jobs[1].pixels.shape == (2, 1, 28, 28) and jobs[1].pixels.dtype == np.uint8  # the 40x30 one, shrunk
    batcher = ImageBatcher(served)
    batcher.run_batch(jobs)
    assert (batcher.batches, batcher.images) == (1, 4)  # one forward pass for all four images
    for job, uploads in zip(jobs, requests):
        assert_same(job.future.result(), alone(served, uploads))


def test_a_bad_upload_is_refused_by_its_own_request_before_any_batch(served):
    with pytest.raises(InputError, match="notes.txt is not an image") as e:
        served.files([("good.png", png(5)), ("notes.txt", b"not an image")])
    assert e.value.status == 415
    with pytest.raises(InputError, match="empty"):
        served.files([("empty.png", b"")])


def test_an_input_that_breaks_the_batch_is_found_by_retrying_each_request_alone(served, monkeypatch):
    poison = Image.new("L", (28, 28), 255)  # stands for any input the model cannot answer
    real = served.predict

    def predict(raw, names=None):
        if any(im.min() == 255 for im in raw):
            raise InputError("the input gives a non-finite prediction")
        return real(raw, names)

    batcher = ImageBatcher(served)
    monkeypatch.setattr(batcher.served, "predict", predict)
    white = io.BytesIO()
    poison.save(white, "PNG")
    requests = [[("a.png", png(6))], [("white.png", white.getvalue())], [("b.png", png(7))]]
    jobs = [decoded(served, u) for u in requests]
    batcher.run_batch(jobs)
    monkeypatch.undo()
    assert_same(jobs[0].future.result(), alone(served, requests[0]))
    assert_same(jobs[2].future.result(), alone(served, requests[2]))
    with pytest.raises(InputError, match="non-finite"):
        jobs[1].future.result()


def test_requests_queued_while_a_batch_runs_form_the_next_batch_up_to_max_images(served, monkeypatch):
    batcher = ImageBatcher(served, max_images=4)
    release, entered = threading.Event(), threading.Event()
    real = served.predict

    def predict(raw, names=None):
        if names and names[0] == "first.png":  # hold the worker inside the first batch while the others queue
            entered.set()
            assert release.wait(30)
        return real(raw, names)

    monkeypatch.setattr(batcher.served, "predict", predict)
    first = batcher.submit(served.files([("first.png", png(8))]), ["first.png"])
    assert entered.wait(30)
    later = [batcher.submit(served.files([(f"{i}.png", png(10 + i))]), [f"{i}.png"]) for i in range(5)]
    release.set()
    answers = [f.result(timeout=30) for f in [first, *later]]
    monkeypatch.undo()
    # [first], then the first four queued (max_images=4), then the one that did not fit
    assert (batcher.batches, batcher.images) == (3, 6)
    for i, answer in enumerate(answers[1:]):
        assert_same(answer, alone(served, [(f"{i}.png", png(10 + i))]))


def test_predict_awaits_the_answer_and_raises_the_input_error(served, monkeypatch):
    import asyncio

    batcher = ImageBatcher(served)
    pixels = served.files([("x.png", png(9))])
    expected = alone(served, [("x.png", png(9))])

    async def both():
        good = await batcher.predict(pixels, ["x.png"])
        monkeypatch.setattr(batcher.served, "predict", lambda raw, names=None: (_ for _ in ()).throw(InputError("no")))
        with pytest.raises(InputError, match="no"):
            await batcher.predict(pixels, ["x.png"])
        return good

    assert_same(asyncio.run(both()), expected)
