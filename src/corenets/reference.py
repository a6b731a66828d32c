"""The option and command reference, generated from the code: one source for `corenets list options`,
the site's config reference and its CLI reference.

Config fields are the dataclasses in config.py (type and range from the annotation, default from the field,
description from the comment beside or above the field). Builder options are the registered datasets' and
models' keyword arguments (type and default from the signature, description from a comment beside the
parameter, else from OPTION_HELP below). Commands are `cli.build_parser()`'s subparsers.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import io
import re
import tokenize
from dataclasses import dataclass
from typing import Any

import typing

from .options import Range, _type_name, hints


# Builder options without a comment of their own: (builder or "*", option) -> one line. A comment after the
# parameter in the builder's signature takes precedence, so the description can move next to the code.
OPTION_HELP: dict[tuple[str, str], str] = {
    ("*", "path"): "a file or folder to read instead of the default copy (absolute or relative to where you run)",
    ("*", "as_sequence"): "read any dataset as a sequence: rows (images as H steps of W*C features), "
                          "features (table rows as F steps of one value), or none",
    ("csv_table", "target"): "the column to predict",
    ("csv_table", "task"): "auto infers it from the target: two values binary, a few integers or texts "
                           "multiclass, else regression",
    ("csv_table", "missing"): "error refuses missing values; impute fills the training mean or most frequent value",
    ("csv_table", "drop"): "columns to ignore, e.g. [id]",
    ("*", "sep"): "the column separator; default tab for .tsv, else comma",
    ("image_folder", "image_size"): "images are resized to this many pixels square",
    ("image_folder", "mode"): "L (gray), RGB, or auto (RGB if any image has colour)",
    ("image_folder", "strict"): "true: a file that does not decode is an error, not a skipped file and a warning",
    ("image_folder", "cache"): "keep the decoded pixels as uint8 under $CORENETS_HOME/image_folder",
    ("price_csv", "column"): "the value column (a price)",
    ("price_csv", "date_column"): "the date column; rows are sorted by it",
    ("price_csv", "window"): "days of history the model reads",
    ("price_csv", "horizon"): "how many steps ahead the model predicts",
    ("price_csv", "target"): "what the model learns: price, returns or log_returns (metrics are always in prices)",
    ("price_csv", "missing"): "error refuses missing values; ffill carries the last value forward",
    ("*", "max_len"): "tokens per sentence: longer ones are cut, shorter padded; 0 = the longest training sentence",
    ("*", "min_freq"): "a word enters the vocabulary when it occurs this often in the training split",
    ("*", "max_size"): "the vocabulary's largest size, <pad> and <unk> included",
    ("sst2", "val_split"): "sentences: validation keeps only rows that are no phrase of a training row "
                           "(leak-free); random: a random sample of rows",
    ("*", "subwords"): "N > 0: each token also reads its character 3- to 5-grams hashed into N buckets "
                       "(fastText's way); 0 = off",
    ("*", "subword_slots"): "the most n-grams a token keeps",
    ("text_csv", "text"): "the column that holds the sentence",
    ("text_csv", "label"): "the column that holds the class",
    ("airnet", "width"): "channels of the first conv group; the others are width x multipliers",
    ("airnet", "multipliers"): "each conv group's width as a multiple of width",
    ("airnet", "whiten_kernel"): "size of the patch-whitening filters computed from the training images; "
                                 "0 = a learned 3x3 stem",
    ("airnet", "whiten_stride"): "stride of the whitening layer; 2 halves the resolution at once",
    ("airnet", "bn_momentum"): "batch-norm momentum (torch's convention: the weight of the new batch)",
    ("airnet", "head_scale"): "the logits are multiplied by this",
    ("cnn_bn", "widths"): "output channels of each conv block",
    ("cnn_bn", "convs_per_block"): "(Conv-BN-ReLU) layers per block",
    ("cnn_bn", "dropout"): "dropout after each block and before the last layer",
    ("cnn_bn", "dense"): "units of the dense layer before the output",
    ("small_cnn", "widths"): "output channels of each (Conv-BN-ReLU, MaxPool) block",
    ("small_cnn", "dropout"): "dropout before the output layer",
    ("mlp", "hidden"): "hidden layer widths, e.g. [128, 64]",
    ("mlp", "activation"): "the hidden layers' activation",
    ("mlp", "dropout"): "dropout after each hidden layer",
    ("mlp", "batch_norm"): "batch norm after each hidden layer",
    ("*", "hidden_size"): "units of each recurrent layer",
    ("*", "layers"): "stacked recurrent layers (a deep RNN when > 1)",
    ("*", "bidirectional"): "also read the sequence backwards",
    ("*", "dropout"): "dropout between recurrent layers and before the head",
    ("*", "readout"): "last: the state after the last real token; mean/max over the steps, padding ignored",
    ("*", "head"): "hidden layers between the recurrent state and the output, e.g. [25]",
    ("*", "head_activation"): "the head layers' activation",
    ("*", "vocab_size"): "ignored: the vocabulary's size comes from the data",
    ("*", "embed_dim"): "size of the word vectors (text only)",
    ("*", "embed_init"): "0 keeps torch's N(0, 1) embedding init; 0.05 is Keras' uniform(-0.05, 0.05)",
    ("*", "input_dropout"): "dropout on what the recurrent layer reads (embedded words or features)",
}


@dataclass
class Option:
    key: str  # as --set writes it: train.lr, data.path, seed
    type: str
    default: str
    doc: str
    builder: str = ""  # the dataset or model that takes it; "" for a config field every run has


def _comments(source: str) -> dict[int, str]:
    """Line number -> the text of the comment on that line."""
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string.lstrip("#").strip()
    return out


def _doc_lines(source: str, names: list[str]) -> dict[str, str]:
    """name -> the comment beside `name:` (or `name=`), else the comment lines right above it; noqa dropped."""
    lines, comments, out = source.splitlines(), _comments(source), {}
    for i, line in enumerate(lines, start=1):
        head = re.split(r"[:=]", line.strip(), maxsplit=1)[0].strip()
        if head not in names or head in out or line.strip().startswith("#"):
            continue
        text, j = comments.get(i, ""), i - 1
        if not text or text.startswith("noqa"):
            above = []
            while j >= 1 and lines[j - 1].strip().startswith("#"):
                above.insert(0, comments.get(j, ""))
                j -= 1
            text = " ".join(above)
        out[head] = "" if text.startswith("noqa") else text
    return out


def type_text(tp: Any) -> str:
    """A type as the reference shows it: `float, > 0 and <= 100`, `one of 'sgd', 'adam'`, `a list of int`."""
    ranges = [a for a in typing.get_args(tp)[1:] if isinstance(a, Range)] if typing.get_origin(tp) is typing.Annotated else []
    return ", ".join([_type_name(tp).replace(" (a finite number)", "")] + [repr(r) for r in ranges])


def _shown_default(value: Any) -> str:
    if value is inspect.Parameter.empty or value is dataclasses.MISSING:
        return "(required)"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value).replace("None", "null")


def _fields(cls: type, prefix: str) -> list[Option]:
    docs = _doc_lines(inspect.getsource(cls), [f.name for f in dataclasses.fields(cls)])
    types_, out = hints(cls), []
    for f in dataclasses.fields(cls):
        if f.name == "options" or dataclasses.is_dataclass(f.default_factory if f.default_factory is not
                                                            dataclasses.MISSING else None):
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out.append(Option(prefix + f.name, type_text(types_[f.name]), _shown_default(default), docs.get(f.name, "")))
    return out


def builder_registry(section: str):
    if section == "model":
        from .models import models

        return models()
    from .data import datasets

    return datasets()


def builder_options(section: str, name: str) -> list[Option]:
    """The options of one registered dataset (section 'data') or model ('model'), from its signature."""
    reg = builder_registry(section)
    fn = reg.get(name)
    params = reg.options(name, skip=2 if section == "model" else 1)
    try:
        docs = _doc_lines(inspect.getsource(fn), list(params))
    except (OSError, TypeError):  # pragma: no cover - a builder defined where no source is kept
        docs = {}
    types_ = hints(fn)
    out = []
    for key, p in params.items():
        doc = docs.get(key) or OPTION_HELP.get((name, key)) or OPTION_HELP.get(("*", key), "")
        tp = type_text(types_.get(key, p.annotation)) if p.annotation is not inspect.Parameter.empty else "any"
        out.append(Option(f"{section}.{key}", tp, _shown_default(p.default), doc, name))
    return out


def options(section: str | None = None, data: str | None = None, model: str | None = None) -> list[Option]:
    """Every option of a section (run, data, model, train; None = all), the builders' options included:
    every dataset's and model's, or only those of `data` / `model` when named."""
    from . import config

    wanted = sections() if section is None else (section,)
    out: list[Option] = []
    if "run" in wanted:
        out += _fields(config.RunConfig, "")
    if "data" in wanted:
        out += _fields(config.DataConfig, "data.")
        out.append(Option("data.as_sequence", type_text(_sequence_view()), "'none'", OPTION_HELP[("*", "as_sequence")]))
        for name in [data] if data else builder_registry("data").names():
            out += builder_options("data", name)
    if "model" in wanted:
        out += _fields(config.ModelConfig, "model.")
        for name in [model] if model else builder_registry("model").names():
            out += builder_options("model", name)
    for name in wanted:
        if name not in ("run", "data", "model"):  # train, and any section added since (report, ...)
            out += _fields(config.SECTIONS[name], f"{name}.")
    return out


def sections() -> tuple[str, ...]:
    """run (the top-level keys), then the config file's sections in their order."""
    from .config import SECTIONS

    return ("run", *SECTIONS)


