"""Hypothesis against the whole CLI (issue 17): `--set` values, config files, CSV files and damaged run-folder files.

Each example asserts only the contract: exit 0 with a valid run folder, or exit 2 with one line `corenets: error: ...`
(after at most some `corenets: note: ...` lines), no traceback, and nothing left on disk.

`make test` runs a bounded profile (CORENETS_FUZZ_EXAMPLES examples per target, default 5). `make fuzz` sets
CORENETS_FUZZ_SECONDS: each target then runs batches of examples, fresh random ones each time, until that many
seconds have passed, and prints how many examples it ran.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corenets import cli

SECONDS = float(os.environ.get("CORENETS_FUZZ_SECONDS", "0"))
EXAMPLES = int(os.environ.get("CORENETS_FUZZ_EXAMPLES", "5"))
PROFILE = settings(max_examples=EXAMPLES if not SECONDS else 25, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck))
# one epoch, and no extra models or figures after it: an example's time goes to the inputs under test
QUICK = ["--epochs", "1", "--threads", "1", "--quiet", "--set", "report.classical_baseline=false", "report.inspect=false"]
COUNT: dict[str, int] = {}


def repeat(name: str, fn) -> None:
    """One bounded batch, or (make fuzz) batches until SECONDS have passed; prints the examples run."""
    COUNT[name], t0 = 0, time.monotonic()
    while True:
        fn()
        if time.monotonic() - t0 >= SECONDS:
            break
    print(f"\nfuzz {name}: {COUNT[name]} examples in {time.monotonic() - t0:.0f} s")


def contract(argv: list[str], out: Path, watch: list[Path] = ()) -> int:
    """Run the CLI in-process and check the contract; returns its exit code."""
    before = {p: _files(p) for p in watch}
    err, stdout = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(stdout):
        code = cli.main(argv)
    lines = err.getvalue().strip().splitlines()
    assert code in (0, 2), (argv, code, err.getvalue())
    assert "Traceback" not in err.getvalue(), (argv, err.getvalue())
    assert all(ln.startswith("corenets: note: ") for ln in lines[:-1] if code == 2), (argv, lines)
    if code == 2:
        assert lines and lines[-1].startswith("corenets: error: "), (argv, lines)
        assert not out.exists() or not any(out.iterdir()), (argv, lines, list(out.rglob("*")))
        for p, files in before.items():
            assert _files(p) == files, (argv, lines)  # a refused command changes nothing in the folders it read
    else:
        assert not [p for p in out.rglob("*") if ".tmp" in p.name], argv
    return code


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def valid_run(out: Path) -> None:
    """A finished run: metrics.json with a test score, and a model.pt that loads."""
    from corenets.record import read_metrics
    from corenets.runs import load_run

    folders = [p for p in out.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    m = read_metrics(folders[0])
    assert m.test and m.task in ("binary", "multiclass", "regression")
    if m.cv == 0:
        load_run(folders[0])


@contextlib.contextmanager
def scratch():
    d = Path(tempfile.mkdtemp(prefix="corenets-fuzz-cli-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ----------------------------------------------------------------- --set values

# keys that train in seconds whatever their value (epochs come from --epochs 1, data stays the digits)
SET_KEYS = st.sampled_from([
    "train.lr", "train.batch_size", "train.eval_batch_size", "train.weight_decay", "train.label_smoothing",
    "train.momentum", "train.optimizer", "train.schedule", "train.step_size", "train.gamma", "train.grad_clip",
    "train.early_stopping", "train.monitor", "train.loss", "train.augment", "train.tta", "train.ema", "train.refit",
    "train.precision", "model.hidden", "model.dropout", "model.activation", "model.batch_norm", "model.members",
    "seed", "name", "description", "cv", "data.val_fraction", "data.test_fraction", "train.nope", "model.nope",
    "nosection.key", "train", "model", ""])
NUMBERS = st.one_of(st.integers(-10**25, 10**25), st.floats(allow_nan=True, allow_infinity=True),
                    st.integers(0, 70).map(str))
SET_VALUES = st.one_of(
    NUMBERS.map(str), st.text(max_size=16),
    st.lists(st.integers(-5, 300), max_size=4).map(lambda v: json.dumps(v)),
    st.sampled_from(["[", "{a: 1}", "null", "~", "true", "no", "1e-3", ".inf", "-.nan", "0x10", "1_000", "&a [*a]",
                     "!!python/object/apply:os.system [ls]", "sgd", "adam", "cosine", "flip", "none", "auto",
                     "cross_entropy", "mse", "translate:2", "cutout:3,flip", "../../x", "a/b", "😀", "[64, 32]",
                     "[100000000]", "10", "0", "-1", "3"]))


@given(st.lists(st.tuples(SET_KEYS, SET_VALUES), min_size=1, max_size=3))
@PROFILE
def _set_values(pairs):
    COUNT["set"] += 1
    with scratch() as d:
        out = d / "runs"
        argv = ["run", "quickstart", *QUICK, "--out", str(out), "--set", *[f"{k}={v}" for k, v in pairs]]
        if contract(argv, out) == 0:
            valid_run(out)


def test_fuzz_set_values():
    repeat("set", _set_values)


# ----------------------------------------------------------------- config files

SECTION_KEYS = {"data": ["name", "val_fraction", "test_fraction", "path", "target", "missing"],
                "model": ["name", "hidden", "dropout", "members", "batch_norm"],
                "train": ["lr", "batch_size", "optimizer", "schedule", "weight_decay", "label_smoothing", "monitor"]}
YAML_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True), st.text(max_size=10),
              st.sampled_from(["digits", "mlp", "adam", "sgd", "cosine", "val_loss", "impute"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


@st.composite
def configs(draw) -> str:
    doc: dict = {}
    if draw(st.booleans()):
        doc["name"] = draw(st.sampled_from(["quickstart", "x", "../x", "", "a b"]) | st.text(max_size=8))
    for section, keys in SECTION_KEYS.items():
        if draw(st.booleans()):
            doc[section] = draw(st.dictionaries(st.sampled_from(keys + ["nope"]), YAML_VALUES, max_size=3)
                                | YAML_VALUES)
    for k in draw(st.lists(st.sampled_from(["seed", "cv", "engine", "description", "out", "device", "zz"]), max_size=2)):
        doc[k] = draw(YAML_VALUES)
    text = yaml.safe_dump(doc, allow_unicode=True)
    tweak = draw(st.sampled_from(["", "anchor", "tab", "cut", "bytes"]))
    if tweak == "anchor":
        text = "a: &x [1, 2]\nb: *x\n" + text
    elif tweak == "tab":
        text = text.replace("  ", "\t", 1)
    elif tweak == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif tweak == "bytes":
        return text + draw(st.binary(max_size=8)).decode("latin-1")
    return text


@given(configs(), st.booleans())
@PROFILE
def _config_files(text, latin1):
    COUNT["config"] += 1
    with scratch() as d:
        f = d / "config.yaml"
        f.write_bytes(text.encode("latin-1", "replace") if latin1 else text.encode("utf-8", "surrogatepass"))
        out = d / "runs"
        if contract(["run", "--config", str(f), *QUICK, "--out", str(out)], out) == 0:
            valid_run(out)


def test_fuzz_config_files():
    repeat("config", _config_files)


# ----------------------------------------------------------------- CSV files

CELLS = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-10**30, 10**30).map(str),
                  st.sampled_from(["", "NA", "nan", "inf", "-inf", "1e309", "\"", "a,b", "ü", "x", "y", "  "]),
                  st.text(max_size=6))


@st.composite
def tables(draw) -> tuple[bytes, str]:
    cols = draw(st.integers(1, 4))
    n = draw(st.integers(0, 60))
    header = ["y"] + [f"c{i}" for i in range(cols)]
    rows = []
    for i in range(n):
        label = draw(st.sampled_from(["0", "1"]) | CELLS) if draw(st.integers(0, 9)) == 0 else str(i % 2)
        rows.append([label] + [draw(CELLS) if draw(st.integers(0, 4)) == 0 else str(random.Random(i * cols + j).random())
                               for j in range(cols)])
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    data = text.encode("utf-8", "replace")
    if draw(st.integers(0, 5)) == 0:  # damage the bytes
        data = bytes(b ^ 0xFF if draw(st.integers(0, 30)) == 0 else b for b in data[:200]) + data[200:]
    return data, draw(st.sampled_from(["csv_table", "csv_table", "text_csv"]))


@given(tables(), st.sampled_from([[], ["data.missing=impute"], ["data.task=regression"], ["data.task=multiclass"]]))
@PROFILE
def _csv_files(table, settings_):
    COUNT["csv"] += 1
    data, kind = table
    with scratch() as d:
        f = d / "data.csv"
        f.write_bytes(data)
        out = d / "runs"
        keys = ["data.target=y"] if kind == "csv_table" else ["data.text=c0", "data.label=y"]
        extra = settings_ if kind == "csv_table" else []
        argv = ["run", "--data", kind, "--model", "mlp" if kind == "csv_table" else "lstm", *QUICK, "--out", str(out),
                "--set", f"data.path={f}", *keys, *extra]
        if contract(argv, out) == 0:
            valid_run(out)


def test_fuzz_csv_files():
    repeat("csv", _csv_files)


# ----------------------------------------------------------------- damaged run-folder files


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fuzz-run")
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["run", "quickstart", *QUICK, "--out", str(out)]) == 0
    return next(out.iterdir())


def _truncate(data: bytes, draw) -> bytes:
    return data[: draw(st.integers(0, max(0, len(data) - 1)))]


def _flip(data: bytes, draw) -> bytes:
    b = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        if b:
            i = draw(st.integers(0, len(b) - 1))
            b[i] ^= 1 << draw(st.integers(0, 7))
    return bytes(b)


WRONG = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                  st.text(max_size=6), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                                           st.integers(), max_size=2))


def damage(folder: Path, name: str, how: str, draw) -> None:
    """Damage one file of a run folder: truncate it, flip bits, or give a key a wrong type, or drop/rename one."""
    f = folder / name
    if how in ("truncate", "flip"):
        f.write_bytes((_truncate if how == "truncate" else _flip)(f.read_bytes(), draw))
    elif name == "model.pt":
        obj = torch.load(f, weights_only=True)
        key = draw(st.sampled_from(sorted(obj)))
        if how == "keys":
            obj[draw(st.sampled_from(["", "x", key.upper()]))] = obj.pop(key)
        else:
            obj[key] = draw(WRONG) if key != "state_dict" else {"weight": draw(WRONG)}
        torch.save(obj, f)
    elif name in ("metrics.json", "config.yaml"):
        load, dump = (json.loads, json.dumps) if name == "metrics.json" else (yaml.safe_load, yaml.safe_dump)
        doc = load(f.read_text())
        key = draw(st.sampled_from(sorted(doc)))
        if how == "keys":
            doc.pop(key)
        else:
            doc[key] = draw(WRONG)
        f.write_text(dump(doc))
    else:
        f.write_text(draw(st.text(max_size=40)))


FILES = st.sampled_from(["model.pt", "metrics.json", "config.yaml", "history.csv"])
HOWS = st.sampled_from(["truncate", "flip", "types", "keys"])


COMMANDS = st.sampled_from(["evaluate", "compare", "export", "predict", "serve"])


def _serve(run: Path) -> int:
    """`corenets serve` up to the point it would listen: the app is built, or the run folder is refused."""
    pytest.importorskip("fastapi")
    from corenets.errors import CorenetsError
    from corenets.serve.app import serving_app

    try:
        serving_app(run_dir=str(run), threads=1, max_upload_mb=1, max_pixels=10_000)
    except CorenetsError as e:
        assert "\n" not in str(e)
        return 2
    return 0


@given(st.data(), FILES, HOWS, COMMANDS)
@PROFILE
def _run_folders(finished, data, name, how, command):
    COUNT["folder"] += 1
    with scratch() as d:
        run = d / "run"
        shutil.copytree(finished, run)
        damage(run, name, how, data.draw)
        if command == "serve":
            _serve(run)
            return
        image = d / "digit.png"
        from PIL import Image

        Image.new("L", (8, 8), 128).save(image)
        argv = {"evaluate": ["evaluate", str(run)], "compare": ["compare", str(run), "--out", str(d / "cmp")],
                "export": ["export", str(run), "--format", "torchscript", "--out", str(d / "cmp" / "m.pt")],
                "predict": ["predict", str(run), str(image)]}[command]
        watch = [] if command == "evaluate" else [run]  # evaluate rewrites metrics and plots when it succeeds
        contract(argv, d / "cmp", watch)


def test_fuzz_damaged_run_folders(finished_run):
    repeat("folder", lambda: _run_folders(finished_run))
