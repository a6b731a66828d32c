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
# # 1. A first MLP on handwritten digits
#
# A multi-layer perceptron (MLP) reads each 8x8 image as 64 numbers and passes them through two hidden layers to
# 10 class scores. This notebook trains one with a single call, reads its report, and predicts on new images.
#
# The data is scikit-learn's `digits`: 1,797 real handwritten digits that ship with scikit-learn, so nothing is
# downloaded. The recipe is `quickstart` (`corenets run quickstart` on the command line).
#
# **Fast mode.** `FAST = True` trains 15 epochs (about 10 s on a 2-core CPU). Set `FAST = False` for the recipe's
# 40 epochs: expect about 0.975 test accuracy.

# %% tags=["parameters"]
FAST = True

# %%
import corenets as cn
from corenets.experiment import summary_line
from IPython.display import Image, display

epochs = 15 if FAST else 40
run_dir = cn.run_recipe("quickstart", epochs=epochs, quiet=True)
print(summary_line(run_dir))

# %% [markdown]
# The run folder holds everything: `config.yaml` (rerun it exactly with `corenets run --config`), `model.pt`
# (the weights chosen on validation), `history.csv` (one row per epoch), `metrics.json`, the plots and a
# self-contained `report.html`.
#
# Every score stands beside a **baseline**: what always answering the most frequent class would score. Here the
# baseline accuracy is about 0.10 (ten balanced classes), so 0.97 means the model learned something.

# %%
run = cn.load_run(run_dir)
test = run.metrics.test
print(f"test accuracy {test['accuracy']:.4f}, baseline {test['baseline']['accuracy']:.4f}")
print(sorted(p.name for p in run_dir.iterdir()))

# %% [markdown]
# ## The learning curves
#
# Training loss falls every epoch; validation loss falls and then flattens. The model kept is the one of the best
# validation epoch (`train.monitor`, here `val_loss`), not the last.

# %%
display(Image(filename=str(run_dir / "plots" / "curves.png")))

# %% [markdown]
# ## Where it goes wrong
#
# The confusion matrix counts, for each true class (row), what the model answered (column).

# %%
display(Image(filename=str(run_dir / "plots" / "confusion.png")))

# %% [markdown]
# ## Predicting on new images
#
# `Run.predict` redoes the training preprocessing. scikit-learn's digits hold values from 0 to 16, so we say
# so with `units="dataset"`; a uint8 picture (0-255) or an image file needs no `units`.

# %%
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits

images = load_digits().images[-8:]
pred = run.predict(images, units="dataset")
fig, axes = plt.subplots(1, 8, figsize=(10, 1.8))
for ax, img, label in zip(axes, images, pred.labels):
    ax.imshow(img, cmap="gray_r")
    ax.set_title(label)
    ax.axis("off")
display(fig)  # corenets draws its reports with the Agg backend, so show the figure explicitly
plt.close(fig)
print(pred.top_k(2)[:2])

# %% [markdown]
# ## The same thing, piece by piece
#
# `run_recipe` is one call; the pieces are public too: load a dataset (train/validation/test tensors and the
# fitted preprocessing), build a model, fit it, evaluate it.

# %%
bundle = cn.load_dataset("digits")
model = cn.create_model("mlp", bundle.input_shape, bundle.num_outputs, hidden=[64])
history = cn.fit(model, bundle, cn.TrainConfig(epochs=5 if FAST else 30, lr=3e-3))

# %% [markdown]
# ## The headline number
#
# The notebook checks its own claim: more than 0.95 test accuracy (0.97-0.98 with the full 40 epochs).

# %%
assert test["accuracy"] > 0.95, test["accuracy"]
