"""Hypothesis: random and adversarial input to every reader and parser gives a value or a CorenetsError, nothing else."""

from __future__ import annotations

import io
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corenets.config import RunConfig, apply_overrides, parse_override
from corenets.data.bundle import SplitSpec
from corenets.errors import CorenetsError

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SPEC = SplitSpec(seed=0, val_fraction=0.2, test_fraction=0.2)

# CSV-ish text: commas, quotes, tabs, newlines, numbers, NaN words, non-ASCII and control characters
CELL = st.one_of(st.integers(-10**12, 10**12).map(str), st.floats(allow_nan=True).map(str),
                 st.sampled_from(["", "NA", "nan", "inf", "\"", "a,b", "\t", "ü", "\x00", "1e309", "  "]),
                 st.text(max_size=8))
ROWS = st.lists(st.lists(CELL, min_size=1, max_size=4), min_size=0, max_size=8)
RAW = st.one_of(st.binary(max_size=300), ROWS.map(lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8", "replace")))


def _file(data: bytes, suffix: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix="corenets-fuzz-"))
    p = d / f"input{suffix}"
    p.write_bytes(data)
    return p


def value_or_corenets_error(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs)
        except CorenetsError:
            return None


@FUZZ
@given(RAW)
def test_tabular_read_csv(data):
    from corenets.data.tabular import read_csv

    value_or_corenets_error(read_csv, _file(data, ".csv"))


@FUZZ
@given(RAW, st.sampled_from(["a", "b", "label", ""]), st.sampled_from(["auto", "binary", "multiclass", "regression"]))
def test_csv_table(data, target, task):
    from corenets.data.tabular import csv_table

    value_or_corenets_error(csv_table, SPEC, path=str(_file(data, ".csv")), target=target, task=task, missing="impute")


@FUZZ
@given(RAW, st.sampled_from([".csv", ".tsv"]))
def test_text_csv(data, suffix):
    from corenets.data.text import text_csv

    value_or_corenets_error(text_csv, SPEC, path=str(_file(data, suffix)), text="a", label="b", max_len=8)


@FUZZ
@given(st.lists(st.tuples(st.dates().map(str) | st.text(max_size=6), CELL), max_size=40), st.integers(1, 5),
       st.sampled_from(["price", "delta", "auto", "returns", "log_returns"]))
def test_price_csv(rows, window, target):
    from corenets.data.timeseries import price_csv

    text = "Date,Close\n" + "\n".join(f"{d},{v}" for d, v in rows)
    value_or_corenets_error(price_csv, SPEC, path=str(_file(text.encode("utf-8", "replace"), ".csv")), window=window,
                            target=target, missing="ffill")


@FUZZ
@given(st.text(max_size=200))
def test_tokenizer(text):
    from corenets.data.text import build_vocab, tokenize

    tokens = tokenize(text)
    assert isinstance(tokens, list) and all(isinstance(t, str) and t for t in tokens)
    assert isinstance(build_vocab([text, text]), list)


@FUZZ
@given(st.binary(max_size=400), st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM"]))
def test_image_decoding(data, magic):
    from corenets.data.images import load_image

    value_or_corenets_error(load_image, magic + data)


@FUZZ
@given(st.binary(min_size=1, max_size=200))
def test_image_decoding_of_damaged_real_png(noise):
    from PIL import Image

    from corenets.data.images import load_image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 30)).save(buf, "PNG")
    png = bytearray(buf.getvalue())
    for i, b in enumerate(noise):  # flip bytes at positions spread over the file
        png[(i * 7919) % len(png)] ^= b
    value_or_corenets_error(load_image, bytes(png))


KEYS = st.sampled_from(["train.lr", "train.epochs", "model.hidden", "data.name", "seed", "train.optimizer", "name",
                        "train.batch_size", "model.dropout", "deterministic", "train.nope", "nosection.key", "",
                        "train.", ".lr", "train..lr", "data.options"])
VALUES = st.one_of(st.text(max_size=12), st.sampled_from(["[1,2]", "[", "{a: 1}", "null", "1e-3", "-1", "true", "!!python/object:os.system",
                                                          "&a [*a]", "0x10", "1_000", ".inf", "~"]))


@FUZZ
@given(KEYS, VALUES)
def test_set_parser(key, value):
    value_or_corenets_error(parse_override, f"{key}={value}")
    cfg = value_or_corenets_error(apply_overrides, RunConfig(), [f"{key}={value}"])
    assert cfg is None or isinstance(cfg, RunConfig)


@FUZZ
@given(st.text(max_size=40))
def test_set_parser_free_text(text):
    value_or_corenets_error(apply_overrides, RunConfig(), [text])
