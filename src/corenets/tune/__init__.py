"""Tuning: the learning-rate range test (lr_find.py) and the hyperparameter search on Optuna (study.py).

The package is also the notebook's ``corenets.tune(recipe, trials=..., space=...)`` (final.tune), as
corenets.evaluate is callable: ``import corenets.tune.lr_find`` sets ``corenets.tune`` to this package.
"""

import sys
import types


class _CallableModule(types.ModuleType):
    def __call__(self, recipe, **kwargs):
        """Search a recipe's hyperparameters on validation; see corenets.tune.final.tune."""
        from .final import tune

        return tune(recipe, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
