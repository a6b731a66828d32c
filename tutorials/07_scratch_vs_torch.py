# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 7. Forward and backward propagation from scratch, next to torch
#
# `corenets.scratch` is a small autograd engine written in NumPy alone, with PyTorch's names. Every operation
# computes its output and remembers how to send a gradient back to its inputs; `loss.backward()` walks the
# graph in reverse and applies the chain rule. This notebook does one step by hand, then the same step with the
# engine and with torch, and finally trains a whole MLP with the NumPy engine.
#
# **Fast mode** (`FAST = True`, about 20 s): 10 epochs of the NumPy MLP. `FAST = False`: the recipe's 40
# epochs, measured 0.98 test accuracy (BENCHMARKS.md, From scratch).

# %% tags=["parameters"]
FAST = True

# %% [markdown]
# ## One neuron, by hand
#
# The seeds' student: hours studied and hours slept predict pass (1) or fail (0). One neuron:
# z = w1 * hours + w2 * sleep + b, p = sigmoid(z), and the binary cross-entropy loss L = -log p for a pass.
# Backward, by the chain rule: dL/dz = p - y, dL/dw1 = (p - y) * hours, dL/dw2 = (p - y) * sleep, dL/db = p - y.

# %%
import numpy as np

hours, sleep, y = 2.0, 5.0, 1.0
w1, w2, b = 0.4, 0.3, 0.2
z = w1 * hours + w2 * sleep + b
p = 1 / (1 + np.exp(-z))
loss = -np.log(p)
dz = p - y
print(f"z = {z:.4f}, p = {p:.4f}, loss = {loss:.4f}")
print(f"dL/dw1 = {dz * hours:.4f}, dL/dw2 = {dz * sleep:.4f}, dL/db = {dz:.4f}")

# %% [markdown]
# `corenets explain forward-backward` prints this lesson with every number recomputed by the engine (try
# `corenets explain forward-backward hours=4 lr=0.5`).

# %%
from corenets.scratch.explain import explain

print(explain("forward-backward"))

# %% [markdown]
# ## The same gradients, from the engine and from torch
#
# A two-layer net on a batch of 8 random inputs, in both libraries with the same weights (the scratch modules
# keep PyTorch's parameter names and layouts, so a state dict copies 1:1).

# %%
import torch

from corenets.scratch import Tensor, losses, nn

rng = np.random.default_rng(0)
x, target = rng.normal(size=(8, 4)), rng.integers(0, 3, size=8)

mine = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
loss_mine = losses.cross_entropy(mine(Tensor(x)), target)
loss_mine.backward()

theirs = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
theirs.load_state_dict({k: torch.tensor(v) for k, v in mine.state_dict().items()})
loss_theirs = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(target))
loss_theirs.backward()

print(f"loss: scratch {loss_mine.item():.10f}, torch {loss_theirs.item():.10f}")
grads_theirs = dict(theirs.named_parameters())
worst = max(float(np.abs(p.grad - grads_theirs[name].grad.numpy()).max()) for name, p in mine.named_parameters())
print(f"largest gradient difference over every weight: {worst:.2e}")

# %% [markdown]
# ## Training an MLP with the NumPy engine
#
# Any `mlp` recipe can train on the NumPy engine with `engine=scratch`; `scratch-mlp-digits` is the quickstart
# MLP that way. Its run folder has the torch layout and its `model.pt` is an ordinary checkpoint, so predict,
# evaluate and serve work on it.

# %%
import corenets as cn
from corenets.experiment import summary_line

run_dir = cn.run_recipe("scratch-mlp-digits", quiet=True, **({"epochs": 10} if FAST else {}))
print(summary_line(run_dir))

# %% [markdown]
# ## The headline numbers

# %%
acc = cn.load_run(run_dir).metrics.test["accuracy"]
assert worst < 1e-10, worst  # float64 both sides: equal to rounding
assert abs(loss_mine.item() - loss_theirs.item()) < 1e-12
assert acc > 0.9, acc