def _sequence_view():
    from .data.sequence import SequenceView

    return SequenceView


# ------------------------------------------------------------------ text for the terminal


def as_text(opts: list[Option]) -> str:
    """Aligned lines, one option each, builder options grouped under their dataset or model."""
    width = max((len(o.key) for o in opts), default=10)
    lines, group = [], None
    for o in opts:
        head = o.key.split(".")[0] if "." in o.key else "run"
        label = f"{head}: {o.builder}" if o.builder else head
        if label != group:
            group = label
            lines.append(("" if not lines else "\n") + (f"[{head}.name={o.builder}]" if o.builder else f"[{head}]"))
        lines.append(f"  {o.key:<{width}}  {o.type} = {o.default}")
        if o.doc:
            lines.append(f"  {'':<{width}}    {o.doc}")
    return "\n".join(lines)


# ------------------------------------------------------------------ Markdown for the site


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _table(opts: list[Option]) -> list[str]:
    rows = ["| key | type | default | what it does |", "|---|---|---|---|"]
    rows += [f"| `{o.key}` | {_cell(o.type)} | `{_cell(o.default).replace('&lt;', '<')}` | {_cell(o.doc)} |" for o in opts]
    return rows


def config_markdown() -> str:
    """The config reference page: every field and every builder option, grouped as a config file groups them."""
    from .data import datasets
    from .models import models

    out = ["# Config reference", "",
           "Every key a recipe, a `config.yaml` or `--set section.key=value` may set, generated from the code "
           "(the config dataclasses and the builders' signatures). The same list prints in the terminal: "
           "`corenets list options [run|data|model|train] [--data NAME] [--model NAME]`.", "",
           "A key is checked against its type and range before anything runs; an unknown key is an error that "
           "lists the valid ones and suggests the closest.", ""]
    for section in sections():
        out += [f"## {'Top-level keys' if section == 'run' else section}", ""]
        opts = options(section)
        common = [o for o in opts if not o.builder]
        out += _table(common) + [""]
        if section in ("data", "model"):
            reg = datasets() if section == "data" else models()
            for name in reg.names():
                own = [o for o in opts if o.builder == name]
                out += [f"### {section}.name: {name}", "", reg.describe(name), ""]
                out += (_table(own) if own else ["No options of its own."]) + [""]
    return "\n".join(out)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def argument_help(action: argparse.Action) -> str:
    """An argument's help text; a shortcut without one is described by the config field it sets."""
    if action.help and action.help != argparse.SUPPRESS:
        return action.help
    fields = {o.key.split(".")[-1]: o for o in options("run") + options("train")}
    if action.dest in fields:
        o = fields[action.dest]
        return f"shortcut for --set {o.key}=...: {o.doc}".rstrip(": ")
    return ""


