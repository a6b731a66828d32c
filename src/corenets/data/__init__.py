"""Datasets by name. Every module in this package registers its loaders with @DATASETS.register().

A loader is ``fn(spec: SplitSpec, *, <typed options>) -> DataBundle``; its keyword
options are what a recipe's ``data:`` section and ``--set data.KEY=VALUE`` accept.
"""

from __future__ import annotations

from typing import Any

from ..registry import Registry, import_submodules
from .bundle import DataBundle, Preprocessing, Split, SplitSpec, infer_task, split_indices

DATASETS: Registry = Registry("dataset")
_loaded = False


def _discover() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        import_submodules(__name__, __path__, skip=("bundle", "download"))


def datasets() -> Registry:
    _discover()
    return DATASETS


def load_dataset(name: str, spec: SplitSpec | None = None, as_sequence: str = "none", **options: Any) -> DataBundle:
    """Load a registered dataset as a DataBundle with preprocessing fitted on its training part.

    Args:
        name: a registered dataset (see ``corenets list datasets``).
        spec: seed, validation/test fractions and cross-validation fold.
        as_sequence: none | rows | features: any dataset's inputs viewed as (N, T, F) sequences
            for recurrent models (see data/sequence.py); an option every dataset accepts.
        **options: the dataset's own options (path, target, ...), type-checked.
    Returns:
        A DataBundle of train/val/test tensors.
    """
    from ..options import check_options, coerce

    reg = datasets()
    fn = reg.get(name)
    opts = check_options(options, fn, reg.options(name, skip=1), "data")
    from .sequence import SequenceView, as_sequence as view

    mode = coerce(as_sequence, SequenceView, "data.as_sequence")  # checked before the (maybe slow) load
    spec = spec or SplitSpec()
    bundle = view(fn(spec, **opts), mode)
    # how to load it again: a notebook's cn.save_run writes this into config.yaml (a dict: model.pt's meta skips it)
    bundle.meta["loaded_with"] = {"name": name, "options": {**options, **({"as_sequence": mode} if mode != "none" else {})},
                                  "seed": spec.seed, "val_fraction": spec.val_fraction, "test_fraction": spec.test_fraction}
    return bundle


__all__ = ["DATASETS", "DataBundle", "Preprocessing", "Split", "SplitSpec", "datasets", "infer_task", "load_dataset", "split_indices"]
