"""`corenets lr-find RECIPE`: Leslie Smith's learning-rate range test on a copy of the recipe's model."""

from __future__ import annotations

from ..cli import subcommand, with_arguments


def _arguments(p):
    p.add_argument("recipe", help="a recipe name (corenets list recipes)")
    p.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override config keys, as for corenets run")
    p.add_argument("--start-lr", type=float, default=1e-7, help="the first step's learning rate (default 1e-7)")
    p.add_argument("--end-lr", type=float, default=10.0, help="the last step's learning rate (default 10)")
    p.add_argument("--steps", type=int, default=100,
                   help="steps of the exponential ramp (default 100, as fastai and Lightning)")
    p.add_argument("--out", help="the plot (default runs/lr-find-<recipe>.png)")


@subcommand("lr-find", "learning-rate range test: loss vs an exponentially rising rate, and the rate to use")
@with_arguments(_arguments)
def cmd_lr_find(args) -> int:
    from ..errors import ConfigError
    from ..tune.lr_find import lr_find

    if not 10 <= args.steps <= 100_000:
        raise ConfigError(f"--steps {args.steps} is out of range; allowed: 10 to 100000")
    r = lr_find(args.recipe, *args.overrides, start_lr=args.start_lr, end_lr=args.end_lr, steps=args.steps,
                out=args.out, quiet=True)
    print(f"range test: {len(r.lrs)} steps, lr {r.lrs[0]:.2g} -> {r.lrs[-1]:.2g}; plot: {r.plot}")
    print(f"suggested learning rate (steepest descent of the smoothed loss): {r.suggestion:.3g}")
    print(f"use it with: corenets run {args.recipe} {r.set_argument}")
    return 0
