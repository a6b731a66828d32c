"""`corenets tune RECIPE --trials N`: a hyperparameter search on Optuna, on validation only, resumable and shared
by any number of workers (--workers N here, or `corenets tune --storage postgresql://...` on other machines)."""

from __future__ import annotations

from ..cli import subcommand, with_arguments


def _arguments(p):
    p.add_argument("recipe", nargs="?", help="a recipe name (its tune: block is the default search space)")
    p.add_argument("--config", help="a config file (with an optional tune: block) instead of a recipe")
    p.add_argument("--trials", type=int, default=20, help="finished trials the study should hold (default 20); "
                   "the same command again resumes up to it")
    p.add_argument("--space", nargs="+", action="extend", default=[], metavar="KEY=DIST",
                   help="add or replace a dimension: 'train.lr=loguniform(1e-4,1e-1)', 'train.dropout=uniform(0,0.5)', "
                        "'train.epochs=int(5,20)', 'model.hidden=[[32],[64]]'")
    p.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override config keys of the recipe, as for corenets run")
    p.add_argument("--pruner", choices=["median", "hyperband", "none"], default="median",
                   help="stops trials whose validation metric lags after an epoch (default median)")
    p.add_argument("--cv", type=int, default=0, help="tune on the mean over K folds (tables)")
    p.add_argument("--workers", type=int, default=1, help="local processes sharing the study")
    p.add_argument("--storage", help="a database URL every worker joins, e.g. postgresql://user:pass@host/db "
                   "(default: a journal file in the study folder)")
    p.add_argument("--study", help="the study's name and folder under --out (default <recipe>-tune)")
    p.add_argument("--out", help="parent folder of the study folder (default the recipe's out, runs)")
    p.add_argument("--no-final", action="store_true",
                   help="skip retraining the best config and the recipe's own on test at the end")
    p.add_argument("--verbose", action="store_true", help="each trial's progress, not just its line")


@subcommand("tune", "search a recipe's hyperparameters with Optuna on validation; best.yaml and a study report")
@with_arguments(_arguments)
def cmd_tune(args) -> int:
    from pathlib import Path

    from ..errors import ConfigError
    from ..experiment import summary_line
    from ..tune.final import tune

    if not args.recipe and not args.config:
        raise ConfigError("name a recipe (corenets list recipes) or give --config FILE")
    s = tune(args.recipe, trials=args.trials, space=args.space, overrides=args.overrides, pruner=args.pruner,
             storage=args.storage, study=args.study, out=args.out, cv=args.cv, workers=args.workers,
             final=not args.no_final, config=args.config, quiet=not args.verbose)
    print(f"study {s.study_name}: {s.complete} complete, {s.pruned} pruned, {s.failed} failed; "
          f"{s.epochs} training epochs")
    if s.best_value is not None:
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in s.best_params.items())
        print(f"best {s.monitor} {s.best_value:.4f}: {shown}")
        print(f"repeat it: corenets run --config {s.best_yaml}")
    for label, run_dir in (s.final or {}).items():
        print(f"{label}: {summary_line(Path(run_dir)).splitlines()[0]} ({run_dir})")
    print(f"report: {s.report}")
    return 0
