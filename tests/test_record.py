"""The run record (record.py): versioned model spec and metrics.json, the description from the resolved config,
old run folders still loading, and the experiment's order (every check before the first write)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from corenets import record
from corenets.cli import main
from corenets.config import apply_overrides
from corenets.errors import ConfigError, RunFolderError
from corenets.recipes import load_recipe

sys.path.insert(0, str(Path(__file__).parent))
from tiny_runs import image_run  # noqa: E402

FORMAT_1_METRICS = {  # what the previous release wrote for a quickstart run (no "format" key)
    "recipe": "quickstart", "description": "digits with an MLP", "task": "multiclass",
    "test": {"n": 360, "accuracy": 0.97, "baseline": {"name": "most frequent", "accuracy": 0.1}},
    "best_epoch": 9, "epochs_run": 10, "monitor": "val_loss", "stopped": None, "train_seconds": 1.5,
    "wall_seconds": 2.0, "refit": None, "parameters": 50000, "members": 1, "seed": 0, "device": "cpu",
    "threads": 2, "batch_size": {"per_process": 32}, "data": {"dataset": "digits", "train": 1000},
    "versions": {"corenets": "0.1.0"}, "finished": "2026-01-02T03:04:05", "notes": [], "an_old_key": 7,
}


def test_a_format_1_metrics_file_loads_and_round_trips(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps(FORMAT_1_METRICS))
    m = record.read_metrics(tmp_path)
    assert m.format == 1 and m.task == "multiclass" and m.test["accuracy"] == 0.97 and m.best_epoch == 9
    assert m.engine == "torch" and m.cv == 0 and m.extra == {"an_old_key": 7}
    record.write_metrics(tmp_path, m)  # e.g. `corenets evaluate` rewriting it
    again = json.loads((tmp_path / "metrics.json").read_text())
    assert again["format"] == record.METRICS_FORMAT and again["an_old_key"] == 7 and again["best_epoch"] == 9


def test_a_minimal_metrics_file_gets_defaults(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"task": "binary", "test": {"accuracy": 0.5}}))
    m = record.read_metrics(tmp_path)
    assert (m.description, m.members, m.parameters, m.notes) == ("", 1, 0, [])


def test_missing_damaged_foreign_and_newer_metrics_are_one_line_errors(tmp_path):
    with pytest.raises(RunFolderError, match="no metrics.json: the run did not finish"):
        record.read_metrics(tmp_path)
    assert record.read_metrics(tmp_path, missing_ok=True) is None
    (tmp_path / "metrics.json").write_text("{not json")
    with pytest.raises(RunFolderError, match="cannot be read") as e:
        record.read_metrics(tmp_path)
    assert "\n" not in str(e.value)
    (tmp_path / "metrics.json").write_text(json.dumps({"accuracy": 1}))
    with pytest.raises(RunFolderError, match="not a corenets metrics file"):
        record.read_metrics(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps({"task": "binary", "test": {}, "format": 99}))
    with pytest.raises(RunFolderError, match="newer corenets"):
        record.read_metrics(tmp_path)


def test_model_spec_format_1_loads_and_format_2_keeps_facts():
    old = {"format_version": 1, "corenets_version": "0.1.0", "recipe": "r", "model": {"name": "mlp", "options": {}},
           "input_shape": [4], "num_outputs": 3, "task": "multiclass", "classes": ["a", "b", "c"],
           "preprocessing": {"kind": "identity"}, "meta": {}, "best_epoch": 2}
    spec = record.ModelSpec.from_dict(old)
    assert spec.facts == {} and spec.model["members"] == 1 and spec.format_version == 1
    new = record.ModelSpec.from_dict({**old, "format_version": 2, "facts": {"vocab_size": 12}, "tta": "flip"})
    assert new.facts == {"vocab_size": 12} and record.tta_of(new) == "flip"
    assert record.ModelSpec.from_dict(new.to_dict()) == new
    from corenets.errors import CheckpointError

    with pytest.raises(CheckpointError, match="lacks input_shape"):
        record.ModelSpec.from_dict({k: v for k, v in old.items() if k != "input_shape"})


def test_flip_tta_is_decided_by_one_function(tmp_path):
    from corenets.train.augment import FlipTTA

    net = torch.nn.Linear(2, 2)
    assert isinstance(record.scorer(net, "flip"), FlipTTA) and record.scorer(net, "none") is net
    # a format-1 model.pt has no tta: the run folder's config.yaml says
    assert record.tta_of({}, tmp_path) == "none"
    (tmp_path / "config.yaml").write_text("name: x\ntrain:\n  tta: flip\n")
    assert record.tta_of({}, tmp_path) == "flip" and record.tta_of({"tta": "none"}, tmp_path) == "none"


def test_an_old_run_folder_loads_and_predicts(tmp_path):
    from corenets.runs import load_run

    run = image_run(tmp_path, model="seed_cnn", shape=(1, 28, 28))  # a model.pt with no facts and no tta
    spec = torch.load(run / "model.pt", weights_only=True)
    spec["format_version"] = 1
    torch.save(spec, run / "model.pt")
    loaded = load_run(run)
    assert loaded.metrics.test["accuracy"] == 0.5 and loaded.scorer is loaded.model


def test_the_description_follows_the_resolved_config():
    cfg = load_recipe("fashion-mnist-cnn")
    assert "10 epochs" in cfg.description  # the recipe's own text states its length
    plain = record.describe(cfg)
    assert plain.startswith(cfg.description.rstrip(".")) and "10 epochs" in plain
    short = record.describe(apply_overrides(cfg, ["train.epochs=1"]))
    assert "10 epochs" not in short and "1 epoch;" in short and "train.epochs=1" in short
    assert "seed_cnn" in short and "adam lr 0.001" in short
    # where/how fast a run goes does not change what it is
    assert record.describe(apply_overrides(cfg, ["seed=3", "threads=1", "data.path=/data/fmnist"])) == plain
    custom = apply_overrides(cfg, ["name=mine", "description=my own words", "train.epochs=2"])
    assert record.describe(custom).startswith("my own words. seed_cnn")


def _quick(tmp_path, *extra):
    return ["run", "quickstart", "--epochs", "1", "--quiet", "--out", str(tmp_path / "runs"), *extra]


def test_a_run_records_format_2_and_its_description(tmp_path, capsys):
    assert main(_quick(tmp_path)) == 0
    (run,) = (tmp_path / "runs").iterdir()
    m = json.loads((run / "metrics.json").read_text())
    assert m["format"] == record.METRICS_FORMAT and "1 epoch;" in m["description"] and "tta" in m
    spec = torch.load(run / "model.pt", weights_only=True)
    assert spec["format_version"] == record.SPEC_FORMAT and "facts" in spec and spec["tta"] == "none"
    assert "1 epoch;" in (run / "report.md").read_text()
    # --resume on the finished run: one line saying so, and how to train longer
    capsys.readouterr()
    assert main(_quick(tmp_path, "--resume", str(run))) == 2
    err = capsys.readouterr().err
    assert "is finished" in err and "--epochs N" in err and len(err.strip().splitlines()) == 1


def test_compare_names_and_skips_unfinished_folders(tmp_path, capsys):
    a = image_run(tmp_path, name="done-a")
    b = image_run(tmp_path, name="done-b")
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "config.yaml").write_text("name: quickstart\n")
    assert main(["compare", str(a), str(cut), str(b), "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "done-a" in out and "done-b" in out and "skipped, unfinished (no metrics.json): cut" in out
    assert main(["compare", str(cut)]) == 2
    assert "none of these runs finished" in capsys.readouterr().err


@pytest.mark.parametrize("cv", [0, 3])
def test_a_failed_pre_run_check_leaves_nothing_on_disk(tmp_path, monkeypatch, cv):
    from corenets import preflight
    from corenets.experiment import run_config

    seen = {}

    def refuse(cfg, bundle, device):
        seen["checked"] = True
        raise ConfigError("refused by the pre-run check")

    monkeypatch.setattr(preflight, "check_before_run", refuse)
    cfg = apply_overrides(load_recipe("breast-cancer-ann"), ["train.epochs=1", f"cv={cv}",
                                                             f"out={tmp_path / 'runs'}"])
    with pytest.raises(ConfigError, match="refused"):
        run_config(cfg, quiet=True)
    assert seen and not any((tmp_path / "runs").rglob("*"))  # not even the cross-validation parent


def test_both_engines_offer_the_same_interface():
    from corenets.engines import Engine
    from corenets.experiment_scratch import ScratchEngine
    from corenets.experiment_torch import TorchEngine

    needed = [n for n in dir(Engine) if not n.startswith("_")] + list(Engine.__annotations__)
    for engine in (TorchEngine, ScratchEngine):
        missing = [n for n in needed if not hasattr(engine, n) and n not in ("device", "is_main")]
        assert not missing, f"{engine.__name__} lacks {missing}"


def test_last_pt_matches_callbacks_by_name_not_position():
    from test_loop import blobs

    from corenets.config import TrainConfig
    from corenets.errors import CheckpointError
    from corenets.models import create_model
    from corenets.train.callbacks import Callback, EarlyStopping
    from corenets.train.loop import fit

    saved = {}

    class Grab(Callback):
        order = 100

        def on_epoch_end(self, state, logs):
            saved.update(state.state_dict())
            state.stop("pretend the process died", error=False)

    cfg = TrainConfig(epochs=3, batch_size=32)
    fit(create_model("mlp", (4,), 3, hidden=[8]), blobs(), cfg, [EarlyStopping(patience=2), Grab()], seed=1)
    assert {"History", "NaNGuard", "EarlyStopping"} <= set(saved["callbacks"])
    del saved["callbacks"]["Grab"]
    with pytest.raises(CheckpointError, match="EarlyStopping"):  # resumed without early stopping: said, not misloaded
        fit(create_model("mlp", (4,), 3, hidden=[8]), blobs(), cfg, seed=1, resume=dict(saved))
    hist = fit(create_model("mlp", (4,), 3, hidden=[8]), blobs(), cfg, [EarlyStopping(patience=2)], seed=1,
               resume=dict(saved))
    assert [r["epoch"] for r in hist.rows] == [1, 2, 3]


def test_a_saved_run_predicts_with_its_own_eval_batch_size(tmp_path):
    from corenets.config import TrainConfig

    assert record.eval_batch_size(tmp_path) == TrainConfig.eval_batch_size  # no config.yaml: the default
    (tmp_path / "config.yaml").write_text("name: x\ntrain:\n  eval_batch_size: 7\n")
    assert record.eval_batch_size(tmp_path) == 7
