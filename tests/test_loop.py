import math

import numpy as np
import pytest
import torch

from corenets.config import TrainConfig
from corenets.data.bundle import DataBundle, Split
from corenets.errors import ConfigError, TrainingError
from corenets.models import create_model
from corenets.train.callbacks import Callback, EarlyStopping, Monitor, resolve_mode
from corenets.train.loop import TrainState, fit, make_loss, predict_outputs
from corenets.train.optim import OPTIMIZERS, SCHEDULES


def blobs(n=240, task="multiclass", seed=0):
    """Three Gaussian blobs in 4-D: separable, so a working loop must learn them."""
    g = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = g.normal(size=(n, 4)) * 0.5 + np.eye(4)[y] * 3
    if task == "binary":
        y = (y > 0).astype(np.int64)
    xt = torch.tensor(x, dtype=torch.float32)
    if task == "regression":
        yt = torch.tensor(x[:, 0] * 2 - x[:, 1], dtype=torch.float32)
    else:
        yt = torch.tensor(y)
    a, b = int(n * 0.6), int(n * 0.8)
    classes = None if task == "regression" else ([str(i) for i in range(3)] if task == "multiclass" else ["0", "1"])
    return DataBundle(Split(xt[:a], yt[:a]), Split(xt[a:b], yt[a:b]), Split(xt[b:], yt[b:]), task, (4,), classes)


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_fit_learns_each_task(task):
    bundle = blobs(task=task)
    torch.manual_seed(0)
    model = create_model("mlp", (4,), bundle.num_outputs, hidden=[16])
    hist = fit(model, bundle, TrainConfig(epochs=15, batch_size=16, lr=0.01))
    assert len(hist.rows) == 15
    assert hist.rows[-1]["train_loss"] < hist.rows[0]["train_loss"] * 0.5
    if task == "regression":
        assert hist.rows[-1]["val_rmse"] < 0.5
    else:
        assert hist.rows[-1]["val_accuracy"] >= 0.95
    assert {"epoch", "lr", "seconds", "val_loss"} <= set(hist.rows[-1])


@pytest.mark.parametrize("optimizer", OPTIMIZERS.names())
@pytest.mark.parametrize("schedule", SCHEDULES.names())
def test_every_optimizer_and_schedule_trains(optimizer, schedule):
    bundle = blobs()
    torch.manual_seed(0)
    model = create_model("mlp", (4,), 3, hidden=[16])
    cfg = TrainConfig(epochs=6, batch_size=16, optimizer=optimizer, lr=0.01, schedule=schedule, step_size=2)
    hist = fit(model, bundle, cfg)
    assert hist.rows[-1]["val_accuracy"] > 0.8
    lrs = [r["lr"] for r in hist.rows]
    if schedule in ("step", "cosine", "onecycle"):
        assert lrs[-1] < max(lrs)  # the rate really moved


def test_same_seed_same_result_and_other_seed_differs():
    def run(seed):
        torch.manual_seed(0)
        model = create_model("mlp", (4,), 3, hidden=[16], dropout=0.2)
        fit(model, blobs(), TrainConfig(epochs=3, batch_size=16), seed=seed)
        return predict_outputs(model, blobs().test.x)

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


