"""`corenets tune`: a hyperparameter search on Optuna, honest by construction (trials see validation only).

plan() checks everything (recipe, space, storage, the study's owner) before any trial; work() runs trials until the
study holds `trials` finished ones (so the same command resumes it, and any number of workers share it); finish()
retrains the best config and the recipe's own, each scored on test once, and writes best.yaml and the report.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

from ..config import RunConfig, dump_yaml, parse_override, resolve_paths, set_values, to_dict
from ..errors import ConfigError, Interrupted, TrainingError
from ..train.callbacks import resolve_mode
from .pruning import make_pruner
from .space import Dist, apply, check_space, parse_space
from .storage import StudyError, fail_dead_trials, open_storage, worker_id

PRUNERS = ("median", "hyperband", "none")
FREE = ("out", "threads", "device")  # keys that may differ between workers of one study


@dataclasses.dataclass
class Spec:
    """Everything a worker needs, picklable: the recipe's config, the space and where the study lives."""

    cfg: RunConfig
    space: dict[str, Dist]
    trials: int
    study_dir: Path
    study_name: str
    storage: str | None = None
    pruner: str = "median"
    quiet: bool = True

    @property
    def direction(self) -> str:
        return "minimize" if resolve_mode(self.cfg.train.monitor, self.cfg.train.mode) == "min" else "maximize"

    def fingerprint(self) -> str:
        """The config and space a study was made with; a worker with another one is refused."""
        raw = {k: v for k, v in to_dict(self.cfg).items() if k not in FREE}
        raw["space"] = {k: d.text() for k, d in sorted(self.space.items())}
        return hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclasses.dataclass
class StudySummary:
    """What `corenets tune` / cn.tune leaves: the study's counts, the best trial, and where everything is."""

    study_dir: Path
    study_name: str
    monitor: str
    direction: str
    complete: int
    pruned: int
    failed: int
    epochs: int  # training epochs over every finished trial (pruning's saving shows here)
    best_value: float | None
    best_params: dict[str, Any]
    best_run: str | None
    best_yaml: Path | None = None
    report: Path | None = None
    final: dict[str, str] | None = None  # {"best": run folder, "recipe": run folder}, each scored on test once


def recipe_config(recipe: str | RunConfig, config: str | Path | None = None) -> tuple[RunConfig, dict]:
    """(config, its tune: block) for a recipe name, a RunConfig, or a config file."""
    from ..config import load_yaml, parse_yaml
    from ..recipes import _raw, load_recipe

    if config is not None:
        raw = parse_yaml(Path(config).read_text(encoding="utf-8"), str(config)) if Path(config).is_file() else {}
        return load_yaml(config), (raw or {}).get("tune") or {}
    if isinstance(recipe, RunConfig):
        return recipe, {}
    cfg = load_recipe(recipe)
    return cfg, _raw(recipe).get("tune") or {}


def plan(recipe: str | RunConfig | None, trials: int = 20, space: list[str] | dict[str, str] = (), overrides=(),
         pruner: str = "median", storage: str | None = None, study: str | None = None, out: str | None = None,
         cv: int = 0, config: str | None = None, quiet: bool = True) -> Spec:
    """Check the request and return the workers' Spec; nothing is trained and only the study folder is made."""
    if not 1 <= trials <= 100_000:
        raise ConfigError(f"--trials {trials} is out of range; allowed: 1 to 100000")
    if pruner not in PRUNERS:
        raise ConfigError(f"--pruner {pruner!r} is not one of: {', '.join(PRUNERS)}")
    cfg, block = recipe_config(recipe, config)
    pairs = [parse_override(t) for t in overrides] + ([(["out"], out)] if out else []) + ([(["cv"], cv)] if cv else [])
    cfg = resolve_paths(set_values(cfg, pairs))
    if cfg.engine != "torch":
        raise ConfigError("corenets tune prunes through the torch loop's callbacks; leave out engine: scratch")
    extra = [f"{k}={v}" for k, v in space.items()] if isinstance(space, dict) else list(space)
    dists = parse_space(block, extra)
    check_space(cfg, dists)
    if cfg.train.monitor.startswith("train_") or not cfg.train.monitor.startswith("val_"):
        raise ConfigError(f"train.monitor is {cfg.train.monitor!r}; tuning reads a validation metric (val_loss, "
                          "val_accuracy, ...): --set train.monitor=val_loss")
    name = study or f"{cfg.name}-tune"
    spec = Spec(cfg, dists, trials, Path(cfg.out) / name, f"corenets-{name}", storage, pruner, quiet)
    open_study(spec)  # an unreachable storage or another recipe's study is refused now, before any trial
    return spec


