"""`corenets tune` from end to end: the local workers, then the end of the study: best.yaml, the best config
and the recipe's own each trained and scored on test once, summary.json and the study report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..config import RunConfig, dump_yaml
from ..errors import ConfigError, Interrupted
from ..runs import atomic_write_text
from .space import apply
from .storage import fail_dead_trials
from .study import Spec, StudySummary, _counts, open_study, plan, work


def best_config(spec: Spec, study):
    """The recipe's config with the best trial's values (its own out, name and refit: `corenets run` repeats it)."""
    params = json.loads(study.best_trial.user_attrs["config"])
    return apply(spec.cfg, params), params


def finish(spec: Spec, final: bool = True) -> StudySummary:
    from .report import write_report

    study = open_study(spec)
    c = _counts(study)
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name in ("COMPLETE", "PRUNED")]
    summary = StudySummary(spec.study_dir, spec.study_name, spec.cfg.train.monitor, spec.direction,
                           c["COMPLETE"], c["PRUNED"], c["FAIL"], sum(int(t.user_attrs.get("epochs", 0)) for t in done),
                           None, {}, None)
    if c["COMPLETE"]:
        cfg, summary.best_params = best_config(spec, study)
        summary.best_value = study.best_value
        summary.best_run = study.best_trial.user_attrs.get("run")
        summary.best_yaml = spec.study_dir / "best.yaml"
        atomic_write_text(summary.best_yaml, dump_yaml(cfg))
        if final:
            summary.final = score_on_test(spec, cfg)
    summary.report = write_report(spec, study, summary)
    atomic_write_text(spec.study_dir / "summary.json",
                      json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(summary).items()},
                                 indent=2, default=str))
    return summary


def score_on_test(spec: Spec, best_cfg) -> dict[str, str]:
    """The best config and the recipe's own, each trained once more (as `corenets run` would) and scored on test:
    the only test scores the study makes."""
    from ..experiment import run_config

    out = str(spec.study_dir / "final")
    runs = {}
    for label, cfg in (("best", best_cfg), ("recipe", spec.cfg)):
        print(f"--- {label} config, scored on test once", flush=True)
        runs[label] = str(run_config(dataclasses.replace(cfg, out=out), quiet=spec.quiet))
    return runs


# ------------------------------------------------------------------ many workers, and the end


def _worker_main(spec: Spec, index: int) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        work(spec, index)
    except KeyboardInterrupt:
        pass
    except Interrupted:
        pass


def run_workers(spec: Spec, workers: int) -> list[int | None]:
    """`workers` local processes on one study (this one and workers-1 spawned); their exit codes, this one's 0."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # a fresh interpreter each: torch's threads and state do not fork cleanly
    procs = [ctx.Process(target=_worker_main, args=(spec, i), name=f"corenets-tune-{i}") for i in range(1, workers)]
    for p in procs:
        p.start()
    try:
        work(spec, 0)
    finally:
        for p in procs:
            p.join()
    fail_dead_trials(open_study(spec))
    work(spec, 0)  # a worker killed mid-trial left its trial failed: this one runs the trials still missing
    return [0] + [p.exitcode for p in procs]


def tune(recipe: str | RunConfig, trials: int = 20, space: list[str] | dict[str, str] = (), overrides=(),
         pruner: str = "median", storage: str | None = None, study: str | None = None, out: str | None = None,
         cv: int = 0, workers: int = 1, final: bool = True, config: str | None = None,
         quiet: bool = True) -> StudySummary:
    """Search a recipe's hyperparameters on validation, then score the best config and the recipe's on test once.

    Args:
        recipe: a recipe name or a RunConfig (its `tune:` block is the default space).
        trials: finished (complete or pruned) trials the study should hold; rerunning resumes up to it.
        space: ``KEY=DIST`` strings or {KEY: DIST}, e.g. {"train.lr": "loguniform(1e-4, 1e-1)"}; adds to the block.
        overrides: ``--set`` strings applied to the recipe first.
        pruner: median, hyperband or none. storage: a database URL (default: the journal file in the study folder).
        study: the study's name and folder under `out` (default <recipe>-tune).
        cv: tune on the mean of K folds. workers: local processes sharing the study.
        final: retrain the best config and the recipe's own, each scored on test once.
    Returns:
        StudySummary: counts, the best trial, best.yaml, the report and the final runs.
    """
    if not 1 <= workers <= 256:
        raise ConfigError(f"--workers {workers} is out of range; allowed: 1 to 256")
    spec = plan(recipe, trials, space, overrides, pruner, storage, study, out, cv, config, quiet)
    if workers > 1:
        codes = run_workers(spec, workers)
        for i, code in enumerate(codes):
            if code:
                print(f"worker {i} ended with {'signal ' + str(-code) if code < 0 else 'exit code ' + str(code)}; "
                      "its running trial is marked failed and no finished trial is lost", flush=True)
    else:
        work(spec, 0)
    return finish(spec, final)