def test_resume_from_state_equals_uninterrupted():
    bundle = blobs()
    cfg = TrainConfig(epochs=6, batch_size=16, schedule="onecycle", lr=0.01)

    torch.manual_seed(0)
    full = create_model("mlp", (4,), 3, hidden=[16], dropout=0.2)
    fit(full, bundle, cfg, seed=3)

    saved = {}

    class Grab(Callback):
        order = 100

        def on_epoch_end(self, state, logs):
            if state.epoch == 2:
                saved.update(state.state_dict())
                state.stop("pretend the process died", error=False)

    torch.manual_seed(0)
    part = create_model("mlp", (4,), 3, hidden=[16], dropout=0.2)
    fit(part, bundle, cfg, [Grab()], seed=3)
    resumed = create_model("mlp", (4,), 3, hidden=[16], dropout=0.2)
    torch.manual_seed(123)  # the global RNG is restored from the state, not from here
    del saved["callbacks"]["Grab"]  # callbacks are matched by name; Grab is not passed again
    hist = fit(resumed, bundle, cfg, seed=3, resume=saved)
    assert [r["epoch"] for r in hist.rows] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(full.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_nan_loss_stops_naming_epoch_and_batch():
    bundle = blobs()
    bundle.train.x[50] = float("nan")
    model = create_model("mlp", (4,), 3, hidden=[8])
    with pytest.raises(TrainingError, match=r"became nan at epoch 1, batch \d+"):
        fit(model, bundle, TrainConfig(epochs=3, batch_size=16))


def test_early_stopping_stops_and_restores_best():
    bundle = blobs()
    torch.manual_seed(0)
    model = create_model("mlp", (4,), 3, hidden=[16])
    es = EarlyStopping("val_loss", patience=2, min_delta=10.0)  # nothing counts as an improvement after epoch 1
    hist = fit(model, bundle, TrainConfig(epochs=20, batch_size=16), [es])
    assert len(hist.rows) == 3 and es.stopped_epoch == 3
    assert "early stopping" in hist.stopped
    assert es.tracker.best_epoch == 1


def test_monitor_modes_and_unknown_column():
    assert resolve_mode("val_loss", "auto") == "min" and resolve_mode("val_accuracy", "auto") == "max"
    m = Monitor("val_accuracy")
    assert m.improved({"epoch": 1, "val_accuracy": 0.5})
    assert not m.improved({"epoch": 2, "val_accuracy": 0.4})
    assert not m.improved({"epoch": 3, "val_accuracy": math.nan})
    with pytest.raises(ConfigError, match="train.monitor='val_f1' is not recorded; choose one of"):
        Monitor("val_f1").improved({"epoch": 1, "val_loss": 1.0})


def test_loss_must_fit_the_task():
    with pytest.raises(ConfigError, match="does not fit a regression task"):
        make_loss("regression", TrainConfig(loss="cross_entropy"))
    loss = make_loss("multiclass", TrainConfig(label_smoothing=0.1))
    assert loss(torch.tensor([[10.0, -10.0]]), torch.tensor([0])).item() > 0.05  # smoothing keeps a floor


def test_a_lone_last_row_is_dropped_so_batch_norm_never_sees_a_batch_of_one():
    bundle = blobs(n=170)  # 102 training rows: batches of 101 leave one row over
    model = create_model("mlp", (4,), 3, hidden=[8], batch_norm=True)
    fit(model, bundle, TrainConfig(epochs=1, batch_size=101))


def test_train_state_round_trips_through_weights_only_load(tmp_path):
    bundle = blobs()
    model = create_model("mlp", (4,), 3, hidden=[8])
    grabbed = {}

    class Grab(Callback):
        def on_train_end(self, state):
            grabbed["s"] = state.state_dict()

    fit(model, bundle, TrainConfig(epochs=1, schedule="cosine"), [Grab()])
    torch.save(grabbed["s"], tmp_path / "s.pt")
    back = torch.load(tmp_path / "s.pt", weights_only=True)
    assert back["epoch"] == 1 and isinstance(back["generator"], torch.Tensor)
    assert isinstance(TrainState, type)


@pytest.mark.parametrize("lr", [0.0, -1.0, float("nan"), float("inf")])
def test_learning_rate_must_be_positive_and_finite(lr):
    model = create_model("mlp", (4,), 3, hidden=[8])
    with pytest.raises(ConfigError, match="positive, finite"):
        fit(model, blobs(), TrainConfig(epochs=1, lr=lr))


def test_tensorboard_logs_or_says_which_extra_to_install(tmp_path):
    import importlib.util

    from corenets.train.callbacks import TensorBoard

    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(ConfigError, match=r"pip install 'corenets\[tensorboard\]'"):
            TensorBoard(str(tmp_path / "tb"))
        return
    model = create_model("mlp", (4,), 3, hidden=[8])
    fit(model, blobs(), TrainConfig(epochs=2), [TensorBoard(str(tmp_path / "tb"))])
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
