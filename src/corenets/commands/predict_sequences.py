"""`corenets predict` for text runs (sentences) and for tables read as sequences (a CSV of rows)."""

from __future__ import annotations

from pathlib import Path

from ..cli import PREDICTORS, show_table


def _print(run, pred, texts, args) -> int:
    table = pred.to_frame()
    if texts is not None:
        table.insert(0, "text", [t if len(t) <= 60 else t[:57] + "..." for t in texts])
    return show_table(table, args)


def _is_text(run, inputs) -> bool:
    return run.preprocessing.kind == "text"


def _predict_text(run, args) -> int:
    """Sentences as arguments, or one .txt file with a sentence per line."""
    inputs = list(args.inputs)
    if len(inputs) == 1 and inputs[0].endswith(".txt") and Path(inputs[0]).is_file():
        inputs = [line for line in Path(inputs[0]).read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return _print(run, run.predict(inputs), inputs, args)


def _is_table_sequence(run, inputs) -> bool:
    pre = run.preprocessing
    return pre.kind == "sequence" and pre.state["inner"].get("kind") == "table"


def _predict_table_sequence(run, args) -> int:
    from ..data.tabular import read_csv
    from ..errors import ConfigError

    if len(args.inputs) != 1:
        raise ConfigError("predict on a table run takes one CSV file of rows")
    return _print(run, run.predict(read_csv(args.inputs[0])), None, args)


PREDICTORS.append((_is_text, _predict_text))
PREDICTORS.append((_is_table_sequence, _predict_table_sequence))
