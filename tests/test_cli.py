"""End to end through corenets.cli.main, in-process (STYLE.md rule 13)."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import torch

from corenets import cli

FAST = ["--epochs", "3", "--quiet"]


def run_ok(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def run_fails(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("corenets: error: "), err
    assert "Traceback" not in err
    return lines[0]


def folder_of(out: str):
    from pathlib import Path

    return Path(re.search(r"report: (.*)/report.html", out).group(1))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert cli.main(["run", "quickstart", "--out", str(out), *FAST]) == 0
    (run,) = out.iterdir()
    return run


def test_quickstart_run_folder_holds_everything(quick_run):
    names = {p.name for p in quick_run.iterdir()}
    assert {"config.yaml", "model.pt", "last.pt", "history.csv", "metrics.json", "summary.txt", "plots", "report.md",
            "report.html"} <= names
    assert {p.name for p in (quick_run / "plots").iterdir()} >= {"curves.png", "confusion.png", "roc.png"}
    m = json.loads((quick_run / "metrics.json").read_text())
    assert m["test"]["accuracy"] > 0.85 and m["test"]["baseline"]["accuracy"] < 0.2
    assert {"train_seconds", "parameters", "versions", "seed", "device", "best_epoch"} <= set(m)
    assert m["versions"]["torch"] == torch.__version__
    assert len(pd.read_csv(quick_run / "history.csv")) == 3
    html = (quick_run / "report.html").read_text()
    pngs = list((quick_run / "plots").glob("*.png"))
    assert html.count("data:image/png;base64,") == len(pngs) >= 3  # every plot embedded: opens offline
    assert "src=\"http" not in html and "plots/" not in html
    assert "parameters: " in (quick_run / "summary.txt").read_text()


def test_config_yaml_repeats_the_run_exactly(quick_run, tmp_path, capsys):
    out = run_ok(capsys, "run", "--config", str(quick_run / "config.yaml"), "--out", str(tmp_path), "--quiet")
    again = json.loads((folder_of(out) / "metrics.json").read_text())
    first = json.loads((quick_run / "metrics.json").read_text())
    assert again["test"]["accuracy"] == first["test"]["accuracy"]
    assert again["test"]["confusion_matrix"] == first["test"]["confusion_matrix"]


def test_list_commands(capsys):
    out = run_ok(capsys, "list", "recipes")
    assert re.search(r"^quickstart\s+digits", out, re.M) and "breast-cancer-ann" in out
    assert "mlp" in run_ok(capsys, "list", "models")
    assert "csv_table" in run_ok(capsys, "list", "datasets")
    assert "onecycle" in run_ok(capsys, "list", "schedules")


def make_csv(path, n=120, seed=0):
    g = np.random.default_rng(seed)
    x1, x2 = g.normal(size=n), g.normal(size=n)
    df = pd.DataFrame({"x1": x1, "x2": x2, "kind": g.choice(["a", "b"], n),
                       "label": np.where(x1 + x2 > 0, "up", "down")})
    df.to_csv(path, index=False)
    return df


def test_own_csv_train_predict_evaluate_compare(tmp_path, capsys):
    df = make_csv(tmp_path / "my.csv")
    out = run_ok(capsys, "run", "--data", "csv_table", "--set", f"data.path={tmp_path / 'my.csv'}", "data.target=label",
                 "--model", "mlp", "--out", str(tmp_path / "runs"), "--epochs", "20", "--quiet")
    run = folder_of(out)
    assert run.name.startswith("csv_table-mlp-")
    df.drop(columns=["label"]).head(5).to_csv(tmp_path / "new.csv", index=False)
    table = run_ok(capsys, "predict", str(run), str(tmp_path / "new.csv"))
    assert "prediction" in table and "p(up)" in table and len(table.strip().splitlines()) == 6
    run_ok(capsys, "predict", str(run), str(tmp_path / "new.csv"), "--out", str(tmp_path / "pred.csv"))
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert list(pred.columns) == ["prediction", "p(down)", "p(up)"]
    assert np.allclose(pred[["p(down)", "p(up)"]].sum(axis=1), 1)
    expected = np.where(df.x1 + df.x2 > 0, "up", "down")[:5]
    assert (pred.prediction.to_numpy() == expected).mean() >= 0.8
    df.drop(columns=["label", "kind"]).to_csv(tmp_path / "wrong.csv", index=False)
    msg = run_fails(capsys, "predict", str(run), str(tmp_path / "wrong.csv"))
    assert "lacks the training column(s) ['kind']" in msg
    assert "accuracy" in run_ok(capsys, "evaluate", str(run))
    out2 = run_ok(capsys, "run", "--config", str(run / "config.yaml"), "--set", "model.hidden=[8]", "--out",
                  str(tmp_path / "runs"), "--quiet")
    table = run_ok(capsys, "compare", str(run), str(folder_of(out2)), "--out", str(tmp_path / "cmp"))
    assert table.count("csv_table-mlp-") == 2 and "parameters" in table and "majority class" in table
    assert (tmp_path / "cmp" / "compare_val_accuracy.png").is_file()


def test_cross_validation_reports_mean_and_std(tmp_path, capsys):
    out = run_ok(capsys, "run", "breast-cancer-ann", "--cv", "3", "--out", str(tmp_path), *FAST)
    assert re.search(r"accuracy 0\.\d+ ± 0\.\d+", out)
    parent = folder_of(out)
    m = json.loads((parent / "metrics.json").read_text())
    assert m["cv"] == 3 and len(m["test"]["accuracy"]["folds"]) == 3
    folds = sorted(p for p in parent.iterdir() if p.name.startswith("fold-"))
    assert [p.name.split("-")[1] for p in folds] == ["1", "2", "3"]
    assert all((p / "model.pt").is_file() and (p / "report.html").is_file() for p in folds)
    fold_acc = [json.loads((p / "metrics.json").read_text())["test"]["accuracy"] for p in folds]
    assert m["test"]["accuracy"]["mean"] == pytest.approx(np.mean(fold_acc))
    assert "± " in (parent / "report.md").read_text()


def test_resume_after_an_interruption_equals_an_uninterrupted_run(tmp_path, capsys, monkeypatch):
    args = ["run", "quickstart", "--epochs", "4", "--seed", "5", "--quiet"]
    full = folder_of(run_ok(capsys, *args, "--out", str(tmp_path / "full")))

    import corenets.train.loop as loop

    real, calls = loop.evaluate_epoch, {"n": 0}

    def dies_in_epoch_3(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the process is interrupted after epoch 2's checkpoint
        return real(*a, **k)

    monkeypatch.setattr(loop, "evaluate_epoch", dies_in_epoch_3)
    assert cli.main([*args, "--out", str(tmp_path / "cut")]) == 130
    monkeypatch.setattr(loop, "evaluate_epoch", real)
    capsys.readouterr()
    (cut,) = (tmp_path / "cut").iterdir()
    assert len(pd.read_csv(cut / "history.csv")) == 2 and not (cut / "metrics.json").exists()
    run_ok(capsys, "run", "quickstart", "--resume", str(cut), "--epochs", "4", "--seed", "5", "--quiet")
    a, b = (json.loads((f / "metrics.json").read_text()) for f in (full, cut))
    assert a["test"] == b["test"]
    assert pd.read_csv(full / "history.csv").drop(columns="seconds").equals(
        pd.read_csv(cut / "history.csv").drop(columns="seconds"))


def test_regression_csv_reports_in_the_users_units(tmp_path, capsys):
    g = np.random.default_rng(0)
    x = g.uniform(0, 10, 200)
    pd.DataFrame({"x": x, "price": 1000 + 50 * x + g.normal(0, 5, 200)}).to_csv(tmp_path / "r.csv", index=False)
    out = run_ok(capsys, "run", "--data", "csv_table", "--set", f"data.path={tmp_path / 'r.csv'}", "data.target=price",
                 "--out", str(tmp_path / "runs"), "--epochs", "60", "--quiet")
    assert "rmse" in out and "baseline" in out
    run = folder_of(out)
    m = json.loads((run / "metrics.json").read_text())
    assert m["task"] == "regression"
    assert m["test"]["rmse"] < 0.5 * m["test"]["baseline"]["rmse"]  # far better than the mean predictor
    assert (run / "plots" / "predicted_vs_actual.png").is_file()
    pd.DataFrame({"x": [2.0, 8.0]}).to_csv(tmp_path / "new.csv", index=False)
    run_ok(capsys, "predict", str(run), str(tmp_path / "new.csv"), "--out", str(tmp_path / "p.csv"))
    pred = pd.read_csv(tmp_path / "p.csv")["prediction"].to_numpy()
    assert abs(pred[0] - 1100) < 60 and abs(pred[1] - 1400) < 60  # in prices, not standardised units


@pytest.mark.parametrize("argv,message", [
    (["run", "nope"], "unknown recipe 'nope'; choose one of: "),
    (["run", "quickstart", "--set", "train.lrr=1"], "unknown key train.lrr; did you mean 'train.lr'? valid keys are: "),
    (["run", "quickstart", "--set", "model.hidden=wide"], "model.hidden='wide' is not valid; expected a list of int"),
    (["run", "--data", "nope"], "unknown dataset 'nope'; choose one of: "),
    (["run", "quickstart", "--model", "nope"], "unknown model 'nope'; choose one of: "),
    (["run", "--data", "csv_table", "--set", "data.path=/no/such.csv", "data.target=y"], "does not exist"),
    (["run"], "name a recipe"),
])
def test_bad_input_is_one_clear_line_and_leaves_no_folder(tmp_path, capsys, argv, message):
    msg = run_fails(capsys, *argv, "--out", str(tmp_path / "runs"))
    assert message in msg
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_unwritable_output_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    msg = run_fails(capsys, "run", "quickstart", "--out", str(tmp_path / "file" / "runs"), *FAST)
    assert "is not writable" in msg and "--out" in msg


def test_resume_refuses_non_runs_and_other_configs(quick_run, tmp_path, capsys):
    assert "not a corenets run" in run_fails(capsys, "run", "quickstart", "--resume", str(tmp_path))
    msg = run_fails(capsys, "run", "quickstart", "--resume", str(quick_run), "--set", "model.hidden=[8]", *FAST)
    assert "different config" in msg and "model.hidden" in msg


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(Exception, match="unknown recipe"):
        cli.main(["--debug", "run", "nope"])


def test_python_api(tmp_path):
    import corenets as cn

    from sklearn.datasets import load_digits

    run = cn.run_recipe("quickstart", "train.batch_size=64", epochs=5, out=str(tmp_path), quiet=True)
    loaded = cn.load_run(run)
    raw = load_digits()
    with pytest.raises(cli.CorenetsError, match="ambiguous"):
        loaded.predict(raw.images[:200])  # a float array does not say its units (0..16 here)
    pred = loaded.predict(raw.images[:200], units="dataset")  # the run redoes the training normalisation
    assert pred.proba.shape == (200, 10) and np.allclose(pred.proba.sum(1), 1)
    assert np.mean(np.array(pred.labels) == raw.target[:200].astype(str)) > 0.9
    assert pred.top_k(2)[0][0][1] >= pred.top_k(2)[0][1][1]
    assert "quickstart" in cn.list_recipes() and "mlp" in cn.list_models() and "digits" in cn.list_datasets()


def test_predict_scores_like_the_test_metrics_when_the_run_used_flip_tta(tmp_path, monkeypatch):
    import corenets as cn
    from corenets import preflight
    from corenets.train.augment import FlipTTA

    # digits is not mirror-safe, so preflight refuses flip TTA on it (tests/test_validation.py); this test is about
    # predict honouring a run's TTA, on the one image dataset that needs no download, so that check steps aside
    monkeypatch.setattr(preflight, "check_augment", lambda augment, tta, bundle: None)
    run = cn.run_recipe("quickstart", "train.tta=flip", epochs=1, out=str(tmp_path), quiet=True)
    loaded = cn.load_run(run)
    assert isinstance(loaded.scorer, FlipTTA)
    from sklearn.datasets import load_digits

    images = load_digits().images[:20]
    x = loaded.preprocessing.transform(images)
    with torch.no_grad():
        plain = torch.softmax(loaded.model.eval()(x), 1).numpy()
    assert not np.allclose(loaded.predict(images, units="dataset").proba, plain)  # the mirrored view is averaged in
