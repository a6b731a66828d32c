"""train.refit: after the epoch is chosen on validation, a fresh model trains on every labelled training row."""

import json

import numpy as np
import pytest
import torch

from corenets.config import TrainConfig, apply_overrides
from corenets.errors import ConfigError
from corenets.experiment import run_config
from corenets.recipes import load_recipe
from corenets.runs import load_checkpoint
from corenets.train.callbacks import Callback, StopAfter
from corenets.train.loop import fit
from test_loop import blobs


class Snapshots(Callback):
    def __init__(self):
        self.weights = []

    def on_epoch_end(self, state, logs):
        self.weights.append({k: v.detach().clone() for k, v in state.model.state_dict().items()})


def test_stop_after_replays_the_first_epochs_of_the_full_schedule():
    cfg = TrainConfig(epochs=4, batch_size=32, lr=0.05, schedule="cosine")
    full, short = Snapshots(), Snapshots()
    torch.manual_seed(0)
    a = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    b = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    b.load_state_dict(a.state_dict())
    h_full = fit(a, blobs(), cfg, [full], seed=3)
    h_short = fit(b, blobs(), cfg, [short, StopAfter(2)], seed=3, validate=False)
    assert len(h_short.rows) == 2 and "refit" in h_short.stopped
    assert [r["lr"] for r in h_short.rows] == [r["lr"] for r in h_full.rows[:2]]  # cosine over 4 epochs, not 2
    assert "val_loss" not in h_short.rows[0] and "val_loss" in h_full.rows[0]
    for k, v in short.weights[1].items():
        assert torch.equal(v, full.weights[1][k])  # the same two epochs, weight for weight


def _phrased_sst2(tmp_path):
    """SST-2's layout: 30 sentences, each with two of its phrases; every sentence has a word of its own (s<k>)."""
    rng = np.random.default_rng(0)
    words = ["good", "bad", "fun", "dull", "film", "plot", "great", "awful", "the", "a"]
    rows = []
    for k in range(30):
        w = [*rng.choice(words, 7).tolist(), f"s{k}"]
        rows += [(" ".join(w), k % 2), (" ".join(w[1:4]), k % 2), (" ".join(w[4:]), k % 2)]
    d = tmp_path / "SST-2"
    d.mkdir()
    (d / "train.tsv").write_text("sentence\tlabel\n" + "\n".join(f"{t}\t{y}" for t, y in rows) + "\n")
    (d / "dev.tsv").write_text("sentence\tlabel\ngood fun film\t1\nawful dull plot\t0\ngreat film\t1\nbad plot\t0\n")
    return d, len(rows)


def _run(tmp_path, d, *extra):
    cfg = apply_overrides(load_recipe("sst2-gru"), [
        f"data.path={d}", f"out={tmp_path / 'runs'}", "data.val_fraction=0.3", "model.hidden_size=8",
        "model.embed_dim=8", "train.epochs=3", "train.batch_size=16", *extra])
    return run_config(cfg, quiet=True)


def test_refit_trains_on_every_labelled_row_and_keeps_the_training_only_vocabulary(tmp_path):
    d, n_rows = _phrased_sst2(tmp_path)
    plain = _run(tmp_path, d, "train.refit=false")
    refit = _run(tmp_path, d, "train.refit=true")
    m, m0 = (json.loads((r / "metrics.json").read_text()) for r in (refit, plain))
    sizes = m["data"]
    assert sizes["train"] + sizes["val"] < n_rows  # the phrases of validation sentences are withheld from training
    assert m["refit"]["rows"] == n_rows  # the refit takes them, the validation rows and the training rows
    assert m["refit"]["epochs"] == m["best_epoch"] >= 1
    assert m["train_seconds"] > sum(float(r) for r in _column(refit, "seconds"))  # both fits are counted
    assert any("refit" in n for n in m["notes"]) and m0["refit"] is None
    report = (refit / "report.md").read_text()
    assert "trained on training + validation rows" in report and "(train.refit)" in report
    assert "(train.refit)" not in (plain / "report.md").read_text()
    assert _column(refit, "val_accuracy") == _column(plain, "val_accuracy")  # the selection fit is the same one
    ck, ck0 = load_checkpoint(refit / "model.pt"), load_checkpoint(plain / "model.pt")
    assert ck["best_epoch"] == m["refit"]["epochs"]
    assert not all(torch.equal(v, ck0["state_dict"][k]) for k, v in ck["state_dict"].items())  # model.pt is the refit
    vocab = ck["preprocessing"]["state"]["vocab"]
    assert vocab == ck0["preprocessing"]["state"]["vocab"]  # fitted on the training part only
    assert sum(f"s{k}" in vocab for k in range(30)) < 30  # validation sentences' own words stay unknown


def _column(run, name):
    import csv

    with open(run / "history.csv") as f:
        return [r[name] for r in csv.DictReader(f)]


def test_refit_refuses_what_it_cannot_replay(tmp_path):
    d, _ = _phrased_sst2(tmp_path)
    with pytest.raises(ConfigError, match="plateau"):
        _run(tmp_path, d, "train.refit=true", "train.schedule=plateau")
    assert not (tmp_path / "runs").exists()  # refused before any work
    from corenets.config import from_dict

    cfg = from_dict({"name": "s", "engine": "scratch", "data": {"name": "digits"}, "model": {"name": "mlp"},
                     "train": {"refit": True}, "out": str(tmp_path / "runs")})
    with pytest.raises(ConfigError, match="refit"):
        run_config(cfg, quiet=True)


def test_an_interrupted_refit_keeps_the_selection_model_and_resumes(tmp_path, monkeypatch):
    import corenets.experiment_torch as ex
    from corenets.errors import Interrupted

    class CtrlC(StopAfter):  # Ctrl-C in the refit's first step, as GracefulInterrupt would record it
        def on_batch_end(self, state, batch, loss):
            state.interrupted = True

    d, n_rows = _phrased_sst2(tmp_path)
    monkeypatch.setattr(ex, "StopAfter", CtrlC)  # the torch engine builds the refit's callbacks
    with pytest.raises(Interrupted, match="in the refit.*resuming redoes the refit: corenets run --config"):
        _run(tmp_path, d, "train.refit=true")
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "model.pt").is_file() and not (run / "metrics.json").exists()  # the selection fit is kept
    monkeypatch.undo()
    from corenets.config import load_yaml

    done = run_config(load_yaml(run / "config.yaml"), resume=run, quiet=True)  # what the message says to run
    m = json.loads((done / "metrics.json").read_text())
    assert done == run and m["refit"]["rows"] == n_rows and m["refit"]["epochs"] == m["best_epoch"]
