"""Shared checks for the scratch engine: compare with torch.autograd and with finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corenets.scratch import Tensor

TOL = 1e-6


def _compare(scratch_fn, torch_fn, arrays, seed=0):
    """Run both on the same float64 inputs; backward a random upstream gradient; return the max differences."""
    rng = np.random.default_rng(seed)
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = scratch_fn(*xs), torch_fn(*ts)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), atol=TOL, rtol=TOL)
    upstream = rng.normal(size=out.shape)
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for x, t in zip(xs, ts):
        want = np.zeros_like(x.data) if t.grad is None else t.grad.numpy()
        got = np.zeros_like(x.data) if x.grad is None else x.grad
        np.testing.assert_allclose(got, want, atol=TOL, rtol=TOL)
    return xs


def _finite_differences(scratch_fn, arrays, eps=1e-6, seed=0):
    """Central differences of sum(upstream * f(x)) against the engine's gradient, for every input element."""
    rng = np.random.default_rng(seed)
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = scratch_fn(*xs)
    upstream = rng.normal(size=out.shape)
    out.backward(upstream)
    for k, a in enumerate(arrays):
        numeric = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            def f(delta):
                moved = [b.copy() for b in arrays]
                moved[k][idx] += delta
                return float((scratch_fn(*[Tensor(b) for b in moved]).data * upstream).sum())
            numeric[idx] = (f(eps) - f(-eps)) / (2 * eps)
        np.testing.assert_allclose(xs[k].grad, numeric, atol=1e-5, rtol=1e-5)


@pytest.fixture
def against_torch():
    return _compare


@pytest.fixture
def finite_differences():
    return _finite_differences
