"""Damaged, foreign and malicious checkpoints; unwritable and full disks; NaN losses; one error type (in-process CLI)."""

from __future__ import annotations

import errno
import shutil
from collections import namedtuple
from pathlib import Path

import pytest
import torch

from corenets import cli, runs
from corenets.errors import CheckpointError, ConfigError, CorenetsError

QUICK = ["run", "quickstart", "--epochs", "2", "--quiet"]


def fails(capsys, *argv) -> str:
    """Run the CLI in-process; it must exit 2 with exactly one line on stderr and no traceback."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("corenets: error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("good")
    assert cli.main([*QUICK, "--out", str(out)]) == 0
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


@pytest.fixture
def run_copy(good_run, tmp_path) -> Path:
    return Path(shutil.copytree(good_run, tmp_path / good_run.name))


class Payload:
    """Unpickling this calls open(path, 'w'): if the file appears, the pickle ran code."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_malicious_model_pt_is_refused_and_its_payload_never_runs(run_copy, tmp_path, capsys):
    marker = tmp_path / "payload-ran"
    spec = torch.load(run_copy / "model.pt", weights_only=True)
    torch.save({**spec, "extra": Payload(marker)}, run_copy / "model.pt")
    msg = fails(capsys, "evaluate", str(run_copy))
    assert "refused" in msg and "model.pt" in msg
    assert not marker.exists()
    # the control: an unsafe load of the same file does run the payload, so the test above can fail
    torch.load(run_copy / "model.pt", weights_only=False)
    assert marker.exists()


def test_malicious_last_pt_is_refused_on_resume(run_copy, tmp_path, capsys):
    marker = tmp_path / "payload-ran"
    torch.save({"format_version": 1, "train_state": Payload(marker)}, run_copy / "last.pt")
    (run_copy / "metrics.json").unlink()  # unfinished: --resume on a finished run stops before reading last.pt
    msg = fails(capsys, "run", "--resume", str(run_copy), *QUICK[1:])
    assert "refused" in msg and not marker.exists()


def test_newer_format_version_is_a_version_error(run_copy, capsys):
    spec = torch.load(run_copy / "model.pt", weights_only=True)
    torch.save({**spec, "format_version": runs.FORMAT_VERSION + 1}, run_copy / "model.pt")
    msg = fails(capsys, "evaluate", str(run_copy))
    assert "newer corenets" in msg and "upgrade" in msg


def test_weights_of_another_model_are_a_shape_error(run_copy, capsys):
    spec = torch.load(run_copy / "model.pt", weights_only=True)
    spec["model"]["options"]["hidden"] = [32]  # the spec now says a different network than the weights hold
    torch.save(spec, run_copy / "model.pt")
    msg = fails(capsys, "evaluate", str(run_copy))
    assert "does not fit model 'mlp'" in msg and "another model or shape" in msg


@pytest.mark.parametrize("name", ["model.pt", "last.pt"])
def test_truncated_checkpoint_is_damaged_not_a_crash(run_copy, name):
    data = (run_copy / name).read_bytes()
    (run_copy / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="damaged or not a torch checkpoint"):
        runs.load_checkpoint(run_copy / name)


def test_foreign_file_is_not_a_corenets_checkpoint(run_copy):
    torch.save({"weights": torch.zeros(3)}, run_copy / "model.pt")
    with pytest.raises(CheckpointError, match="not a corenets checkpoint"):
        runs.load_checkpoint(run_copy / "model.pt")


# ------------------------------------------------------------------ disk


def test_unwritable_output_folder_is_found_before_training(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    msg = fails(capsys, *QUICK, "--out", str(blocker / "runs"))
    assert "not writable" in msg and "--out" in msg


def test_a_disk_too_full_for_the_checkpoints_is_found_before_training(tmp_path, capsys, monkeypatch):
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10 << 30, (10 << 30) - 4096, 4096))
    msg = fails(capsys, *QUICK, "--out", str(tmp_path))
    assert "MiB free" in msg and "--out" in msg
    assert not list(tmp_path.glob("*/last.pt"))  # no epoch ran


def test_disk_filling_mid_run_keeps_the_last_good_checkpoint(tmp_path, capsys, monkeypatch):
    calls = {"n": 0}
    real_fsync = runs.os.fsync

    def fsync(fd):  # writes 1-2: config.yaml, summary.txt; 3-5: epoch 1's model.pt, last.pt, history.csv
        calls["n"] += 1
        if calls["n"] >= 6:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(runs.os, "fsync", fsync)
    msg = fails(capsys, "run", "quickstart", "--epochs", "3", "--quiet", "--out", str(tmp_path))
    assert "No space left on device" in msg and "last good checkpoint is kept" in msg and "--resume" in msg
    monkeypatch.setattr(runs.os, "fsync", real_fsync)
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert runs.load_checkpoint(folder / "last.pt")["train_state"]["epoch"] == 1
    assert not [p.name for p in folder.iterdir() if ".tmp" in p.name]  # no half-written files left behind
    assert cli.main(["run", "--resume", str(folder), "quickstart", "--epochs", "3", "--quiet"]) == 0


# ------------------------------------------------------------------ numbers and the error type


def test_nan_loss_names_epoch_and_batch_and_keeps_the_best_weights(tmp_path, capsys):
    # epoch 1 trains normally; the step schedule then multiplies lr by 1e30 and the loss blows up in epoch 2
    msg = fails(capsys, *QUICK, "--out", str(tmp_path), "--set", "train.schedule=step", "train.step_size=1",
                "train.gamma=1e30", "train.optimizer=sgd")
    assert "loss became nan at epoch 2, batch" in msg and "model.pt holds epoch 1" in msg
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    model = runs.load_run(folder).model
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("argv, words", [
    (["run", "no-such-recipe"], "recipe"),
    (["run", "quickstart", "--set", "train.nope=1"], "unknown key"),
    (["run", "quickstart", "--set", "train.lr=fast"], "expected float"),
    (["run", "quickstart", "--set", "model.hidden=[a]"], "model.hidden"),
    (["run", "--data", "csv_table"], "data.path"),
    (["run", "quickstart", "--resume", "/no/such/folder"], "not a folder"),
    (["evaluate", "/no/such/run"], "model.pt"),
])
def test_every_user_error_is_one_line_exit_2(argv, words, capsys):
    assert words in fails(capsys, *argv)


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(CorenetsError):
        cli.main(["--debug", "run", "no-such-recipe"])


def test_every_error_class_is_a_corenets_error():
    from corenets import errors

    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)]
    assert len(classes) >= 7 and all(issubclass(c, CorenetsError) for c in classes)
    assert issubclass(ConfigError, ValueError)  # still catchable as the builtin it refines
