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
# # 3. RNN, LSTM and GRU reading images as rows, and a deep (stacked) RNN
#
# A recurrent net reads a sequence one step at a time and carries a state from step to step. An image is a
# sequence too: read a 28x28 Fashion-MNIST picture top to bottom, one row of 28 pixels per step, and the state
# after the 28th row has seen the whole picture. `data.as_sequence: rows` turns any image dataset into such
# sequences; the models are the same ones that read text and prices.
#
# * `rnn`: the vanilla (Elman) RNN, h = tanh(W x + U h);
# * `lstm`: gates decide what the cell state keeps, forgets and shows, so gradients survive long sequences;
# * `gru`: two gates and no separate cell state, fewer weights than the LSTM;
# * `deep-rnn`: two GRU layers stacked, the second reading the first's states.
#
# **Fast mode** (`FAST = True`, about a minute on a 2-core CPU): the first 3,000 training images, 2 epochs each
# in batches of 32.
# `FAST = False` trains the recipes in full (8 epochs on all 60,000 images): expect about 0.84 (RNN), 0.89
# (LSTM), 0.90 (GRU) and 0.90 (2-layer GRU) test accuracy (BENCHMARKS.md, Sequences).

# %% tags=["parameters"]
FAST = True

# %%
from pathlib import Path

from IPython.display import Image, display

import corenets as cn
from corenets.compare import compare_runs
from standins import fashion_mnist_subset

if FAST:
    folder, real = fashion_mnist_subset("data/fashion-mnist-subset", n_train=3000, n_test=500)
    print("Fashion-MNIST:", "the first 3,000 / 500 real images" if real else
          "STAND-IN (Debian's dataset-fashion-mnist is not installed): digits scaled to 28x28")
    # smaller batches: more steps in 2 epochs; one thread: steadier on a shared CPU
    data, settings = [f"data.path={folder}", "train.batch_size=32"], {"epochs": 2, "threads": 1}
else:
    data, settings = [], {}

runs = {}
for recipe in ["fashion-mnist-rnn", "fashion-mnist-lstm", "fashion-mnist-gru", "deep-rnn"]:
    runs[recipe] = cn.run_recipe(recipe, *data, quiet=True, **settings)
    print(f"{recipe:<20} test accuracy {cn.load_run(runs[recipe]).metrics.test['accuracy']:.4f}")

# %% [markdown]
# ## Side by side
#
# `corenets compare` (here `compare_runs`) puts the runs' metrics, parameter counts and training times in one
# table and overlays their validation curves. The LSTM and GRU carry more weights per unit than the RNN (four
# and three weight sets per step instead of one) and take longer per epoch; stacking a second layer doubles
# the recurrent work again.

# %%
print(compare_runs(list(runs.values()), Path("runs")))
display(Image(filename="runs/compare_val_accuracy.png"))

# %% [markdown]
# ## What the model sees
#
# `Run.predict` takes images in any common form and reads them as rows exactly as in training. Here, the first
# test images, as uint8 pixels:

# %%
import numpy as np

from standins import fashion_mnist_arrays

(_, _, x_test, y_test), real = fashion_mnist_arrays(0, 8)
gru = cn.load_run(runs["fashion-mnist-gru"])
print("predicted:", gru.predict(np.asarray(x_test)).labels)
print("true:     ", [gru.classes[int(i)] for i in y_test])

# %% [markdown]
# ## The headline number
#
# Even on the fast subset, the gated nets (LSTM, GRU) beat the 0.10 baseline by far.

# %%
acc = {r: cn.load_run(p).metrics.test["accuracy"] for r, p in runs.items()}
assert acc["fashion-mnist-lstm"] > 0.65 and acc["fashion-mnist-gru"] > 0.65, acc
