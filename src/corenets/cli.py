"""The command line: the only module that turns user-given names into objects.

Every subcommand is a function taking parsed arguments; main(argv) returns an exit
code, so each command can be tested in-process. A CorenetsError prints one line and
exits 2; --debug shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import ConfigError, CorenetsError, Interrupted

SUBCOMMANDS: dict[str, tuple] = {}  # name -> (add_arguments, handler, help)


def subcommand(name: str, help: str):
    """Register `fn(args) -> int` as a subcommand; its `.arguments(parser)` adds its options."""

    def deco(fn):
        SUBCOMMANDS[name] = (getattr(fn, "arguments", None), fn, help)
        return fn

    return deco


def with_arguments(add):
    def deco(fn):
        fn.arguments = add
        return fn

    return deco


# ------------------------------------------------------------------ run


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", nargs="?", help="a recipe name (corenets list recipes)")
    p.add_argument("--config", help="a config.yaml (from a run folder) to repeat exactly")
    p.add_argument("--data", help="dataset name (shortcut for --set data.name=...)")
    p.add_argument("--model", help="model name (shortcut for --set model.name=...)")
    p.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override config keys, e.g. train.lr=0.01 model.hidden=[64,32] data.path=my.csv")
    p.add_argument("--epochs", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--threads", type=int, help="torch threads (0, the default: timed on 1 and on every free core)")
    p.add_argument("--out", help="parent folder of run folders (default runs)")
    p.add_argument("--cv", type=int, help="K-fold cross-validation, report mean ± std")
    p.add_argument("--deterministic", action="store_true", default=None, help="torch deterministic algorithms")
    p.add_argument("--resume", metavar="RUN", help="continue an interrupted run folder from its last epoch")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--nproc", type=int, metavar="N",
                   help="train with N processes on this machine (starts torchrun; batch_size is per process)")


def resolve_config(args: argparse.Namespace):
    """The RunConfig a `run` command means: recipe or --config, then shortcuts, then --set, all type- and
    range-checked, with data paths made absolute so the saved config.yaml repeats the run from any folder."""
    from .config import RunConfig, load_yaml, parse_override, set_values
    from .recipes import load_recipe

    if args.config and args.recipe:
        raise ConfigError("give a recipe name or --config, not both")
    if args.nproc is not None and not 1 <= args.nproc <= 1024:
        raise ConfigError(f"--nproc {args.nproc} is out of range; allowed: 1 to 1024 processes")
    if args.config:
        cfg = load_yaml(args.config)
    elif args.resume and not args.recipe and not (args.data or args.model):
        cfg = load_yaml(Path(args.resume) / "config.yaml") if (Path(args.resume) / "config.yaml").is_file() else None
        if cfg is None:
            from .runs import resumable

            resumable(Path(args.resume))  # raises, saying why
    elif args.recipe:
        cfg = load_recipe(args.recipe)
    elif args.data or args.model:
        cfg = RunConfig(name="custom")
    else:
        raise ConfigError("name a recipe (corenets list recipes), or give --config FILE, or --data/--model")
    pairs = []  # the shortcuts' values as given: never re-read as YAML text (an emoji in --out stays one)
    if args.data:
        pairs.append((["data", "name"], args.data))
    if args.model:
        pairs.append((["model", "name"], args.model))
    for key in ("epochs", "seed", "device", "threads", "out", "cv", "deterministic"):
        value = getattr(args, key, None)
        if value is not None:
            pairs.append((["train", key] if key == "epochs" else [key], value))
    cfg = set_values(cfg, pairs + [parse_override(text) for text in args.overrides])
    if cfg.name == "custom" and (args.data or args.model):
        cfg.name = f"{cfg.data.name}-{cfg.model.name}"
    return cfg


@subcommand("run", "train and evaluate a recipe; writes a run folder with a report")
@with_arguments(_run_arguments)
def cmd_run(args) -> int:
    from .experiment import run_config, summary_line

    cfg = resolve_config(args)  # checked here, once, before any process starts
    if args.nproc and args.nproc > 1:
        from .train.distributed import launch

        return launch(args.nproc, _without_nproc(getattr(args, "argv", None) or sys.argv[1:]))
    run_dir = run_config(cfg, resume=args.resume, quiet=args.quiet)
    if run_dir is None:  # a torchrun rank other than 0: rank 0 reports
        return 0
    print(summary_line(run_dir))
    print(f"report: {run_dir / 'report.html'}")
    return 0


def _without_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


# ------------------------------------------------------------------ list


def _list_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=["recipes", "datasets", "models", "optimizers", "schedules", "options"],
                   help="what to list; options: every config key with its type, default and description")
    p.add_argument("section", nargs="?", help="options: only this section (run for the top-level keys, data, model, "
                                              "train, ...)")
    p.add_argument("--data", metavar="NAME", help="options: only this dataset's own options")
    p.add_argument("--model", metavar="NAME", help="options: only this model's own options")


@subcommand("list", "list recipes, datasets, models, optimizers, schedules, or every option with its type and default")
@with_arguments(_list_arguments)
def cmd_list(args) -> int:
    if args.what == "options" or args.section or args.data or args.model:  # corenets list options [run|data|model|train] [--data NAME] [--model NAME]
        from .commands.list_options import show

        return show(args)
    if args.what == "recipes":
        from .recipes import describe

        rows = describe()
    else:
        from .data import datasets
        from .models import models
        from .train.optim import OPTIMIZERS, SCHEDULES

        reg = {"datasets": datasets, "models": models, "optimizers": lambda: OPTIMIZERS, "schedules": lambda: SCHEDULES}[args.what]()
        rows = [(n, reg.describe(n)) for n in reg.names()]
        if args.what == "models":  # the input forms each reads (compat.py owns that rule)
            from .compat import reads

            rows = [(n, f"{', '.join(reads(n)):<26} {d}") for n, d in rows]
    width = max(len(n) for n, _ in rows)
    for name, desc in rows:
        print(f"{name:<{width}}  {desc}")
    return 0


# ------------------------------------------------------------------ predict / evaluate / compare


def _predict_arguments(p):
    p.add_argument("run", help="a run folder")
    p.add_argument("inputs", nargs="+", help="what the run reads: image files, sentences (or one .txt), a CSV of rows, "
                                             "or a CSV of prices")
    p.add_argument("--out", help="write the predictions to this CSV instead of printing them")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--top", type=int, default=3, help="top-k classes to show")


@subcommand("predict", "predict with a trained run on new inputs")
@with_arguments(_predict_arguments)
def cmd_predict(args) -> int:
    from .runs import load_run

    run = load_run(args.run)
    got = run.preprocessing.reader().cli_inputs(list(args.inputs))  # the run's input kind reads its arguments
    if got.per_file:  # image files: top-k per file, and an error line per unreadable file
        from .commands.predict_images import show_files

        return show_files(run, got, args)
    table = run.predict(got.raw).to_frame()
    if got.names is not None:
        table.insert(0, got.column, got.names)
    return show_table(table, args)


def show_table(table, args) -> int:
    """Predictions as a CSV file (--out), JSON (--json) or an aligned table on stdout."""
    import pandas as pd

    from .runs import atomic_write_text

    if args.out:
        atomic_write_text(Path(args.out), table.to_csv(index=False))
        print(f"wrote {len(table)} predictions to {args.out}")
    elif args.json:
        print(table.to_json(orient="records", indent=1))
    else:
        with pd.option_context("display.max_rows", 200, "display.width", 160):
            print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


@subcommand("evaluate", "re-evaluate a run's best model on its test split; rewrites metrics, plots and report")
@with_arguments(lambda p: p.add_argument("run", help="a run folder"))
def cmd_evaluate(args) -> int:
    import dataclasses

    from .evaluate.report import build_report
    from .experiment import evaluate_model, load_data, record_warnings, summary_line
    from .record import read_metrics, write_metrics
    from .runs import load_run

    run = load_run(args.run)
    m = read_metrics(run.path)  # a finished run: an unfinished one is resumed, not re-scored
    cfg = run.config
    test = evaluate_model(run.scorer, load_data(cfg), run.path, cfg.train.eval_batch_size)
    write_metrics(run.path, dataclasses.replace(m, test=test, warnings=record_warnings(test, m.task, m.classical)))
    build_report(run.path)
    print(summary_line(run.path))
    print(f"report: {run.path / 'report.html'}")
    return 0


def _compare_arguments(p):
    p.add_argument("runs", nargs="+", help="run folders")
    p.add_argument("--out", help="folder for compare.md and the overlaid curves (default: the first run's parent)")


@subcommand("compare", "metrics, parameters and time of several runs side by side, with overlaid validation curves")
@with_arguments(_compare_arguments)
def cmd_compare(args) -> int:
    from .compare import compare_runs

    print(compare_runs([Path(r) for r in args.runs], Path(args.out) if args.out else None))
    return 0


# ------------------------------------------------------------------ main


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="corenets", description="Train, evaluate, compare and serve core neural nets.")
    parser.add_argument("--version", action="version", version=f"corenets {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (add, _, help_) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if add:
            add(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    _load_plugins()
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    args = parser.parse_args([a for a in argv if a != "--debug"])
    args.argv = argv  # `run --nproc` re-runs this very command under torchrun
    if not args.command:
        parser.print_help()
        return 2
    import warnings

    shown = warnings.showwarning
    if not debug:
        route_warnings()
    try:
        return SUBCOMMANDS[args.command][1](args)
    except CorenetsError as e:
        if debug:
            raise
        text = str(e).replace("\r", "\\r").replace("\n", "\\n")  # one line, whatever a value in it holds
        print(f"corenets: error: {text}", file=sys.stderr)
        return 130 if isinstance(e, Interrupted) else 2
    except KeyboardInterrupt:
        print("corenets: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `corenets ... | head`: the reader left; that is not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        warnings.showwarning = shown  # main() called in-process (tests, notebooks) leaves warnings as it found them


def route_warnings() -> None:
    """corenets' own warnings print as one line `corenets: note: ...`; those of the libraries (NumPy, pandas, torch,
    scikit-learn) are not printed, so nothing tracebacky comes before a one-line error (--debug shows them all)."""
    import warnings

    own = str(Path(__file__).resolve().parent)

    def show(message, category, filename, lineno, file=None, line=None):
        if str(Path(filename).resolve()).startswith(own):
            text = " ".join(str(message).split())
            print(f"corenets: note: {text[:500]}", file=file or sys.stderr)

    warnings.showwarning = show


def _load_plugins() -> None:
    """Import every module in corenets.commands: each adds subcommands or predictors."""
    import importlib
    import pkgutil

    from . import commands

    for mod in pkgutil.iter_modules(commands.__path__):
        importlib.import_module(f"{commands.__name__}.{mod.name}")


if __name__ == "__main__":
    sys.exit(main())
