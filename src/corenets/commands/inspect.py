"""`corenets inspect RUN [INPUTS...]`: why a trained run answers as it does, and what its layers learned."""

from __future__ import annotations

import sys
from pathlib import Path

from ..cli import subcommand, with_arguments
from ..errors import ConfigError


def _arguments(p):
    p.add_argument("run", help="a run folder")
    p.add_argument("inputs", nargs="*", help="what `predict` takes (image files, sentences, a CSV of rows or of "
                                             "prices); none: test examples, the most confident mistakes first")
    p.add_argument("--out", help="folder for index.html and its PNGs (default RUN/inspect)")
    p.add_argument("--tsne", action="store_true", help="also project the penultimate layer with t-SNE (slower)")


@subcommand("inspect", "see what a run learned: attributions (Captum), filters, feature maps, gates, projections; "
                       "writes an HTML page")
@with_arguments(_arguments)
def cmd_inspect(args) -> int:
    try:
        import captum  # noqa: F401
    except ImportError:
        raise ConfigError("corenets inspect needs Captum: pip install 'corenets[inspect]' (or pip install captum)") from None
    from ..inspect.api import on_inputs, on_test, run_subject
    from ..inspect.page import write_page
    from ..runs import load_run

    run = load_run(args.run)
    errors: list[str] = []
    if args.inputs:
        sections, errors = on_inputs(run, args.inputs)
    else:
        from ..experiment import load_data

        sections = on_test(run, load_data(run.config), tsne=args.tsne)
    out = Path(args.out) if args.out else run.path / "inspect"
    page = write_page(sections, out, f"corenets inspect: {run.path.name}", run_subject(run).notes)
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    print(f"inspect: {page} ({sum(len(s.figures) for s in sections)} figures)")
    return 1 if errors else 0
