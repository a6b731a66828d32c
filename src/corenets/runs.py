"""The run folder: create it, write into it atomically, load it back safely.

A run folder alone is enough to predict: model.pt holds the weights, the model
spec, the Preprocessing state and the class names. Every checkpoint is read with
torch.load(weights_only=True), so a file holding arbitrary pickled code is refused.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import CheckpointError, RunFolderError
from .files import (atomic_save, atomic_write_bytes, atomic_write_text, corenets_version, read_history,  # noqa: F401
                    remove_leftovers, write_history, write_json)
from .record import SPEC_FORMAT as FORMAT_VERSION
from .record import ModelSpec, check_format_version


# ------------------------------------------------------------------ folders


def new_run_dir(out: str | Path, name: str) -> Path:
    """Make <out>/<name>-<YYYYmmdd-HHMMSS>, checking first that <out> is writable and <name> one folder name."""
    from .config import check_name

    check_name(name)  # the run folder stays inside <out>
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".corenets-write-test-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as e:
        raise RunFolderError(f"the output folder {out} is not writable ({e.strerror or e}); choose another with --out") from None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out / f"{name}-{stamp}"
    n = 2
    while path.exists():
        path = out / f"{name}-{stamp}-{n}"
        n += 1
    path.mkdir()
    (path / "plots").mkdir()
    return path


def checkpoint_bytes(model: torch.nn.Module) -> int:
    """A generous estimate of the disk one run needs at its peak: model.pt and last.pt (weights, optimiser
    moments, early-stopping copy), each briefly twice during an atomic replace, plus plots and the report."""
    weights = sum(t.numel() * t.element_size() for t in _unwrap(model).state_dict().values())
    return 10 * weights + (16 << 20)


def check_free_space(run_dir: Path, model: torch.nn.Module) -> None:
    """Raise RunFolderError before training if the disk under `run_dir` cannot hold the run's checkpoints."""
    import shutil

    need = checkpoint_bytes(model)
    free = shutil.disk_usage(run_dir).free
    if free < need:
        raise RunFolderError(f"only {free / 2**20:.1f} MiB free under {run_dir}, and this run needs about "
                             f"{need / 2**20:.1f} MiB for its checkpoints and report; free some space or choose --out elsewhere")


def resumable(run_dir: Path) -> None:
    """Raise RunFolderError saying why `run_dir` cannot be resumed, if it cannot."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir} is not a folder; --resume takes a run folder such as runs/quickstart-20260101-120000")
    if not (run_dir / "config.yaml").is_file():
        raise RunFolderError(f"{run_dir} is not a corenets run (no config.yaml); --resume takes a folder made by `corenets run`")
    if (run_dir / "metrics.json").is_file():
        raise RunFolderError(f"{run_dir} is finished (it has metrics.json); nothing to resume. To train longer, start "
                             f"a new run with a larger --epochs: `corenets run --config {run_dir / 'config.yaml'} "
                             "--epochs N`")
    if not (run_dir / "last.pt").is_file():
        raise RunFolderError(f"{run_dir} is not resumable: it was stopped before its first epoch finished (no last.pt); "
                             "start the run again")


# ------------------------------------------------------------------ checkpoints


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """torch.load(weights_only=True) with clear errors for missing, damaged, unsafe or newer files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"{path} was refused: it holds objects other than weights and plain values, which could run "
                              f"code when loaded ({str(e).splitlines()[0][:120]}). Only load checkpoints you trust from "
                              "corenets itself") from None
    except Exception as e:  # weights_only=True runs no code; a damaged file fails in many ways (IndexError, KeyError, ...)
        first = (str(e).splitlines() or [type(e).__name__])[0][:120]
        raise CheckpointError(f"{path} is damaged or not a torch checkpoint ({first}); "
                              "re-run training to recreate it") from None
    check_format_version(obj, path)
    return obj


def model_spec(cfg, bundle, best_epoch: int) -> dict[str, Any]:
    """What model.pt holds besides the weights (record.ModelSpec, as plain values)."""
    return ModelSpec.of_run(cfg, bundle, best_epoch).to_dict()


def save_model(path: Path, model: torch.nn.Module, spec: dict[str, Any]) -> None:
    state = {k: v.detach().cpu() for k, v in _unwrap(model).state_dict().items()}
    atomic_save({**spec, "state_dict": state}, path)


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", model)  # DDP and torch.compile wrap the real module


def build_model_from_spec(spec: dict[str, Any], path: Path) -> torch.nn.Module:
    from .models import build_model

    sp = ModelSpec.from_dict(spec, path, weights=True)  # format 1 (no facts: its options name them) or 2
    model = build_model(sp.model["name"], tuple(sp.input_shape), sp.num_outputs, sp.model["options"],
                        int(sp.model["members"]), sp.task, facts=sp.facts or None)
    try:
        model.load_state_dict(spec["state_dict"])
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise CheckpointError(f"{path} does not fit model '{spec['model']['name']}' as configured ({first[:160]}); "
                              "it was saved from another model or shape") from None
    return model.eval()


