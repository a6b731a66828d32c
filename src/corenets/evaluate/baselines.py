"""A strong classical baseline beside every score: one scikit-learn model on the same rows the network saw.

The trivial baseline (majority class, mean, persistence) says whether a model learned anything; this one says
whether a network was worth it. It is fitted on the same training rows (as the network reads them: token ids,
standardised pixels, encoded table columns, standardised windows) and scored on the same test rows:

    tokens   TF-IDF of word 1-2-grams + logistic regression (the token ids are the words; <pad> dropped)
    pixels   logistic regression on the pixels
    table    HistGradientBoosting (classifier or regressor)
    series   a linear autoregression (ridge) on the same window, scored in prices beside persistence

The input kind says which (its `classical_baseline` attribute; a kind without one is a table). Its fit time is
counted apart from training and kept to about 10% of it: a pilot fit on PILOT_ROWS rows times the model, and the
final fit uses as many rows as the rest of the budget allows, saying so when that is fewer than all of them.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Callable

import numpy as np

from . import metrics as M

SHARE = 0.10  # of the training time
MIN_SECONDS = 2.0  # below this a budget is noise: a run of a few seconds still gets a real baseline
PILOT_ROWS = 1000
NAMES = {"tokens": "TF-IDF word 1-2-grams + logistic regression", "pixels": "logistic regression on the pixels",
         "table": "gradient-boosted trees (HistGradientBoosting)", "series": "linear autoregression on the same window"}


def _tokens(x: np.ndarray) -> list[str]:
    """Token-id rows (N, T) or (N, T, slots) -> one 'document' of id words per row, padding (id 0) dropped."""
    ids = x[..., 0] if x.ndim == 3 else x
    return [" ".join(str(t) for t in row[row != 0]) for row in ids]


def _classifier(family: str, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    if family == "tokens":
        return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", sublinear_tf=True),
                             LogisticRegression(C=4.0, max_iter=1000))
    if family == "pixels":
        return LogisticRegression(C=0.1, max_iter=200)
    return HistGradientBoostingClassifier(random_state=seed)


def _features(family: str, x: np.ndarray) -> Any:
    return _tokens(x) if family == "tokens" else x.reshape(len(x), -1)


def _fit_within(make: Callable[[], Any], x: Any, y: np.ndarray, budget: float, seed: int) -> tuple[Any, int, float]:
    """(model, rows used, seconds): a pilot fit on PILOT_ROWS rows, then the most rows the budget's rest allows."""
    n = len(y)
    order = np.random.default_rng(seed).permutation(n)
    pick = lambda k: ([x[i] for i in order[:k]] if isinstance(x, list) else x[order[:k]], y[order[:k]])  # noqa: E731
    t0 = time.perf_counter()
    rows = min(n, PILOT_ROWS)
    model = make().fit(*pick(rows))
    pilot = time.perf_counter() - t0
    if rows < n:
        more = int(rows * (budget - pilot) / max(pilot, 1e-3))  # fit time grows about linearly in rows
        if more > 1.5 * rows:
            rows = min(n, more)
            model = make().fit(*pick(rows))
    return model, rows, time.perf_counter() - t0


def _classify(bundle, family: str, budget: float, seed: int) -> tuple[dict[str, Any], int, float]:
    x = _features(family, bundle.train.x.numpy())
    y = bundle.train.y.numpy()
    model, rows, seconds = _fit_within(lambda: _classifier(family, seed), x, y, budget, seed)
    k = len(bundle.classes)
    proba = np.zeros((len(bundle.test), k))
    proba[:, model.classes_] = model.predict_proba(_features(family, bundle.test.x.numpy()))
    scores = M.classification_metrics(bundle.test.y.numpy(), proba, bundle.classes, y)
    return M.headline(scores, bundle.task), rows, seconds


def _regress(bundle, budget: float, seed: int) -> tuple[dict[str, Any], int, float]:
    import torch
    from sklearn.ensemble import HistGradientBoostingRegressor

    x, y = bundle.train.x.numpy().reshape(len(bundle.train), -1), bundle.train.y.numpy()
    model, rows, seconds = _fit_within(lambda: HistGradientBoostingRegressor(random_state=seed), x, y, budget, seed)
    inv = lambda v: bundle.preprocessing.inverse_target(torch.as_tensor(np.asarray(v, np.float64))).numpy()  # noqa: E731
    pred = model.predict(bundle.test.x.numpy().reshape(len(bundle.test), -1))
    scores = M.regression_metrics(inv(bundle.test.y.numpy()), inv(pred), inv(y))
    return M.headline(scores, "regression"), rows, seconds


def _autoregress(bundle) -> tuple[dict[str, Any], int, float]:
    from sklearn.linear_model import Ridge

    from .forecast import forecast_metrics, price_forecasts

    t0 = time.perf_counter()
    flat = lambda s: s.x.numpy().reshape(len(s), -1)  # noqa: E731  (N, window): the standardised window
    model = Ridge(alpha=1.0).fit(flat(bundle.train), bundle.train.y.numpy())
    test = price_forecasts(model.predict(flat(bundle.test)), bundle, "test")  # the network's own post-processing
    scores = forecast_metrics(test["truth"], test["pred"], test["base"])
    return {k: scores[k] for k in ("rmse", "mae", "mape")}, len(bundle.train), time.perf_counter() - t0


