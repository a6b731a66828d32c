"""Every engine op: values and gradients equal torch.autograd's (1e-6, float64) and finite differences."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from corenets.errors import CorenetsError
from corenets.scratch import ShapeError, Tensor, concat, functional as F, no_grad, stack

rng = np.random.default_rng(0)
A = rng.normal(size=(3, 4))
B = rng.normal(size=(3, 4))
ROW = rng.normal(size=(4,))
COL = rng.normal(size=(3, 1))
M = rng.normal(size=(4, 5))
POS = rng.uniform(0.5, 2.0, size=(3, 4))

# name -> (scratch fn, torch fn, inputs)
OPS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, [A, B]),
    "add_broadcast_row": (lambda a, b: a + b, lambda a, b: a + b, [A, ROW]),
    "add_broadcast_col": (lambda a, b: b + a, lambda a, b: b + a, [A, COL]),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, [A, COL]),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, [A, B]),
    "mul_broadcast": (lambda a, b: a * b, lambda a, b: a * b, [A, ROW]),
    "div": (lambda a, b: a / b, lambda a, b: a / b, [A, POS]),
    "scalar_ops": (lambda a: 3 - 2 * a / 4 + 1, lambda a: 3 - 2 * a / 4 + 1, [A]),
    "pow": (lambda a: a ** 3, lambda a: a ** 3, [A]),
    "pow_fraction": (lambda a: a ** 0.5, lambda a: a ** 0.5, [POS]),
    "matmul": (lambda a, m: a @ m, lambda a, m: a @ m, [A, M]),
    "matmul_vec": (lambda a, v: a @ v, lambda a, v: a @ v, [A, ROW]),
    "matmul_batched": (lambda a, m: a @ m, lambda a, m: a @ m, [rng.normal(size=(2, 3, 4)), M]),
    "sum_all": (lambda a: a.sum(), lambda a: a.sum(), [A]),
    "sum_axis": (lambda a: a.sum(axis=0), lambda a: a.sum(dim=0), [A]),
    "sum_keepdims": (lambda a: a.sum(axis=1, keepdims=True), lambda a: a.sum(dim=1, keepdim=True), [A]),
    "mean_all": (lambda a: a.mean(), lambda a: a.mean(), [A]),
    "mean_axis": (lambda a: a.mean(axis=1), lambda a: a.mean(dim=1), [A]),
    "exp": (lambda a: a.exp(), torch.exp, [A]),
    "log": (lambda a: a.log(), torch.log, [POS]),
    "reshape": (lambda a: a.reshape(2, 6) * a.reshape(2, 6), lambda a: a.reshape(2, 6) ** 2, [A]),
    "transpose": (lambda a: a.T @ a, lambda a: a.T @ a, [A]),
    "transpose_axes": (lambda a: a.transpose(2, 0, 1), lambda a: a.permute(2, 0, 1), [rng.normal(size=(2, 3, 4))]),
    "index_slice": (lambda a: a[1:, ::2], lambda a: a[1:, ::2], [A]),
    "index_int": (lambda a: a[1], lambda a: a[1], [A]),
    "index_fancy_repeats": (lambda a: a[[0, 2, 0], [1, 1, 1]], lambda a: a[[0, 2, 0], [1, 1, 1]], [A]),
    "concat": (lambda a, b: concat([a, b], axis=1), lambda a, b: torch.cat([a, b], dim=1), [A, B]),
    "stack": (lambda a, b: stack([a, b], axis=1), lambda a, b: torch.stack([a, b], dim=1), [A, B]),
    "relu": (lambda a: a.relu(), torch.relu, [A]),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.1), lambda a: torch.nn.functional.leaky_relu(a, 0.1), [A]),
    "sigmoid": (lambda a: a.sigmoid(), torch.sigmoid, [A * 10]),
    "tanh": (lambda a: a.tanh(), torch.tanh, [A]),
    "softmax": (lambda a: F.softmax(a, axis=1), lambda a: torch.softmax(a, dim=1), [A]),
    "softmax_axis0": (lambda a: F.softmax(a, axis=0), lambda a: torch.softmax(a, dim=0), [A]),
    "log_softmax": (lambda a: F.log_softmax(a), lambda a: torch.log_softmax(a, dim=-1), [A * 30]),
    "reused_node": (lambda a: (a * a + a).exp().sum(axis=0) * a.sum(), lambda a: (a * a + a).exp().sum(0) * a.sum(), [A]),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_matches_torch(name, against_torch):
    mine, theirs, inputs = OPS[name]
    against_torch(mine, theirs, inputs)


@pytest.mark.parametrize("name", ["add_broadcast_row", "mul_broadcast", "matmul_vec", "pow", "log_softmax",
                                  "index_fancy_repeats", "softmax", "sigmoid", "transpose_axes", "div"])
def test_op_matches_finite_differences(name, finite_differences):
    mine, _, inputs = OPS[name]
    finite_differences(mine, inputs)


CONV_X = rng.normal(size=(2, 3, 7, 6))
CONV_W = rng.normal(size=(4, 3, 3, 2))
CONV_B = rng.normal(size=(4,))


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), ((2, 1), (0, 2))])
def test_conv2d_matches_torch(stride, padding, against_torch):
    against_torch(lambda x, w, b: F.conv2d(x, w, b, stride, padding),
                  lambda x, w, b: torch.nn.functional.conv2d(x, w, b, stride, padding), [CONV_X, CONV_W, CONV_B])


def test_conv2d_finite_differences(finite_differences):
    finite_differences(lambda x, w: F.conv2d(x, w, None, 2, 1), [CONV_X[:1, :2, :5, :5], CONV_W[:2, :2]])


@pytest.mark.parametrize("kernel,stride", [(2, None), (3, 2), (2, 1)])
def test_max_pool2d_matches_torch(kernel, stride, against_torch):
    against_torch(lambda x: F.max_pool2d(x, kernel, stride),
                  lambda x: torch.nn.functional.max_pool2d(x, kernel, stride), [CONV_X])


def test_max_pool_of_the_seed_window_is_4():
    assert F.max_pool2d(Tensor([[[[1.0, 3.0], [2.0, 4.0]]]]), 2).data.item() == 4.0


def test_gradients_accumulate_over_two_backward_calls():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [3 + 2, 3 + 4])


def test_long_chain_does_not_hit_the_recursion_limit():
    x = Tensor(np.ones(2), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 1.0001 ** 5000)


def test_no_grad_records_no_graph():
    x = Tensor(np.ones(3), requires_grad=True)
    with no_grad():
        y = (x * 2).sum()
    assert not y.requires_grad and y._parents == ()


def test_float32_stays_float32():
    x = Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    y = (x * 2.5 + 1).sigmoid().sum()
    y.backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


@pytest.mark.parametrize("make,words", [
    (lambda: Tensor(np.ones((3, 4))) + Tensor(np.ones((2, 4))), ["add", "(3, 4)", "(2, 4)"]),
    (lambda: Tensor(np.ones((3, 4))) * Tensor(np.ones(5)), ["mul", "(3, 4)", "(5,)"]),
    (lambda: Tensor(np.ones((3, 4))) @ Tensor(np.ones((3, 4))), ["matmul", "(3, 4)"]),
    (lambda: Tensor(np.ones((3, 4))).reshape(5, 2), ["reshape", "(3, 4)", "(5, 2)"]),
    (lambda: concat([Tensor(np.ones((3, 4))), Tensor(np.ones((2, 3)))], axis=0), ["concat", "(3, 4)", "(2, 3)"]),
    (lambda: F.conv2d(Tensor(np.ones((1, 3, 5, 5))), Tensor(np.ones((2, 1, 3, 3)))), ["conv2d", "(1, 3, 5, 5)"]),
])
def test_shape_mismatch_names_both_shapes_and_the_op(make, words):
    with pytest.raises(ShapeError) as info:
        make()
    assert isinstance(info.value, CorenetsError) and isinstance(info.value, ValueError)
    for w in words:
        assert w in str(info.value)


def test_scratch_imports_neither_torch_nor_any_third_party_package_but_numpy():
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # any `import torch` now fails\n"
        "import corenets.scratch, corenets.scratch.explain\n"
        "from corenets.scratch import nn, optim, losses, Tensor\n"
        "allowed = {'numpy', 'corenets'}\n"
        "loaded = {m.split('.')[0] for m, mod in sys.modules.items() if mod is not None}\n"
        "third = loaded - set(sys.stdlib_module_names) - allowed\n"
        "third = {m for m in third if not m.startswith('_')}\n"
        "print(sorted(third))\n"
        "assert not third, third\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr + done.stdout
