"""The strong classical baseline beside every score (evaluate/baselines.py) and its `report:` switch."""

from __future__ import annotations

import json

import numpy as np
import pytest

from corenets.config import RunConfig, apply_overrides, dump_yaml
from corenets.data import SplitSpec, load_dataset
from corenets.errors import ConfigError
from corenets.evaluate import baselines
from corenets.record import describe

SPEC = SplitSpec(seed=0, val_fraction=0.1, test_fraction=0.2)


def test_report_classical_baseline_is_on_by_default_and_set_turns_it_off():
    assert RunConfig().report.classical_baseline is True
    cfg = apply_overrides(RunConfig(), ["report.classical_baseline=false"])
    assert cfg.report.classical_baseline is False
    assert "classical_baseline: false" in dump_yaml(cfg)
    assert "classical_baseline" not in describe(cfg)  # how the run is reported, not what it is
    with pytest.raises(ConfigError, match="report.classical_baselin"):
        apply_overrides(RunConfig(), ["report.classical_baselin=false"])


# ------------------------------------------------------------------ one per input kind, on the same rows


def _review_csv(tmp_path, n=400):
    """Sentiment carried by two-word phrases ('not good' is negative): word 1-2-grams see it, unigrams half do."""
    rng = np.random.default_rng(0)
    rows = ["text,label"]
    for i in range(n):
        y = i % 2
        phrase = ["not good", "truly good"][y] if rng.random() < 0.5 else ["dull plot", "fine acting"][y]
        filler = " ".join(rng.choice(["the", "film", "a", "was", "and", "it", "story"], 4))
        rows.append(f"{filler} {phrase} {filler},{y}")
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_text_gets_tfidf_bigrams_with_logistic_regression_on_the_same_rows(tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    bundle = load_dataset("text_csv", SPEC, path=str(_review_csv(tmp_path)))
    out = baselines.classical_baseline(bundle, train_seconds=100.0)
    assert baselines.family_of(bundle) == "tokens" and out["name"].startswith("TF-IDF word 1-2-grams")
    assert out["rows"] == out["of_rows"] == len(bundle.train) and out["note"] == ""
    # the same model by hand, on the same training and test rows
    docs = lambda s: [" ".join(map(str, r[r != 0].tolist())) for r in s.x.numpy()]  # noqa: E731
    ref = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", sublinear_tf=True),
                        LogisticRegression(C=4.0, max_iter=1000)).fit(docs(bundle.train), bundle.train.y.numpy())
    acc = float(np.mean(ref.predict(docs(bundle.test)) == bundle.test.y.numpy()))
    assert out["metrics"]["accuracy"] == pytest.approx(acc) and acc > 0.95  # "not good" needs the bigram


def test_tables_get_gradient_boosting_and_series_a_linear_autoregression():
    from sklearn.linear_model import Ridge

    from corenets.evaluate.forecast import forecast_metrics, price_forecasts

    table = load_dataset("breast_cancer", SPEC)
    out = baselines.classical_baseline(table, train_seconds=100.0)
    assert out["name"].startswith("gradient-boosted trees") and out["metrics"]["accuracy"] > 0.9
    seq = load_dataset("breast_cancer", SPEC, as_sequence="features")  # the LSTM's view of the same table
    assert baselines.family_of(seq) == "table"

    series = load_dataset("price_csv", SPEC, target="log_returns", window=10)
    out = baselines.classical_baseline(series, train_seconds=100.0)
    flat = lambda s: s.x.numpy().reshape(len(s), -1)  # noqa: E731
    pred = Ridge(alpha=1.0).fit(flat(series.train), series.train.y.numpy()).predict(flat(series.test))
    test = price_forecasts(pred, series, "test")
    ref = forecast_metrics(test["truth"], test["pred"], test["base"])
    assert out["key"] == "rmse" and out["metrics"]["rmse"] == pytest.approx(ref["rmse"])  # prices, like the network's
    assert 0.5 < out["metrics"]["rmse"] / ref["baseline"]["rmse"] < 1.5  # beside persistence, in the same units


