"""threads: 0 (the default) picks the intra-op thread count: one for small steps or busy cores, more where it pays."""

from __future__ import annotations

import pytest
import torch

from corenets.train import threads as T


@pytest.fixture(autouse=True)
def keep_torch_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.Dropout(0.5),
                               torch.nn.Linear(16, 2))


def _step(x):
    return lambda m: m(x).sum().backward()


@pytest.mark.parametrize("one_ms, many_ms, free, expect", [
    (1.0, 0.3, 2, 1),      # a 1 ms step: too little work to split, not even timed on two
    (80.0, 40.0, 2, 2),    # a large step twice as fast on two threads: two
    (80.0, 75.0, 2, 1),    # large, but two threads barely help: one never stalls
    (80.0, 40.0, 1, 1),    # another process keeps the second core busy: one, without timing
])
def test_the_rule(monkeypatch, one_ms, many_ms, free, expect):
    timed = []

    def fake(model, step, threads):
        timed.append(threads)
        return (one_ms if threads == 1 else many_ms) / 1e3

    monkeypatch.setattr(T, "usable_cores", lambda: 2)
    monkeypatch.setattr(T, "free_cores", lambda cores: free)
    monkeypatch.setattr(T, "step_seconds", fake)
    n, why = T.choose_threads(_mlp(), _step(torch.randn(4, 8)))
    assert n == expect and torch.get_num_threads() == expect and why.startswith(f"threads: {expect} (auto: ")
    assert timed == ([] if free == 1 else [1] if one_ms < 5 else [1, 2])
    if free == 1:
        assert "other processes keep 1 of the 2 cores busy" in why


def test_the_probe_changes_neither_the_model_nor_the_random_stream(monkeypatch):
    monkeypatch.setattr(T, "usable_cores", lambda: 2)
    monkeypatch.setattr(T, "free_cores", lambda cores: 2)
    model = _mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    step = _step(torch.randn(4, 8))
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    T.choose_threads(model, step)  # dropout and batch norm ran in a copy
    assert torch.equal(torch.rand(3), expected)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_free_cores_counts_the_idle_ones(monkeypatch):
    samples = iter([[(0, 0), (0, 0)], [(0, 100), (98, 100)]])  # cpu0 busy all along, cpu1 idle
    monkeypatch.setattr(T, "cpu_times", lambda: next(samples))
    monkeypatch.setattr(T, "SAMPLE_S", 0.0)
    assert T.free_cores(2) == 1
    samples = iter([[(0, 0), (0, 0)], [(90, 100), (97, 100)]])
    monkeypatch.setattr(T, "cpu_times", lambda: next(samples))
    assert T.free_cores(2) == 2


def test_a_small_model_trains_on_one_thread_by_default_and_threads_overrides(tmp_path):
    # breast-cancer-lstm took 958 s a fold on torch's default 2 threads beside a busy core, ~60 s on one
    from corenets.config import apply_overrides
    from corenets.experiment import prepare
    from corenets.recipes import load_recipe

    torch.set_num_threads(T.TORCH_DEFAULT)
    cfg = apply_overrides(load_recipe("quickstart"), ["threads=0", "device=cpu", f"out={tmp_path}"])
    run = prepare(cfg, quiet=True)
    assert torch.get_num_threads() == 1 and run.engine.threads_note.startswith("threads: 1 (auto: ")
    assert run.engine.threads_note in run.bundle.meta["notes"]  # the report says what was chosen and why
    run = prepare(apply_overrides(cfg, ["threads=3"]), quiet=True)
    assert torch.get_num_threads() == 3 and run.engine.threads_note is None
