"""The search space: a recipe's `tune:` block and `--space KEY=DIST`, parsed and checked before any trial runs.

    train.lr: loguniform(1e-4, 1e-1)     a float, uniform in log
    train.dropout: uniform(0, 0.5)       a float
    train.epochs: int(5, 20)             an integer (intlog(a, b): uniform in log)
    model.hidden: [[32], [64, 32]]       one of a list (any YAML values)

Every key is checked as `--set` checks it, at both ends of its range and at every choice.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Any

from ..config import RunConfig, parse_yaml, set_values
from ..errors import ConfigError
from ..options import shown

KINDS = ("uniform", "loguniform", "int", "intlog")
_CALL = re.compile(r"^\s*(\w+)\s*\((.*)\)\s*$")


@dataclasses.dataclass(frozen=True)
class Dist:
    key: str  # section.key, as --set names it
    kind: str  # uniform, loguniform, int, intlog, or choice
    low: float = 0.0
    high: float = 0.0
    choices: tuple = ()

    def suggest(self, trial) -> Any:
        if self.kind == "choice":  # Optuna stores choices as primitives: a list choice goes by its JSON text
            labels = [json.dumps(c) for c in self.choices]
            return self.choices[labels.index(trial.suggest_categorical(self.key, labels))]
        if self.kind in ("int", "intlog"):
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.kind == "intlog")
        return trial.suggest_float(self.key, self.low, self.high, log=self.kind == "loguniform")

    def text(self) -> str:
        if self.kind == "choice":
            return json.dumps(list(self.choices))
        return f"{self.kind}({self.low:g}, {self.high:g})"

    def corners(self) -> list[Any]:
        """The values checked before any trial: both ends of a range, every choice."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind in ("int", "intlog"):
            return [int(self.low), int(self.high)]
        return [self.low, self.high]


def parse_dist(key: str, value: Any, where: str) -> Dist:
    """One KEY: DISTRIBUTION entry; `where` names it in errors (tune block or --space)."""
    if not isinstance(key, str) or not re.fullmatch(r"[\w-]+(\.[\w-]+)?", key):
        raise ConfigError(f"{where}: key {shown(key, 60)} is not SECTION.KEY, e.g. train.lr")
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{where} {key}: an empty list of choices; give at least one, e.g. [32, 64]")
        return Dist(key, "choice", choices=tuple(value))
    m = _CALL.match(value) if isinstance(value, str) else None
    if m is None or m.group(1) not in KINDS:
        raise ConfigError(f"{where} {key}: {shown(value, 60)} is not a distribution; write "
                          f"{', '.join(k + '(LOW, HIGH)' for k in KINDS)} or a list of choices")
    try:
        low, high = (float(x) for x in m.group(2).split(","))
    except ValueError:
        raise ConfigError(f"{where} {key}: {shown(value, 60)} needs two numbers, e.g. {m.group(1)}(1e-4, 1e-1)") from None
    kind = m.group(1)
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise ConfigError(f"{where} {key}: the range {low:g} to {high:g} is empty; LOW must be below HIGH")
    if kind in ("loguniform", "intlog") and low <= 0:
        raise ConfigError(f"{where} {key}: {kind} needs LOW > 0, got {low:g}; use uniform for a range from 0")
    if kind in ("int", "intlog") and (low != int(low) or high != int(high)):
        raise ConfigError(f"{where} {key}: {kind} takes whole numbers, got {low:g} and {high:g}")
    return Dist(key, kind, low, high)


def parse_space(block: dict[str, Any] | None, extra: list[str]) -> dict[str, Dist]:
    """The recipe's `tune:` block, then each `--space KEY=DIST` (adds or replaces a key)."""
    space = {k: parse_dist(k, v, "tune:") for k, v in (block or {}).items()}
    for text in extra:
        key, eq, raw = text.partition("=")
        if not eq:
            raise ConfigError(f"--space takes KEY=DISTRIBUTION, got {shown(text)}; e.g. --space 'train.lr=loguniform(1e-4,1e-1)'")
        value = parse_yaml(raw, f"--space {shown(key, 60)}") if raw.strip().startswith("[") else raw
        space[key.strip()] = parse_dist(key.strip(), value, "--space")
    if not space:
        raise ConfigError("nothing to tune: the recipe has no tune: block; add --space KEY=DIST, "
                          "e.g. --space 'train.lr=loguniform(1e-4,1e-1)'")
    return space


def check_space(cfg: RunConfig, space: dict[str, Dist]) -> None:
    """Each key at each of its corners, set as --set sets it: an unknown key or a value out of range is refused."""
    for d in space.values():
        for v in d.corners():
            try:
                set_values(cfg, [(d.key.split("."), v)])
            except ConfigError as e:
                raise ConfigError(f"tune space {d.key}={d.text()}: {e}") from None


def apply(cfg: RunConfig, params: dict[str, Any]) -> RunConfig:
    """`cfg` with a trial's values set, checked."""
    return set_values(cfg, [(k.split("."), v) for k, v in params.items()])
