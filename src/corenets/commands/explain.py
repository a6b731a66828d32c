"""`corenets explain TOPIC [key=value ...]`: the lessons, with every number computed by the NumPy engine."""

from __future__ import annotations

from ..cli import subcommand, with_arguments
from ..errors import ConfigError


def _arguments(p):
    p.add_argument("topic", nargs="?", help="a topic; leave it out to list the topics")
    p.add_argument("options", nargs="*", metavar="KEY=VALUE",
                   help="change the example, e.g. `epochs samples=60000 batch_size=128` or `conv size=32 padding=1`")
    p.add_argument("--plot", metavar="PNG", help="optimizers only: also draw each optimiser's path on the bowl")


def parse_options(topic: str, pairs: list[str]) -> dict:
    """["samples=60000", ...] -> {"samples": 60000}, each value converted to the type of the option's default."""
    from ..scratch.explain import options

    allowed, parsed = options(topic), {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep:
            raise ConfigError(f"explain {topic}: option {pair!r} is not KEY=VALUE; e.g. "
                              + " ".join(f"{k}={v}" for k, v in list(allowed.items())[:2]))
        if key not in allowed:
            raise ConfigError(f"explain {topic}: unknown option {key!r}; choose from: "
                              + ", ".join(f"{k} (default {v})" for k, v in allowed.items()))
        kind = type(allowed[key])
        try:
            parsed[key] = kind(text) if kind is not int else int(float(text)) if float(text).is_integer() else int(text)
        except ValueError:
            raise ConfigError(f"explain {topic}: {key}={text!r} is not a valid {kind.__name__} "
                              f"(default {allowed[key]!r})") from None
    return parsed


def plot_paths(paths: dict, path: str) -> None:
    """The optimisers' paths over the contours of f(x, y) = x^2 + 10 y^2 (matplotlib, outside the engine)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..runs import atomic_write_bytes

    pts = np.concatenate(list(paths.values()))
    lim = np.abs(pts).max() * 1.1
    gx, gy = np.meshgrid(np.linspace(-lim, lim, 200), np.linspace(-lim, lim, 200))
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.contour(gx, gy, gx ** 2 + 10 * gy ** 2, levels=20, cmap="Greys", linewidths=0.6)
    for name, p in paths.items():
        ax.plot(p[:, 0], p[:, 1], "-o", ms=2.5, lw=1.2, label=name)
    ax.plot([0], [0], "k*", ms=10)
    ax.set(xlabel="x", ylabel="y", title="optimisers on f(x, y) = x² + 10 y²")
    ax.legend()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


@subcommand("explain", "print a lesson (forward-backward, activations, losses, conv, epochs, gates, optimizers) "
                       "with real numbers from the NumPy engine")
@with_arguments(_arguments)
def cmd_explain(args) -> int:
    from ..scratch.explain import TOPICS, explain, optimizer_paths

    if not args.topic:
        for name, fn in TOPICS.items():
            print(f"{name:<18} {(fn.__doc__ or '').strip().splitlines()[0]}")
        return 0
    if args.topic not in TOPICS:
        raise ConfigError(f"unknown topic {args.topic!r}; choose one of: {', '.join(TOPICS)}")
    kwargs = parse_options(args.topic, args.options)
    print(explain(args.topic, **kwargs))
    if args.plot:
        if args.topic != "optimizers":
            raise ConfigError(f"--plot draws the optimizers topic only, not {args.topic!r}; drop --plot")
        plot_paths(optimizer_paths(**kwargs), args.plot)
        print(f"plot: {args.plot}")
    return 0
