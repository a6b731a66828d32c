"""The interface both training engines offer the experiment (experiment.py), and what a fit returns.

engine: torch is experiment_torch.TorchEngine; engine: scratch (the NumPy engine) is
experiment_scratch.ScratchEngine. experiment.py calls these methods in order and knows nothing else of either.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch


@dataclasses.dataclass
class Fitted:
    """What a fit leaves for the record: the history, the epoch whose weights are kept, and the timings."""

    rows: list[dict[str, float]]
    best_epoch: int
    stopped: str | None = None
    train_seconds: float = 0.0
    refit: dict[str, Any] | None = None  # {"epochs", "rows", "train_seconds"} when a refit made the weights


class Engine(Protocol):
    name: str
    device: Any  # where it trains, as recorded in metrics.json
    is_main: bool  # only the main process writes (torchrun's rank 0)

    def load_data(self, load: Callable) -> Any: ...
    def build(self, bundle) -> None: ...  # the model, from the config and the bundle's facts
    def resume_state(self, run_dir: Path) -> dict[str, Any]: ...  # last.pt's training state
    def summary(self, bundle) -> str: ...  # summary.txt
    def check_free_space(self, run_dir: Path) -> None: ...
    def fit(self, bundle, run_dir: Path, resume: dict[str, Any] | None, quiet: bool) -> Fitted: ...
    def refit(self, bundle, run_dir: Path, fitted: Fitted, quiet: bool) -> Fitted: ...
    def finalize(self, bundle, run_dir: Path, fitted: Fitted) -> None: ...  # model.pt holds the scored weights
    def predict_outputs(self, x: torch.Tensor) -> np.ndarray: ...  # (N, num_outputs), as the test scores them
    def record(self) -> dict[str, Any]: ...  # the engine's part of metrics.json
    def close(self) -> None: ...