def commands(parser: argparse.ArgumentParser) -> dict[str, tuple[argparse.ArgumentParser, list[argparse.Action]]]:
    """name -> (subparser, its arguments without -h) for every subcommand of `parser` (cli.build_parser(), after
    the plugins have registered: cli.main does that, and so do the site's build and the tests)."""
    return {name: (p, [a for a in p._actions if not isinstance(a, argparse._HelpAction)])
            for name, p in _subparsers(parser).items()}


def cli_markdown(parser: argparse.ArgumentParser) -> str:
    """The CLI reference page: every subcommand's usage and arguments, from the argparse parsers."""
    out = ["# CLI reference", "",
           "Generated from the command line's own parsers (`corenets COMMAND --help` prints the same). "
           "Global flags: `--debug` (show tracebacks), `--version`. Every mistake a user can make ends in one "
           "line, `corenets: error: ...`, and exit code 2.", ""]
    for name, (p, actions) in sorted(commands(parser).items()):
        out += [f"## corenets {name}", "", p.description or "", "", "```", p.format_usage().strip(), "```", "",
                "| argument | what it does |", "|---|---|"]
        for a in actions:
            flag = ", ".join(a.option_strings) or a.dest
            extra = f" Choices: {', '.join(map(str, a.choices))}." if a.choices else ""
            default = f" Default: `{a.default}`." if a.default not in (None, False, [], argparse.SUPPRESS) else ""
            out.append(f"| `{flag}` | {_cell(argument_help(a))}{extra}{default} |")
        out.append("")
    return "\n".join(out)
