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
# # 9. Tune a recipe, then see what the model learned
#
# **Tuning.** `cn.tune` (the command `corenets tune`) searches a recipe's hyperparameters with Optuna. Each trial
# is a run scored on *validation only*; trials that lag after an epoch are stopped early (pruned). At the end
# the best configuration and the recipe's own are each trained once more and scored on test, once, so the test
# split never chooses anything. The search space is the recipe's `tune:` block (quickstart's: the learning rate,
# dropout and weight decay) plus any `space` you add.
#
# **Inspecting.** `corenets inspect RUN` shows why a run answers as it does: attributions (which pixels, words or
# features pushed the answer), and what its layers learned. It needs the `inspect` extra (Captum).
#
# **Fast mode** (`FAST = True`, about a minute): 4 trials of 5 epochs. `FAST = False`: 20 trials of the recipe's
# 40 epochs.

# %% tags=["parameters"]
FAST = True

# %%
import corenets as cn

trials, settings = (4, ["train.epochs=5", "threads=1"]) if FAST else (20, [])
study = cn.tune("quickstart", trials=trials, overrides=settings, out="runs")
print(f"{study.complete} complete, {study.pruned} pruned; best validation {study.monitor} {study.best_value:.4f}")
print("best parameters:", study.best_params)
print("repeat it: corenets run --config", study.best_yaml)

# %% [markdown]
# ## Tested once, at the end
#
# The tuned configuration and the recipe's own, each trained again and scored on test. On a small data set the
# tuned one often wins by less than the noise between seeds; that is what honest tuning looks like.

# %%
from corenets.record import read_metrics

test = {label: read_metrics(run).test["accuracy"] for label, run in study.final.items()}
print(test)
print("study report:", study.report)

# %% [markdown]
# ## What the model learned
#
# `corenets inspect` on the tuned run: for an MLP on images, integrated gradients per pixel (which pixels pushed
# the answer up or down) for the most confident mistakes and one correct example per class, and a projection of
# the last hidden layer coloured by class. It writes `index.html` and one PNG per figure.

# %%
from pathlib import Path

from IPython.display import Image, display

from corenets.cli import main

best_run = Path(study.final["best"])
assert main(["inspect", str(best_run), "--out", "inspect-best"]) == 0
figures = sorted(Path("inspect-best").glob("*.png"))
print([f.name for f in figures])
for f in figures[:2]:
    display(Image(filename=str(f)))

# %% [markdown]
# ## The headline numbers
#
# Every trial finished or was pruned (none failed), and the tuned configuration scores well on test.

# %%
assert study.failed == 0 and study.complete + study.pruned == trials
assert test["best"] > 0.9, test
assert figures
