"""Issue 17, everything but HTTP: non-finite data, 10,000 classes, huge lines and cells, damaged run folders,
export targets, temporary files left by a kill, and library warnings before a one-line error.

Each mistake is one line `corenets: error: ...` on stderr, exit 2, and nothing new on disk."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from corenets import cli, preflight
from corenets.data.bundle import DataBundle, Split
from corenets.errors import DataError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_runs import table_run  # noqa: E402

FAST = ["--model", "mlp", "--epochs", "2", "--threads", "1", "--quiet"]


def one_line_error(capsys, code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "Warning:" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    return err


def table(path: Path, n: int = 240, seed: int = 0, **columns) -> Path:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "y": rng.integers(0, 2, n)})
    for name, fn in columns.items():
        df[name] = fn(df[name].to_numpy().copy())
    df.to_csv(path, index=False)
    return path


def run_csv(tmp_path: Path, csv: Path, *settings: str) -> int:
    return cli.main(["run", "--data", "csv_table", *FAST, "--set", f"data.path={csv}", "data.target=y", *settings,
                     "--out", str(tmp_path / "runs")])


# ----------------------------------------------------------------- non-finite values


def _with_inf(rows):
    def put(col):
        col[rows] = np.inf
        return col
    return put


def test_inf_in_a_table_is_named_by_column_and_row_count_before_any_folder(tmp_path, capsys):
    csv = table(tmp_path / "t.csv", a=_with_inf([3, 50, 99]))
    err = one_line_error(capsys, run_csv(tmp_path, csv))
    assert "'a' (3 rows)" in err and "data.missing=impute" in err
    assert not (tmp_path / "runs").exists()


def test_inf_is_imputed_where_data_missing_says_so(tmp_path, capsys):
    csv = table(tmp_path / "t.csv", a=_with_inf([3, 50, 99]), b=_with_inf([7]))
    assert run_csv(tmp_path, csv, "data.missing=impute") == 0
    folder = next((tmp_path / "runs").iterdir())
    metrics = json.loads((folder / "metrics.json").read_text())
    history = pd.read_csv(folder / "history.csv")
    assert np.isfinite(history["val_loss"]).all() and 0 <= metrics["test"]["accuracy"] <= 1
    assert metrics["best_epoch"] >= 1


def test_an_infinite_regression_target_is_refused(tmp_path, capsys):
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    y[10] = -np.inf
    pd.DataFrame({"a": rng.normal(size=200), "y": y}).to_csv(tmp_path / "r.csv", index=False)
    err = one_line_error(capsys, run_csv(tmp_path, tmp_path / "r.csv", "data.task=regression"))
    assert "'y' has 1 infinite value" in err


@pytest.mark.parametrize("split", ["val", "test", "train"])
def test_non_finite_inputs_in_any_split_are_refused_by_split_and_row_count(split):
    """The pre-run check catches what a loader missed: any kind, any split, before training."""
    x = {s: torch.zeros(20, 3) for s in ("train", "val", "test")}
    x[split][[2, 5], 1] = float("inf")
    x[split][7, 0] = float("nan")
    bundle = DataBundle(*(Split(x[s], torch.zeros(20, dtype=torch.long)) for s in ("train", "val", "test")),
                        task="binary", input_shape=(3,), classes=["a", "b"])
    with pytest.raises(DataError, match=rf"3 of the 20 {'validation' if split == 'val' else split} rows hold non-finite"):
        preflight.check_finite(bundle, rows=4)  # chunks smaller than the split: the count is summed over them
    x[split][[2, 5, 7]] = 0.0
    preflight.check_finite(bundle)


def test_a_nan_validation_loss_stops_the_run_instead_of_choosing_an_epoch():
    from corenets.train.callbacks import NaNGuard

    class State:
        stopped = failed = None

        def stop(self, reason, error=False):
            self.stopped, self.failed = reason, error

    state = State()
    NaNGuard().on_epoch_end(state, {"epoch": 1, "train_loss": 0.5, "val_loss": 0.7})
    assert state.stopped is None
    NaNGuard().on_epoch_end(state, {"epoch": 3, "train_loss": 0.5, "val_loss": float("nan")})
    assert state.failed is True and "validation loss became nan at epoch 3" in state.stopped


def test_inf_at_predict_time_is_refused_or_imputed(tmp_path):
    from corenets.data.tabular import TablePreprocessing

    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 2.0]})
    rows = pd.DataFrame({"a": [np.inf, 1.0], "b": [1.0, -np.inf]})
    with pytest.raises(DataError, match=r"non-finite values in column\(s\) \['a', 'b'\]"):
        TablePreprocessing.fit(df, ["a", "b"], [], "error").transform(rows)
    x = TablePreprocessing.fit(df, ["a", "b"], [], "impute").transform(rows)
    assert torch.isfinite(x).all() and x[0, 0] == 0 and x[1, 1] == 0  # the training mean, standardised: 0


def test_inf_in_a_price_series_is_named(tmp_path, capsys):
    dates = pd.date_range("2020-01-01", periods=120).strftime("%Y-%m-%d")
    close = 100 + np.cumsum(np.random.default_rng(0).normal(size=120))
    close[80] = np.inf
    pd.DataFrame({"Date": dates, "Close": close}).to_csv(tmp_path / "p.csv", index=False)
    code = cli.main(["run", "stock-lstm", "--epochs", "1", "--quiet", "--set", f"data.path={tmp_path / 'p.csv'}",
                     "--out", str(tmp_path / "runs")])
    err = one_line_error(capsys, code)
    assert "1 non-finite value(s) (inf) in 'Close', first on 2020-03-21" in err
    assert not (tmp_path / "runs").exists()


# ----------------------------------------------------------------- many classes


def test_ten_thousand_classes_are_refused_before_training_saying_why_and_the_limit(tmp_path, capsys):
    n = 20_000
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=n), "y": [f"k{i % 10_000}" for i in range(n)]}).to_csv(tmp_path / "m.csv",
                                                                                          index=False)
    err = one_line_error(capsys, run_csv(tmp_path, tmp_path / "m.csv"))
    assert "10,000 classes" in err and "at most 1,000" in err and "confusion matrix" in err
    assert not (tmp_path / "runs").exists()


def test_plots_of_a_thousand_classes_keep_their_size(tmp_path):
    from PIL import Image

    from corenets.evaluate import plots, vision_plots

    k, n = preflight.MAX_CLASSES, 3000
    rng = np.random.default_rng(0)
    y = rng.integers(0, k, n)
    proba = rng.random((n, k))
    proba /= proba.sum(1, keepdims=True)
    classes = [f"class{i}" for i in range(k)]
    roc = Image.open(plots.roc(y, proba, classes, tmp_path / "roc.png"))
    bars = Image.open(vision_plots.per_class_accuracy(y, proba, classes, tmp_path / "acc.png"))
    assert roc.size[0] < 1000 and bars.size[0] < 60 * 110  # BARS bars of 0.55 inch at 110 dpi, not 1,000 of them
    few = Image.open(vision_plots.per_class_accuracy(y % 4, proba[:, :4], classes[:4], tmp_path / "few.png"))
    assert few.size[0] < bars.size[0]


# ----------------------------------------------------------------- huge lines and cells


def test_a_line_over_the_limit_is_one_line_and_no_folder(tmp_path, capsys, monkeypatch):
    from corenets.data import formats

    monkeypatch.setattr(formats, "MAX_LINE_BYTES", 2000)
    csv = tmp_path / "t.csv"
    table(csv)
    with open(csv, "a") as f:
        f.write("1," + "9" * 5000 + ",1\n")  # one long row, as a 1 GB line is against the real 16 MiB limit
    err = one_line_error(capsys, run_csv(tmp_path, csv))
    assert "line 242 of" in err and "longer than 2,000 bytes" in err
    assert not (tmp_path / "runs").exists()


def test_line_check_reads_in_chunks_across_their_borders():
    import io

    from corenets.data import formats

    ok = b"x" * ((1 << 20) - 3) + b"\n" + b"y" * 10 + b"\n"  # a line ending just before a chunk border
    formats.check_lines(io.BytesIO(ok), "ok.csv")
    long = b"a\n" + b"z" * (formats.MAX_LINE_BYTES + 1)  # spans 17 chunks without a newline
    with pytest.raises(DataError, match="line 2 of long.csv"):
        formats.check_lines(io.BytesIO(long), "long.csv")


@pytest.mark.parametrize("data", ["csv_table", "text_csv"])
def test_a_cell_over_the_limit_is_one_line_and_no_folder(tmp_path, capsys, monkeypatch, data):
    from corenets.data import formats

    monkeypatch.setattr(formats, "MAX_CELL_CHARS", 3000)
    # a quoted cell spanning many short lines, as a 300 MB cell would against the real 1 MiB limit
    big = '"' + ("word " * 20 + "\n") * 60 + '"'
    rows = [f"{'good' if i % 2 else 'bad'},{i % 2}" for i in range(60)]
    (tmp_path / "c.csv").write_text("text,y\n" + "\n".join(rows[:5] + [f"{big},1"] + rows[5:]) + "\n")
    settings = ["data.text=text", "data.label=y"] if data == "text_csv" else ["data.target=y"]
    code = cli.main(["run", "--data", data, "--model", "lstm" if data == "text_csv" else "mlp", "--epochs", "1",
                     "--quiet", "--set", f"data.path={tmp_path / 'c.csv'}", *settings, "--out", str(tmp_path / "runs")])
    err = one_line_error(capsys, code)
    assert "column 'text', row 6" in err and "6,060 characters" in err and "limit of 3,000" in err
    assert not (tmp_path / "runs").exists()


# ----------------------------------------------------------------- damaged run folders


def _spec_edit(fn):
    def edit(folder: Path) -> None:
        obj = torch.load(folder / "model.pt", weights_only=True)
        fn(obj)
        torch.save(obj, folder / "model.pt")
    return edit


DAMAGE = {
    "model.pt empty": (lambda d: (d / "model.pt").write_bytes(b""), "damaged or not a torch checkpoint"),
    "model.pt text": (lambda d: (d / "model.pt").write_text("hello\n"), "damaged or not a torch checkpoint"),
    "model.pt is /etc/passwd": (lambda d: (d / "model.pt").write_bytes(b"root:x:0:0:root:/root:/bin/bash\n" * 20),
                                "damaged or not a torch checkpoint"),
    "format_version a string": (_spec_edit(lambda o: o.update(format_version="2")),
                                "format_version is '2', not a format number"),
    "no preprocessing": (_spec_edit(lambda o: o.pop("preprocessing")), "lacks preprocessing"),
    "preprocessing a string": (_spec_edit(lambda o: o.update(preprocessing="x")), "preprocessing is 'x'"),
    "no weights": (_spec_edit(lambda o: o.pop("state_dict")), "lacks state_dict"),
    "classes a number": (_spec_edit(lambda o: o.update(classes=5)), "classes is 5"),
    "input_shape negative": (_spec_edit(lambda o: o.update(input_shape=[-5])), "input_shape is [-5]"),
    "metrics.json invalid": (lambda d: (d / "metrics.json").write_text("{not json"), "metrics.json cannot be read"),
    "metrics.json a list": (lambda d: (d / "metrics.json").write_text("[1, 2]"), "not a corenets metrics file"),
    "metrics.json wrong types": (lambda d: (d / "metrics.json").write_text(json.dumps(
        {"task": "binary", "test": {"accuracy": 0.5}, "epochs_run": "x"})), "epochs_run is 'x', expected int"),
    "metrics.json headline not a number": (lambda d: (d / "metrics.json").write_text(json.dumps(
        {"task": "binary", "test": {"accuracy": "high"}})), "test.accuracy is 'high', not a number"),
    "metrics.json missing": (lambda d: (d / "metrics.json").unlink(), "has no metrics.json"),
}
# which commands read which file: model.pt is read by all but compare; metrics.json by evaluate, serve, compare
COMMANDS = {"evaluate": ["evaluate", "{run}"], "predict": ["predict", "{run}", "{rows}"], "serve": ["serve", "{run}"],
            "compare": ["compare", "{run}", "{good}", "--out", "{out}"],
            "export": ["export", "{run}", "--format", "torchscript"]}


def _reads(command: str, damage: str) -> bool:
    if damage.startswith("metrics"):
        return command in ("evaluate", "serve", "compare") and not (damage == "metrics.json missing" and command != "evaluate")
    return command != "compare"


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("good")
    run = table_run(root, name="good")
    rows = root / "rows.csv"
    pd.DataFrame({"age": [40.0, 30.0], "income": [3.0, 2.0], "city": ["oslo", "rome"]}).to_csv(rows, index=False)
    return run, rows


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_damaged_run_folder_is_one_line_exit_2(tmp_path, capsys, good_run, command, damage):
    if not _reads(command, damage):
        pytest.skip(f"{command} does not read that file")
    if command == "serve":
        pytest.importorskip("fastapi")
    good, rows = good_run
    run = tmp_path / "damaged"
    shutil.copytree(good, run)
    DAMAGE[damage][0](run)
    before = sorted(p.name for p in run.rglob("*"))
    argv = [a.format(run=run, rows=rows, good=good, out=tmp_path / "cmp") for a in COMMANDS[command]]
    err = one_line_error(capsys, cli.main(argv))
    assert DAMAGE[damage][1] in err
    assert sorted(p.name for p in run.rglob("*")) == before and not (tmp_path / "cmp").exists()


# ----------------------------------------------------------------- export --out


@pytest.mark.parametrize("target", ["folder", "under a file", "/dev/full", "a link"])
def test_export_refuses_a_target_that_is_not_a_regular_file_or_a_new_path(tmp_path, capsys, good_run, target):
    good, _ = good_run
    out = {"folder": tmp_path, "under a file": tmp_path / "f.txt" / "m.pt", "/dev/full": Path("/dev/full"),
           "a link": tmp_path / "link.pt"}[target]
    (tmp_path / "f.txt").write_text("a file")
    os.symlink(tmp_path / "f.txt", tmp_path / "link.pt")
    before = os.lstat("/dev/full")
    err = one_line_error(capsys, cli.main(["export", str(good), "--format", "torchscript", "--out", str(out)]))
    assert {"folder": "is a folder", "under a file": "which is not a folder", "/dev/full": "a device or special file",
            "a link": "a symbolic link"}[target] in err
    assert stat.S_ISCHR(os.lstat("/dev/full").st_mode) and os.lstat("/dev/full").st_ino == before.st_ino
    assert (tmp_path / "f.txt").read_text() == "a file" and not list(tmp_path.glob(".*tmp*"))


def test_export_replaces_a_regular_file(tmp_path, capsys, good_run):
    good, _ = good_run
    shutil.copytree(good, tmp_path / "run")
    (tmp_path / "old.pt").write_text("an old export")
    assert cli.main(["export", str(tmp_path / "run"), "--format", "torchscript", "--out", str(tmp_path / "old.pt")]) == 0
    assert (tmp_path / "old.pt").stat().st_size > 1000


# ----------------------------------------------------------------- temporary files left by a kill


def test_leftover_temporary_files_of_dead_writers_are_removed_at_the_next_write(tmp_path):
    from corenets.files import remove_leftovers, write_history

    dead = 2**22 + 12345  # above Linux's largest pid: never a running process
    (tmp_path / "plots").mkdir()
    for name in (f".history.csv.tmp{dead}", f".model.pt.tmp{dead}", f"plots/.curves.png.tmp{dead}",
                 f".model.pt.tmp{os.getppid()}"):  # the last: a running process's write in progress, kept
        (tmp_path / name).write_bytes(b"half a file")
    write_history(tmp_path / "history.csv", [{"epoch": 1, "loss": 0.5}])
    assert not (tmp_path / f".history.csv.tmp{dead}").exists() and (tmp_path / f".model.pt.tmp{dead}").exists()
    gone = remove_leftovers(tmp_path)
    assert sorted(p.name for p in gone) == [f".curves.png.tmp{dead}", f".model.pt.tmp{dead}"]
    assert (tmp_path / f".model.pt.tmp{os.getppid()}").exists()


def test_resume_removes_what_the_kill_left(tmp_path, capsys):
    """A run killed mid-write (its metrics.json not yet written) resumes and leaves no .NAME.tmpPID behind."""
    out = tmp_path / "runs"
    assert cli.main(["run", "quickstart", "--epochs", "2", "--threads", "1", "--quiet", "--out", str(out)]) == 0
    folder = next(out.iterdir())
    (folder / "metrics.json").unlink()  # as if killed before the last step
    dead = 2**22 + 777
    for name in (".model.pt", ".history.csv", ".last.pt", "plots/.confusion.png"):
        (folder / f"{name}.tmp{dead}").write_bytes(b"half")
    assert cli.main(["run", "--resume", str(folder), "--quiet"]) == 0
    assert (folder / "metrics.json").is_file()
    assert not [p for p in folder.rglob("*") if ".tmp" in p.name]


# ----------------------------------------------------------------- warnings before a one-line error


def test_library_warnings_are_silenced_and_corenets_notes_are_one_line(tmp_path, capsys, monkeypatch):
    import warnings

    def noisy(args):
        np.log(np.zeros(1))  # NumPy: RuntimeWarning: divide by zero
        warnings.warn("a library's note", FutureWarning)
        pd.to_datetime(pd.Series(["01/02/2020", "2020-13-01"]), errors="coerce")  # pandas: UserWarning
        raise DataError("the one line")

    monkeypatch.setitem(cli.SUBCOMMANDS, "noisy", (None, noisy, "test"))
    monkeypatch.setattr(cli, "_load_plugins", lambda: None)
    shown = warnings.showwarning
    err = one_line_error(capsys, cli.main(["noisy"]))
    assert err == "corenets: error: the one line\n"
    assert warnings.showwarning is shown  # put back: main() in-process leaves warnings as it found them
    rng = np.random.default_rng(0)
    pd.DataFrame({"id": [f"u{i}" for i in range(300)], "a": rng.normal(size=300), "y": rng.integers(0, 2, 300)}
                 ).to_csv(tmp_path / "ids.csv", index=False)
    assert run_csv(tmp_path, tmp_path / "ids.csv") == 0
    err = capsys.readouterr().err
    assert "corenets: note: column 'id' looks like an identifier (300 distinct values)" in err
    assert "Warning" not in err and ".py:" not in err


def test_debug_leaves_the_warnings_to_python(monkeypatch):
    import warnings

    def noisy(args):
        warnings.warn("a library's note", FutureWarning)
        return 0

    monkeypatch.setitem(cli.SUBCOMMANDS, "noisy", (None, noisy, "test"))
    monkeypatch.setattr(cli, "_load_plugins", lambda: None)
    with pytest.warns(FutureWarning, match="a library's note"):  # passed on to Python's handling, not swallowed
        assert cli.main(["--debug", "noisy"]) == 0



# ----------------------------------------------------------------- found by the CLI fuzz (test_fuzz_cli.py)


def test_text_labels_of_30_digits_are_class_names_not_an_overflow(tmp_path, capsys):
    big = "1" + "0" * 29
    rows = [f"{'good fun' if i % 2 else 'dull and long'},{big if i % 2 else '7'}" for i in range(60)]
    (tmp_path / "t.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    code = cli.main(["run", "--data", "text_csv", "--model", "lstm", "--epochs", "1", "--quiet", "--set",
                     f"data.path={tmp_path / 't.csv'}", "report.classical_baseline=false", "--out", str(tmp_path / "runs")])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads(next((tmp_path / "runs").iterdir()).joinpath("metrics.json").read_text())
    assert sorted(metrics["data"]["classes"]) == sorted([big, "7"])


@pytest.mark.parametrize("history", ["epoch,val_loss\n1,0.5\n2,abc\n", "epoch,val_loss\n1,0.5\n\xff\n",
                                     "loss,val_loss\n0.5,0.4\n0.3,0.2\n"])
def test_compare_on_a_damaged_history_csv_is_one_line(tmp_path, capsys, good_run, history):
    good, _ = good_run
    run = tmp_path / "run"
    shutil.copytree(good, run)
    (run / "history.csv").write_bytes(history.encode("latin-1"))
    err = one_line_error(capsys, cli.main(["compare", str(run), str(good), "--out", str(tmp_path / "cmp")]))
    assert "history.csv" in err and ("is damaged" in err or "cannot be read" in err)
    assert not (tmp_path / "cmp").exists()


def test_a_whole_number_target_beyond_int64_is_a_class_name_not_a_key_error(tmp_path, capsys):
    rng = np.random.default_rng(0)
    y = np.where(rng.integers(0, 2, 120) == 1, 3.9269480536658275e149, 0.0)
    pd.DataFrame({"a": rng.normal(size=120), "y": y}).to_csv(tmp_path / "t.csv", index=False)
    assert run_csv(tmp_path, tmp_path / "t.csv", "data.task=binary") == 0, capsys.readouterr().err


@pytest.mark.parametrize("field,value,message", [
    ("refit", {"": 0}, "refit is {'': 0}, not its epochs and rows"),
    ("classical", {"name": "x"}, "classical is {'name': 'x'}"),
    ("warnings", [1], "warnings holds something other than text"),
])
def test_metrics_json_nested_values_the_report_reads_are_checked(tmp_path, capsys, good_run, field, value, message):
    good, _ = good_run
    run = tmp_path / "run"
    shutil.copytree(good, run)
    m = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**m, "best_epoch": 1, field: value}))
    err = one_line_error(capsys, cli.main(["compare", str(run), str(good), "--out", str(tmp_path / "cmp")]))
    assert message in err


@pytest.mark.parametrize("config", ["name: x\nmodel: \x0b\n", "model: abc\n", "a: &x [1]\nb: *x\n"])
def test_compare_shows_an_invalid_config_yaml_as_an_unknown_model(tmp_path, capsys, good_run, config):
    """compare's model column is all it reads from config.yaml: an invalid one is '?', with the checked reader (an
    alias bomb is never expanded). Before: yaml ReaderError or AttributeError tracebacks (found by the fuzz)."""
    good, _ = good_run
    run = tmp_path / "run"
    shutil.copytree(good, run)
    (run / "config.yaml").write_text(config)
    assert cli.main(["compare", str(run), str(good), "--out", str(tmp_path / "cmp")]) == 0
    assert "? (config.yaml is invalid)" in (tmp_path / "cmp" / "compare.md").read_text()
