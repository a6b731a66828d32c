import pickle

import pytest
import torch

from corenets import runs
from corenets.errors import CheckpointError, RunFolderError


def test_atomic_save_leaves_no_temporary_files(tmp_path):
    runs.atomic_save({"format_version": 1, "x": torch.ones(3)}, tmp_path / "a.pt")
    runs.atomic_write_text(tmp_path / "b.txt", "hello")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt", "b.txt"]
    assert runs.load_checkpoint(tmp_path / "a.pt")["x"].sum() == 3


def test_new_run_dir_is_unique_and_checks_writability(tmp_path):
    a = runs.new_run_dir(tmp_path, "r")
    b = runs.new_run_dir(tmp_path, "r")
    assert a != b and (a / "plots").is_dir()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunFolderError, match="is not writable.*--out"):
        runs.new_run_dir(blocker / "sub", "r")


class Boom:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/corenets-pwned",))


def test_a_malicious_pickle_is_refused_and_does_not_run(tmp_path):
    marker = __import__("pathlib").Path("/tmp/corenets-pwned")
    marker.unlink(missing_ok=True)
    path = tmp_path / "model.pt"
    torch.save({"format_version": 1, "evil": Boom()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        runs.load_checkpoint(path)
    assert not marker.exists()


def test_damaged_foreign_and_newer_checkpoints(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="damaged"):
        runs.load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.ones(1)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a corenets checkpoint"):
        runs.load_checkpoint(tmp_path / "foreign.pt")
    torch.save({"format_version": 99}, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="newer corenets.*upgrade"):
        runs.load_checkpoint(tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        runs.load_checkpoint(tmp_path / "none.pt")
    good = tmp_path / "good.pt"
    runs.atomic_save({"format_version": 1}, good)
    good.write_bytes(good.read_bytes()[:20])  # truncated
    with pytest.raises(CheckpointError):
        runs.load_checkpoint(good)


def test_resumable_says_why_not(tmp_path):
    with pytest.raises(RunFolderError, match="not a folder"):
        runs.resumable(tmp_path / "nope")
    with pytest.raises(RunFolderError, match="not a corenets run"):
        runs.resumable(tmp_path)
    (tmp_path / "config.yaml").write_text("name: x\n")
    with pytest.raises(RunFolderError, match="before its first epoch finished"):
        runs.resumable(tmp_path)


def test_history_csv_round_trip(tmp_path):
    rows = [{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": 0.25, "val_loss": 0.3}]
    runs.write_history(tmp_path / "h.csv", rows)
    assert runs.read_history(tmp_path / "h.csv") == [{"epoch": 1.0, "train_loss": 0.5},
                                                      {"epoch": 2.0, "train_loss": 0.25, "val_loss": 0.3}]


def test_loading_a_run_without_model(tmp_path):
    with pytest.raises(RunFolderError, match="no model.pt"):
        runs.load_run(tmp_path)
    assert pickle  # used by Boom's pickling path