def open_study(spec: Spec, seed_offset: int = 0):
    """Create or join the study; refuse one made by another config or space."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(spec.storage, spec.study_dir)
    pruner = make_pruner(spec.pruner, spec.cfg.train.epochs, spec.cfg.cv)
    # one local process repeats its search from the recipe's seed; workers of a shared study each draw their own
    # startup points (two processes of one seed would propose the same first trials)
    seed = spec.cfg.seed + seed_offset if spec.storage is None else spec.cfg.seed + os.getpid()
    sampler = optuna.samplers.TPESampler(seed=seed % 2**32, n_startup_trials=5)
    study = optuna.create_study(study_name=spec.study_name, storage=storage, sampler=sampler, pruner=pruner,
                                direction=spec.direction, load_if_exists=True)
    owner = study.user_attrs.get("corenets")
    mine = {"recipe": spec.cfg.name, "fingerprint": spec.fingerprint(), "monitor": spec.cfg.train.monitor}
    if owner is None:
        study.set_user_attr("corenets", mine)
    elif owner.get("fingerprint") != mine["fingerprint"]:
        what = "recipe " + repr(owner.get("recipe")) if owner.get("recipe") != mine["recipe"] else "another config or space"
        raise StudyError(f"study {spec.study_name!r} in {spec.storage or spec.study_dir} was made by {what}; give this "
                         "search its own name with --study NAME")
    return study


# ------------------------------------------------------------------ trials


def _counts(study) -> dict[str, int]:
    from collections import Counter

    return Counter(t.state.name for t in study.get_trials(deepcopy=False))


def work(spec: Spec, index: int = 0) -> int:
    """Run trials until the study holds spec.trials finished (complete or pruned) ones; returns how many ran here."""
    study = open_study(spec, seed_offset=index)
    ran = 0
    while True:
        failed_now = fail_dead_trials(study)
        if failed_now:
            print(f"marked failed: trial(s) {failed_now}, whose worker is gone", flush=True)
        c = _counts(study)
        if c["COMPLETE"] + c["PRUNED"] + c["RUNNING"] >= spec.trials or c["FAIL"] > spec.trials:
            return ran
        try:
            study.optimize(lambda t: objective(spec, t), n_trials=1)
        except (Interrupted, KeyboardInterrupt):  # Ctrl-C in training, or outside it (preparing, Optuna's records)
            raise Interrupted(f"interrupted; the finished trials are kept in {spec.storage or spec.study_dir}: run "
                              "the same command again to resume the study") from None
        ran += 1


def objective(spec: Spec, trial) -> float:
    """One trial: the space's values on the recipe's config, trained as `corenets run` trains, scored on validation."""
    import optuna

    trial.set_user_attr("worker", worker_id())
    params = {k: d.suggest(trial) for k, d in spec.space.items()}
    trial.set_user_attr("config", json.dumps(params))
    cfg = apply(spec.cfg, params)  # the final run refits if the recipe does; trials only choose, on validation
    # nor does a trial draw "What it learned": it predicts the test split and shows its mistakes (and was half a
    # small trial's time); the final runs draw it
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, refit=False), out=str(spec.study_dir / "trials"),
                              name=f"trial-{trial.number:04d}", report=dataclasses.replace(cfg.report, inspect=False))
    try:
        value, epochs, run_dir, pruned = (_cv_trial if cfg.cv >= 2 else _one_trial)(cfg, trial, spec.quiet)
    except Interrupted:
        raise
    except TrainingError as e:  # a diverging setting fails its trial, not the study
        trial.set_user_attr("error", str(e)[:300])
        _say(spec, f"trial {trial.number}: failed ({str(e)[:120]})")
        return math.nan
    trial.set_user_attr("run", str(run_dir))
    trial.set_user_attr("epochs", epochs)
    shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
    _say(spec, f"trial {trial.number}: {spec.cfg.train.monitor} {value:.4f}" + (" (pruned)" if pruned else "")
         + f" after {epochs} epoch(s) [{shown}]")
    if pruned:
        raise optuna.TrialPruned()
    return value


def _say(spec: Spec, text: str) -> None:
    print(text, flush=True)


def _train(cfg: RunConfig, callback, quiet: bool) -> Path:
    """One run exactly as `corenets run` makes it, but validation only: the prepared run never scores test."""
    from ..experiment import prepare, run_prepared

    run = prepare(cfg, quiet=quiet)
    run.score_test = False
    run.bundle.meta.setdefault("notes", []).append(
        "a corenets tune trial: scored on validation only; the test split was not scored")
    run.engine.callbacks.append(callback)
    return run_prepared(run)


def _one_trial(cfg: RunConfig, trial, quiet: bool):
    from .pruning import PruneOnValidation

    cb = PruneOnValidation(trial, cfg.train.monitor, cfg.train.mode)
    run_dir = _train(cfg, cb, quiet)
    return cb.best, len(cb.values), run_dir, cb.pruned_at is not None


def _cv_trial(cfg: RunConfig, trial, quiet: bool):
    """K folds, each a validation-only run; the pruner sees the running mean of the folds' best after each fold."""
    from .pruning import PruneOnValidation

    bests, epochs, parent = [], 0, Path(cfg.out) / cfg.name
    for k in range(1, cfg.cv + 1):
        cb = PruneOnValidation(trial, cfg.train.monitor, cfg.train.mode, report=False)
        _train(dataclasses.replace(cfg, fold=k, out=str(parent)), cb, quiet)
        bests.append(cb.best)
        epochs += len(cb.values)
        trial.report(sum(bests) / len(bests), k)
        if k < cfg.cv and trial.should_prune():
            return sum(bests) / len(bests), epochs, parent, True
    return sum(bests) / len(bests), epochs, parent, False