# ------------------------------------------------------------------ loading a run


@dataclass
class Prediction:
    task: str
    classes: list[str] | None
    proba: np.ndarray | None  # (N, K) class probabilities
    values: np.ndarray | None  # (N,) regression outputs in the user's units

    @property
    def labels(self) -> list[str]:
        assert self.proba is not None and self.classes is not None
        return [self.classes[i] for i in self.proba.argmax(1)]

    def top_k(self, k: int = 3) -> list[list[tuple[str, float]]]:
        assert self.proba is not None and self.classes is not None
        order = np.argsort(-self.proba, axis=1)[:, :k]
        return [[(self.classes[j], float(self.proba[i, j])) for j in row] for i, row in enumerate(order)]

    def to_frame(self):
        import pandas as pd

        if self.proba is None:
            return pd.DataFrame({"prediction": self.values})
        df = pd.DataFrame(self.proba, columns=[f"p({c})" for c in self.classes])
        df.insert(0, "prediction", self.labels)
        return df


class Run:
    """A finished (or checkpointed) run folder: its config, metrics and best model, ready to predict."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not (self.path / "model.pt").is_file():
            hint = " (a cross-validation parent: load one of its fold-* folders)" if (self.path / "fold-1").is_dir() else ""
            raise RunFolderError(f"{self.path} has no model.pt{hint}; give a folder made by `corenets run`")
        self.spec = load_checkpoint(self.path / "model.pt")
        ModelSpec.from_dict(self.spec, self.path / "model.pt", weights=True)  # every field checked before any is used
        from .data import datasets
        from .data.bundle import Preprocessing

        datasets()  # imports every loader module, so each Preprocessing kind (image, table, ...) is registered
        self.preprocessing = Preprocessing.from_dict(self.spec["preprocessing"])
        self.model = build_model_from_spec(self.spec, self.path / "model.pt")
        self.task: str = self.spec["task"]
        self.classes: list[str] | None = self.spec["classes"]

    @property
    def metrics(self):
        """metrics.json as a record.Metrics; None while the run is unfinished."""
        from .record import read_metrics

        return read_metrics(self.path, missing_ok=True)

    @property
    def config(self):
        from .config import load_yaml

        return load_yaml(self.path / "config.yaml")

    @property
    def scorer(self) -> torch.nn.Module:
        """The model as the test metrics scored it: with flip TTA when the run's config used it."""
        if getattr(self, "_scorer", None) is None:
            from .record import scorer, tta_of

            self._scorer = scorer(self.model, tta_of(self.spec, self.path))
        return self._scorer

    @torch.inference_mode()
    def predict(self, raw: Any, batch_size: int | None = None, units: str | None = None) -> Prediction:
        """Predict on raw inputs, after the training preprocessing; regression answers are in the user's units.

        Args:
            raw: what the run's input kind reads. Images: a path, bytes, a PIL image, a uint8 array, one image or
                a batch, or a list of any of these. Text: a sentence or a list of sentences. Tables: a DataFrame,
                a CSV path, a dict row or a list of them. Series: the last prices, rows of them or a CSV path.
                A form that could be read two ways is refused with a message saying how to state it.
            batch_size: rows per forward pass; default the run's train.eval_batch_size.
            units: for images given as a non-uint8 array or tensor, what its values are: "pixels" (0-255),
                "unit" ([0, 1]), "dataset" (the training data's own scale, 0-16 for digits) or "model"
                (already normalised). Refused for any other input kind.
        Returns:
            A Prediction: class probabilities, or values (a series run answers in prices).
        """
        from .evaluate.metrics import probabilities
        from .train.loop import predict_outputs

        inputs = self.preprocessing.prepare(raw, units)
        if batch_size is None:
            from .record import eval_batch_size

            batch_size = eval_batch_size(self.path)
        out = predict_outputs(self.scorer, inputs.x, batch_size).numpy()
        if self.task == "regression":
            return Prediction(self.task, None, None, self.preprocessing.outputs(out.reshape(-1), inputs))
        return Prediction(self.task, self.classes, probabilities(out, self.task), None)


    def show_predictions(self, n: int = 16, data: Any = None):
        """A grid of the first n test inputs titled 'predicted / true', drawn by the run's input kind (show.py).

        `data`: the run's DataBundle if at hand; by default it is loaded again from config.yaml. Returns a
        matplotlib Figure (inline in Jupyter).
        """
        from .show import show_predictions

        return show_predictions(self, n, data)

    def plot(self):
        """The run's loss and metric curves (history.csv) as a picture, inline in Jupyter."""
        from .notebook import curves_picture

        return curves_picture(read_history(self.path / "history.csv"))

    def _repr_html_(self) -> str:
        from .notebook import run_html

        return run_html(self)


def load_run(path: str | Path) -> Run:
    """Load a run folder for prediction. See Run."""
    return Run(path)