def family_of(bundle) -> str:
    """Which classical model suits the bundle's inputs: the input kind's own answer, a table by default."""
    return getattr(bundle.preprocessing, "classical_baseline", "table")


def classical_baseline(bundle, train_seconds: float, seed: int = 0) -> dict[str, Any]:
    """Fit the family's model on bundle.train and score it on bundle.test, within ~10% of `train_seconds`.

    Returns:
        {"name", "metrics" (the headline keys, in the units the network's test metrics use), "key" (the one
        metric compared), "fit_seconds", "rows", "of_rows", "note"}; `beaten` is added by `compare_to`.
    """
    from threadpoolctl import threadpool_limits

    family = family_of(bundle)
    budget = max(SHARE * train_seconds, MIN_SECONDS)
    # one BLAS/OpenMP thread: these fits are small, and a team of threads beside a busy core stalls (a 1,000-row
    # TF-IDF + logistic regression took 5.5 s on two threads of a loaded machine, 0.14 s on one)
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")  # convergence warnings of a capped iteration count: the score says enough
        if family == "series":
            scores, rows, seconds = _autoregress(bundle)
        elif bundle.task == "regression":
            scores, rows, seconds = _regress(bundle, budget, seed)
        else:
            scores, rows, seconds = _classify(bundle, family, budget, seed)
    n = len(bundle.train)
    note = "" if rows >= n else (f"fitted on {rows:,} of the {n:,} training rows (a random subsample, so its fit "
                                 f"stays near {SHARE:.0%} of the training time)")
    regression = bundle.task == "regression"
    name = NAMES["table"] if regression and family != "series" else NAMES[family]  # any regression but a series: trees
    return {"name": name, "metrics": scores, "key": "rmse" if regression else "accuracy", "fit_seconds": seconds,
            "rows": rows, "of_rows": n, "note": note}


def for_run(cfg, bundle, test: dict[str, Any], train_seconds: float, quiet: bool = True) -> dict[str, Any] | None:
    """The run's classical baseline compared with its test metrics; None when report.classical_baseline is off."""
    if not cfg.report.classical_baseline:
        return None
    if not quiet:
        print("fitting the classical baseline (off with --set report.classical_baseline=false)", flush=True)
    return compare_to(classical_baseline(bundle, train_seconds, cfg.seed), test)


def over_folds(each: list[dict[str, Any] | None], test: dict[str, Any]) -> dict[str, Any] | None:
    """The folds' classical baselines as one: each metric's mean (and std) over folds, compared with the mean test."""
    if not each or any(c is None for c in each):
        return None
    keys = [k for k in each[0]["metrics"] if all(k in c["metrics"] for c in each)]
    scores = {k: {"mean": float(np.mean([c["metrics"][k] for c in each])),
                  "std": float(np.std([c["metrics"][k] for c in each], ddof=1)) if len(each) > 1 else 0.0} for k in keys}
    notes = sorted({c["note"] for c in each if c["note"]})
    merged = {**each[0], "metrics": scores, "fit_seconds": float(sum(c["fit_seconds"] for c in each)),
              "rows": int(sum(c["rows"] for c in each)), "of_rows": int(sum(c["of_rows"] for c in each)),
              "note": f"per fold: {notes[0]}" if notes else ""}
    return compare_to(merged, test)


def _value(v: Any) -> float | None:
    v = v.get("mean") if isinstance(v, dict) else v
    return float(v) if isinstance(v, (int, float)) else None


def compare_to(classical: dict[str, Any], test: dict[str, Any]) -> dict[str, Any]:
    """`classical` with `beaten` (did the network do better on its key metric?) and, if not, a plain warning."""
    key = classical["key"]
    mine, theirs = _value(test.get(key)), _value(classical["metrics"].get(key))
    if mine is None or theirs is None:
        return {**classical, "beaten": None, "warning": ""}
    lower = key in ("rmse", "mae", "mape")
    beaten = mine < theirs if lower else mine > theirs
    warning = "" if beaten else (
        f"The network does not beat a plain {classical['name']}: test {key} {mine:.4f} vs {theirs:.4f}. "
        "The classical model is the better choice for this data as it stands.")
    return {**classical, "beaten": bool(beaten), "warning": warning}


def summary_text(classical: dict[str, Any] | None) -> str:
    """'; classical baseline (NAME): accuracy 0.8350': the summary line's part, '' when there is none."""
    if not classical:
        return ""
    key = classical["key"]
    v = classical["metrics"].get(key)
    shown = f"{v['mean']:.4f} ± {v['std']:.4f}" if isinstance(v, dict) else f"{v:.4f}"
    return f"; classical baseline ({classical['name']}): {key} {shown}"


def cell(classical: dict[str, Any] | None) -> str:
    """compare's cell: 'accuracy 0.9610, logistic regression on the pixels (beaten)'; 'off' when not fitted."""
    if not classical:
        return "off"
    v = classical["metrics"].get(classical["key"])
    shown = f"{v['mean']:.4f}" if isinstance(v, dict) else f"{v:.4f}"
    beaten = {True: "beaten", False: "NOT beaten", None: "?"}[classical.get("beaten")]
    return f"{classical['key']} {shown}, {classical['name']} ({beaten})"
