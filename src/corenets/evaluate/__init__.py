"""Metrics, plots and reports for a trained model.

The package is also the notebook's ``corenets.evaluate(model, bundle)``: calling it gives a model's test metrics
beside their baselines (corenets.api.evaluate). One name serves both because ``import corenets.evaluate.metrics``
sets ``corenets.evaluate`` to this package, whatever ``corenets`` exported under that name before.
"""

import sys
import types


class _CallableModule(types.ModuleType):
    def __call__(self, model, bundle, **kwargs):
        """Test metrics of `model` on bundle.test, beside their baselines; see corenets.api.evaluate."""
        from ..api import evaluate

        return evaluate(model, bundle, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
