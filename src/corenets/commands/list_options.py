"""`corenets list options [run|data|model|train] [--data NAME] [--model NAME]`: every option with its type,
default and one-line description, from the same source as the site's config reference (corenets.reference)."""

from __future__ import annotations

from ..errors import ConfigError


def show(args) -> int:
    """Print the options; a section that does not match --data / --model is a mistake, not an empty list."""
    from ..options import suggest
    from ..reference import as_text, builder_registry, options, sections

    if args.what != "options":
        raise ConfigError(f"a section, --data and --model go with `corenets list options`, not `list {args.what}`")
    if args.section is not None and args.section not in sections():
        raise ConfigError(f"unknown section {args.section[:60]!r}; {suggest(args.section, sections())}"
                          f"choose one of: {', '.join(sections())}")
    if args.data and args.section not in (None, "data"):
        raise ConfigError(f"--data names a dataset's options, which are in section data, not {args.section}; "
                          f"drop {args.section} or --data")
    if args.model and args.section not in (None, "model"):
        raise ConfigError(f"--model names a model's options, which are in section model, not {args.section}; "
                          f"drop {args.section} or --model")
    for kind, name in (("data", args.data), ("model", args.model)):
        if name is not None:
            builder_registry(kind).get(name)  # an unknown name is an error that suggests the closest
    if args.section is None and (args.data or args.model):
        wanted = [s for s, named in (("data", args.data), ("model", args.model)) if named]
    else:
        wanted = [args.section] if args.section else list(sections())
    print("\n\n".join(as_text(options(s, data=args.data, model=args.model)) for s in wanted))
    return 0
