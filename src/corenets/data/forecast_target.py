"""`data.target=auto` for a series: price level or step-to-step delta, whichever a quick trial prefers on validation.

The trial is a gradient-boosted tree model (HistGradientBoosting) fitted to each target's training windows and
scored on the validation windows in the series' own units. Trees, like a recurrent network's saturating units,
cannot predict outside the range of targets they were trained on, so they fail where the network would: a price
level that leaves its training range (a rising stock) loses to the delta, while a level that stays in range and
reverts to a seasonal mean keeps it. It takes a second or two, beside minutes of training.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .bundle import Inputs

TIE = 0.01  # the level must be this much better on validation to be chosen over the delta, which tracks persistence


def validation_rmse(bundle: Any, outputs: np.ndarray) -> float:
    """RMSE in the series' units of raw (standardised) outputs for bundle.val, after the kind's own post-processing."""
    info = bundle.meta["series"]["val"]
    pred = bundle.preprocessing.outputs(np.asarray(outputs, np.float64).reshape(-1),
                                        Inputs(bundle.val.x, base=np.asarray(info["base"])))
    return float(np.sqrt(np.mean((pred - np.asarray(info["truth"])) ** 2)))


def choose_target(trials: dict[str, Any], seed: int = 0) -> tuple[str, str]:
    """(the chosen target, a sentence saying which and why) from bundles of the same series built per target.

    Args:
        trials: {"price": bundle, "delta": bundle}: price_csv's windows for each candidate target.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    flat = lambda s: s.x.numpy().reshape(len(s), -1)  # noqa: E731  (N, window)
    rmse = {}
    with threadpool_limits(1):  # a few hundred rows: one thread, never stalled by a busy core
        for target, b in trials.items():
            trees = HistGradientBoostingRegressor(max_iter=100, random_state=seed).fit(flat(b.train), b.train.y.numpy())
            rmse[target] = validation_rmse(b, trees.predict(flat(b.val)))
    any_bundle = next(iter(trials.values()))
    info = any_bundle.meta["series"]["val"]
    persistence = float(np.sqrt(np.mean((np.asarray(info["truth"]) - np.asarray(info["base"])) ** 2)))
    chosen = "price" if rmse["price"] < rmse["delta"] * (1 - TIE) else "delta"
    shown = ", ".join(f"{t} {v:.4g}" for t, v in rmse.items())
    why = (f"data.target=auto chose '{chosen}' ({'the value itself' if chosen == 'price' else 'step-to-step change'}): "
           f"a quick gradient-boosted trial of each target scored validation RMSE {shown} (persistence "
           f"{persistence:.4g}); set data.target to choose another")
    return chosen, why
