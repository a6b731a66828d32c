"""corenets: a PyTorch lab for the core neural-network architectures.

    import corenets as cn
    run_dir = cn.run_recipe("quickstart")            # train, evaluate, write a run folder
    bundle = cn.load_dataset("breast_cancer")        # train/val/test tensors + preprocessing
    model = cn.create_model("mlp", bundle.input_shape, bundle.num_outputs, hidden=[32])
    history = cn.fit(model, bundle, cn.TrainConfig(epochs=20))   # device auto, a progress bar, a line per epoch
    cn.evaluate(model, bundle)                       # test metrics beside their baselines
    run = cn.load_run(cn.save_run(model, bundle, history, "runs/mine"))   # a run folder, as `corenets run` writes
    run.predict(rows); run.show_predictions(n=16)

Importing corenets does no work: everything below is loaded on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_dataset": "corenets.data",
    "create_model": "corenets.models",
    "fit": "corenets.api",
    "save_run": "corenets.api",
    "load_run": "corenets.runs",
    "Run": "corenets.runs",
    "History": "corenets.train.callbacks",
    "TrainConfig": "corenets.config",
    "RunConfig": "corenets.config",
    "CorenetsError": "corenets.errors",
    "lr_find": "corenets.tune.lr_find",
}

__all__ = sorted([*_LAZY, "evaluate", "tune", "run_recipe", "list_recipes", "list_models", "list_datasets", "__version__"])


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in ("evaluate", "tune"):  # subpackages callable as evaluate(model, bundle), tune(recipe, trials=...)
        return importlib.import_module(f"corenets.{name}")
    raise AttributeError(f"module 'corenets' has no attribute '{name}'")


def __dir__() -> list[str]:
    """Every public name, loaded or not, so tab completion shows `fit` before its first use."""
    return sorted(set(__all__) | {k for k in globals() if k.startswith("__")})  # not typing's Any


def run_recipe(name: str, *overrides: str, resume: str | None = None, quiet: bool = False, **settings: Any):
    """Train and evaluate a named recipe; returns the run folder (a pathlib.Path).

    Args:
        name: a recipe (``list_recipes()``).
        *overrides: ``"section.key=value"`` strings, as with ``--set``.
        resume: a run folder to continue.
        quiet: no progress output.
        **settings: top-level settings such as epochs=5, seed=1, out="runs", cv=5.
    Returns:
        The run folder (None on a torchrun rank other than 0).
    """
    from .config import parse_override, resolve_paths, set_values
    from .experiment import run_config
    from .recipes import load_recipe

    pairs = [(["train", k] if k == "epochs" else [k], v) for k, v in settings.items()]
    cfg = set_values(load_recipe(name), pairs + [parse_override(text) for text in overrides])
    # as the CLI does: data paths made absolute (config.yaml repeats the run from anywhere), except on resume,
    # whose config is compared with the one saved
    return run_config(cfg if resume else resolve_paths(cfg), resume=resume, quiet=quiet)


def list_recipes() -> list[str]:
    from .recipes import recipe_names

    return recipe_names()


def list_models() -> list[str]:
    from .models import models

    return models().names()


def list_datasets() -> list[str]:
    from .data import datasets

    return datasets().names()