def test_images_get_pixel_logistic_regression_subsampled_within_the_budget(monkeypatch):
    digits = load_dataset("digits", SPEC)
    monkeypatch.setattr(baselines, "PILOT_ROWS", 200)
    monkeypatch.setattr(baselines, "MIN_SECONDS", 0.0)
    out = baselines.classical_baseline(digits, train_seconds=0.0)  # no time to spare: the pilot fit only
    assert out["name"] == "logistic regression on the pixels"
    assert out["rows"] == 200 and out["of_rows"] == len(digits.train)
    assert "fitted on 200 of the 1,294 training rows" in out["note"]
    assert out["metrics"]["accuracy"] > 0.8


def test_compare_to_warns_plainly_when_the_network_loses():
    c = {"name": "logistic regression on the pixels", "key": "accuracy", "metrics": {"accuracy": 0.96}}
    assert baselines.compare_to(c, {"accuracy": 0.97})["beaten"] is True
    lost = baselines.compare_to(c, {"accuracy": 0.90})
    assert lost["beaten"] is False and "does not beat a plain logistic regression" in lost["warning"]
    r = {"name": "linear autoregression", "key": "rmse", "metrics": {"rmse": 2.0}}
    assert baselines.compare_to(r, {"rmse": 1.0})["beaten"] is True  # lower is better
    folds = baselines.over_folds([{**c, "fit_seconds": 1.0, "rows": 10, "of_rows": 10, "note": ""},
                                  {**c, "metrics": {"accuracy": 0.98}, "fit_seconds": 2.0, "rows": 10, "of_rows": 10,
                                   "note": ""}], {"accuracy": {"mean": 0.975, "std": 0.01}})
    assert folds["metrics"]["accuracy"]["mean"] == pytest.approx(0.97) and folds["fit_seconds"] == 3.0
    assert folds["beaten"] is True


# ------------------------------------------------------------------ end to end: summary line, report, metrics.json


def _digits_run(tmp_path, *extra):
    from corenets.config import apply_overrides
    from corenets.experiment import run_config, summary_line
    from corenets.recipes import load_recipe

    cfg = apply_overrides(load_recipe("quickstart"), ["train.epochs=1", "train.lr=0.00001", f"out={tmp_path}",
                                                      *extra])
    run = run_config(cfg, quiet=True)
    return run, json.loads((run / "metrics.json").read_text()), summary_line(run)


def test_a_run_shows_its_classical_baseline_and_warns_when_it_loses(tmp_path):
    run, m, line = _digits_run(tmp_path)  # 1 epoch at lr 1e-5: far below logistic regression's ~0.96
    c = m["classical"]
    assert c["name"] == "logistic regression on the pixels" and c["beaten"] is False
    assert c["fit_seconds"] > 0 and m["train_seconds"] > 0  # counted apart from training
    assert "; classical baseline (logistic regression on the pixels): accuracy 0.9" in line
    assert "does not beat a plain logistic regression" in line and c["warning"] in m["warnings"]
    md = (run / "report.md").read_text()
    assert "| classical: logistic regression on the pixels |" in md and "does NOT beat it" in md
    assert "Warning: The network does not beat" in md


def test_report_classical_baseline_false_leaves_it_out(tmp_path):
    run, m, line = _digits_run(tmp_path, "report.classical_baseline=false")
    assert m["classical"] is None and "classical" not in line
    assert "classical:" not in (run / "report.md").read_text() and "Classical baseline" not in (run / "report.md").read_text()


def test_compare_shows_each_runs_classical_baseline(tmp_path):
    from corenets.compare import compare_runs

    def finished(name, classical):
        run = tmp_path / name
        run.mkdir()
        (run / "metrics.json").write_text(json.dumps({"task": "multiclass", "test": {"accuracy": 0.9},
                                                      "classical": classical}))
        return run

    c = {"name": "logistic regression on the pixels", "key": "accuracy", "metrics": {"accuracy": 0.95},
         "beaten": False, "fit_seconds": 0.2, "note": None}  # every field a run writes: record.py checks them
    text = compare_runs([finished("a", c), finished("b", None)], tmp_path)
    assert text.splitlines()[0].endswith("| classical baseline |")
    assert "| accuracy 0.9500, logistic regression on the pixels (NOT beaten) |" in text
    assert text.splitlines()[3].endswith("| off |")  # run b turned it off (report.classical_baseline=false)
