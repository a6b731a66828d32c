"""The run record: what model.pt holds beside the weights (ModelSpec) and what metrics.json holds (Metrics).

Both engines write these dataclasses and every reader (report, compare, evaluate, the summary line, serve's
card, export) goes through `read_metrics` / `ModelSpec.from_dict`, so the files have one schema, in one place.

Formats:
    model.pt   format_version 1: the first release; 2: adds `facts` (the data facts the builder received,
               e.g. vocab_size) and `tta` (how the test scored the model). A format-1 file loads as before:
               its options name every fact, and its tta is read from the folder's config.yaml.
    metrics.json  format 1: written before this module (no "format" key); 2: this schema. Only `task` and `test`
               are required of a format-1 file; every other field has a default.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CheckpointError, RunFolderError
from .files import corenets_version, write_json

SPEC_FORMAT = 2  # bump when model.pt's layout changes; newer files are refused with a clear message
METRICS_FORMAT = 2


# ------------------------------------------------------------------ model.pt


@dataclass
class ModelSpec:
    """Everything model.pt holds besides `state_dict`: enough to rebuild the model and read raw inputs."""

    recipe: str
    model: dict[str, Any]  # {"name", "options", "members"}
    input_shape: list[int]
    num_outputs: int
    task: str
    classes: list[str] | None
    preprocessing: dict[str, Any]  # Preprocessing.to_dict()
    meta: dict[str, Any] = field(default_factory=dict)  # the dataset's plain-valued meta (dataset name, notes)
    best_epoch: int = 0
    facts: dict[str, Any] = field(default_factory=dict)  # data facts passed to the builder (vocab_size, subwords)
    tta: str = "none"  # "flip": the test scored the model averaged with its mirror image
    corenets_version: str = "0+source"
    format_version: int = SPEC_FORMAT

    @classmethod
    def of_run(cls, cfg, bundle, best_epoch: int) -> "ModelSpec":
        """The spec of a model trained by `cfg` on `bundle`, its weights from `best_epoch`."""
        return cls(recipe=cfg.name, model={"name": cfg.model.name, "options": dict(cfg.model.options),
                                           "members": cfg.model.members},
                   input_shape=list(bundle.input_shape), num_outputs=bundle.num_outputs, task=bundle.task,
                   classes=bundle.classes, preprocessing=bundle.preprocessing.to_dict(),
                   meta={k: v for k, v in bundle.meta.items() if isinstance(v, (str, int, float, list))},
                   best_epoch=best_epoch, facts=dict(getattr(bundle, "facts", None) or {}), tta=cfg.train.tta,
                   corenets_version=corenets_version())

    def to_dict(self) -> dict[str, Any]:
        """Plain values only: model.pt is read back with torch.load(weights_only=True)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: str | Path = "model.pt", weights: bool = False) -> "ModelSpec":
        """Read a loaded model.pt (either format); raise CheckpointError naming what is missing or mistyped.

        Every field is checked against its type here, and the weights (`state_dict`) are a dict of tensors,
        so a damaged or hand-edited file is one line, never a KeyError or TypeError further on.
        `weights=True`: `d` is a whole model.pt, so its weights must be there too.
        """
        check_format_version(d, path)
        need = ("model", "input_shape", "num_outputs", "task", "preprocessing") + (("state_dict",) if weights else ())
        missing = [k for k in need if k not in d]
        if missing:
            raise CheckpointError(f"{path} lacks {', '.join(missing)}; it is not a model.pt written by `corenets run`")
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        values.setdefault("recipe", "?")
        values.setdefault("classes", None)
        _check_fields(cls, values, path, CheckpointError, "re-run training to recreate it")
        bad = _spec_problem(values, d.get("state_dict", {}))
        if bad:
            raise CheckpointError(f"{path} is damaged: {bad}; re-run training to recreate it")
        values["model"] = {"members": 1, **d["model"]}
        return cls(**values)


def check_format_version(d: Any, path: str | Path) -> None:
    """model.pt and last.pt carry an integer format_version no newer than this corenets reads."""
    if not isinstance(d, dict) or "format_version" not in d:
        raise CheckpointError(f"{path} is not a corenets checkpoint (no format_version); was it saved by another program?")
    v = d["format_version"]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise CheckpointError(f"{path} is damaged: format_version is {_short(v)}, not a format number (1 to "
                              f"{SPEC_FORMAT}); re-run training to recreate it")
    if v > SPEC_FORMAT:
        raise CheckpointError(f"{path} was written by a newer corenets (format {v}, this one reads {SPEC_FORMAT}, "
                              f"from corenets {_short(d.get('corenets_version'))}); upgrade corenets")


def _short(v: Any, n: int = 60) -> str:
    text = repr(v)
    return text if len(text) <= n else text[:n] + "..."


_TYPES = {"str": str, "int": int, "float": (int, float), "bool": bool, "list": list, "dict": dict}


def _check_fields(cls, values: dict[str, Any], where: str | Path, error, fix: str) -> None:
    """Each value has its dataclass field's type (its annotation's outer type; `X | None` allows None)."""
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        v, alts = values[f.name], [a.strip().split("[")[0] for a in str(f.type).split("|")]
        ok = (v is None and "None" in alts) or any(
            isinstance(v, _TYPES[a]) and not (isinstance(v, bool) and a in ("int", "float"))
            for a in alts if a in _TYPES)
        if not ok:
            raise error(f"{where} is damaged: {f.name} is {_short(v)}, expected {str(f.type)}; {fix}")


def _spec_problem(v: dict[str, Any], weights: Any) -> str:
    """What makes a type-correct spec unusable, or ''."""
    model, shape, classes, pre = v["model"], v["input_shape"], v["classes"], v["preprocessing"]
    if not isinstance(model.get("name"), str) or not isinstance(model.get("options", {}), dict):
        return "model needs a name and a dict of options"
    members = model.get("members", 1)
    if isinstance(members, bool) or not isinstance(members, int) or members < 1:
        return f"model members is {_short(members)}, expected a count of 1 or more"
    if not shape or not all(isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 2**24 for n in shape):
        return f"input_shape is {_short(shape)}, expected a list of positive sizes"
    if v["task"] not in ("binary", "multiclass", "regression"):
        return f"task is {_short(v['task'])}, expected binary, multiclass or regression"
    if not 1 <= v["num_outputs"] <= 2**24:
        return f"num_outputs is {v['num_outputs']}"
    if v["task"] != "regression" and (not isinstance(classes, list) or not all(isinstance(c, str) for c in classes)
                                      or len(classes) != (2 if v["task"] == "binary" else v["num_outputs"])):
        return f"classes is {_short(classes)}, which does not fit a {v['task']} model with {v['num_outputs']} output(s)"
    if not isinstance(pre.get("kind", "identity"), str) or not isinstance(pre.get("state", {}), dict):
        return "preprocessing needs a kind name and a dict of state"
    if not isinstance(weights, dict) or not all(isinstance(k, str) and hasattr(t, "shape") for k, t in weights.items()):
        return "state_dict is not a dict of named tensors"
    return ""


def tta_of(spec: dict[str, Any] | ModelSpec, run_dir: str | Path | None = None) -> str:
    """How a saved model is scored: the spec's `tta`, or (format 1) the run folder's config.yaml train.tta."""
    if isinstance(spec, ModelSpec):
        return spec.tta
    if "tta" in spec:
        return str(spec["tta"])
    cfg = Path(run_dir) / "config.yaml" if run_dir is not None else None
    if cfg is None or not cfg.is_file():
        return "none"
    from .config import load_yaml

    return load_yaml(cfg).train.tta


@functools.lru_cache(maxsize=64)
def _eval_batch_size(config_yaml: str, mtime: float) -> int:
    from .config import load_yaml

    return load_yaml(config_yaml).train.eval_batch_size


def eval_batch_size(run_dir: str | Path) -> int:
    """Rows per forward pass when scoring a saved run: its config's train.eval_batch_size (the default without one)."""
    cfg = Path(run_dir) / "config.yaml"
    if not cfg.is_file():
        from .config import TrainConfig

        return TrainConfig.eval_batch_size
    return _eval_batch_size(str(cfg), cfg.stat().st_mtime)  # read once per file, not per request


def scorer(model, tta: str):
    """The model as validation and test score it: averaged with its mirror image when tta is "flip".

    The one place flip TTA is decided: the loop's validation, the experiment's test, `Run.predict` and
    `corenets evaluate` all call this with the run's setting.
    """
    if tta == "flip":
        from .train.augment import FlipTTA

        return FlipTTA(model)
    return model


# ------------------------------------------------------------------ metrics.json


@dataclass
class Metrics:
    """metrics.json of a single run, or (cv > 0) of a cross-validation parent whose `test` holds mean ± std."""

    task: str
    test: dict[str, Any]  # the headline metrics, baseline, per-class table, confusion matrix
    recipe: str = ""
    description: str = ""
    engine: str = "torch"
    best_epoch: int = 0
    epochs_run: int = 0
    monitor: str = "val_loss"
    stopped: str | None = None  # why training ended before its last epoch
    train_seconds: float = 0.0
    wall_seconds: float = 0.0
    refit: dict[str, Any] | None = None  # {"epochs", "rows", "train_seconds"} when train.refit made the weights
    parameters: int = 0
    members: int = 1
    seed: int = 0
    device: str = "?"
    threads: int = 0
    batch_size: dict[str, Any] = field(default_factory=dict)
    tta: str = "none"
    data: dict[str, Any] = field(default_factory=dict)  # sizes, dataset, input_shape, classes
    versions: dict[str, str] = field(default_factory=dict)
    finished: str = ""
    notes: list[str] = field(default_factory=list)
    # what a reader must not miss, in plain words: a score at or below its baseline (experiment.baseline_warnings)
    warnings: list[str] = field(default_factory=list)
    # the strong classical baseline (evaluate/baselines.py): {"name", "metrics", "key", "beaten", "warning",
    # "fit_seconds" (apart from train_seconds), "rows", "of_rows", "note"}; None when report.classical_baseline is off
    classical: dict[str, Any] | None = None
    cv: int = 0  # > 0: a cross-validation parent
    folds: list[str] = field(default_factory=list)  # its fold folders' names
    format: int = METRICS_FORMAT
    extra: dict[str, Any] = field(default_factory=dict)  # keys this release does not know, kept on rewrite

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.update(d.pop("extra"))
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str | Path = "metrics.json") -> "Metrics":
        fix = "re-run `corenets evaluate RUN` to rewrite it"
        if not isinstance(d, dict) or "task" not in d or not isinstance(d.get("test"), dict):
            raise RunFolderError(f"{where} is not a corenets metrics file (no task or test); {fix}")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {k: v for k, v in d.items() if k in known}
        values.setdefault("format", 1)
        _check_fields(cls, values, where, RunFolderError, fix)
        if values["format"] > METRICS_FORMAT:
            raise RunFolderError(f"{where} was written by a newer corenets (format {d['format']}, this one reads "
                                 f"{METRICS_FORMAT}); upgrade corenets")
        if d["task"] not in ("binary", "multiclass", "regression"):
            raise RunFolderError(f"{where} is damaged: task is {_short(d['task'])}, expected binary, multiclass or "
                                 f"regression; {fix}")
        for k in ("accuracy", "balanced_accuracy", "f1", "f1_macro", "roc_auc", "rmse", "mae", "r2", "n"):
            v = d["test"].get(k, 0.0)
            v = v.get("mean", 0.0) if isinstance(v, dict) and isinstance(v.get("std", 0.0), (int, float)) else v
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise RunFolderError(f"{where} is damaged: test.{k} is {_short(d['test'][k])}, not a number; {fix}")
        bad = _metrics_problem(values)
        if bad:
            raise RunFolderError(f"{where} is damaged: {bad}; {fix}")
        return cls(**values, extra={k: v for k, v in d.items() if k not in known})


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _metrics_problem(v: dict[str, Any]) -> str:
    """What the report, compare and the summary line read inside metrics.json's nested values, or ''."""
    for k in ("notes", "warnings", "folds"):
        if not all(isinstance(x, str) for x in v.get(k, [])):
            return f"{k} holds something other than text"
    test = v["test"]
    if not isinstance(test.get("baseline", {}), dict):
        return f"test.baseline is {_short(test['baseline'])}, not an object"
    for c, row in (test.get("per_class") or {}).items() if isinstance(test.get("per_class", {}), dict) else [(0, 0)]:
        if not isinstance(row, dict) or not all(_number(row.get(k)) for k in ("precision", "recall", "f1", "support")):
            return f"test.per_class[{_short(c, 30)}] is {_short(row)}, not precision, recall, f1 and support"
    refit = v.get("refit")
    if refit is not None and not (_number(refit.get("epochs")) and _number(refit.get("rows", 0))):
        return f"refit is {_short(refit)}, not its epochs and rows"
    c = v.get("classical")
    if c is not None and not (isinstance(c.get("name"), str) and isinstance(c.get("key"), str)
                              and isinstance(c.get("metrics"), dict) and c.get("beaten") in (True, False, None)
                              and _number(c.get("fit_seconds")) and "note" in c):
        return f"classical is {_short(c)}, not a baseline's name, key, metrics, verdict and time"
    return ""


def metrics_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / "metrics.json"


def is_finished(run_dir: str | Path) -> bool:
    """A run is finished once its metrics.json is written: the experiment's last step."""
    return metrics_path(run_dir).is_file()


def read_metrics(run_dir: str | Path, missing_ok: bool = False) -> Metrics | None:
    """The run folder's metrics.json; RunFolderError (one line) when it is missing or unreadable.

    Args:
        run_dir: a run folder (or a cross-validation parent).
        missing_ok: return None instead of raising when the file does not exist (an unfinished run).
    """
    path = metrics_path(run_dir)
    if not path.is_file():
        if missing_ok:
            return None
        raise RunFolderError(f"{run_dir} has no metrics.json: the run did not finish; resume it with "
                             f"`corenets run --resume {run_dir}` or start it again")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunFolderError(f"{path} cannot be read ({str(e).splitlines()[0][:100]}); re-run "
                             f"`corenets evaluate {run_dir}` to rewrite it") from None
    return Metrics.from_dict(raw, path)


def write_metrics(run_dir: str | Path, metrics: Metrics) -> Path:
    metrics.format = METRICS_FORMAT
    write_json(metrics_path(run_dir), metrics.to_dict())
    return metrics_path(run_dir)


# ------------------------------------------------------------------ the description


# Settings that say where and how fast a run went, not what it is.
_NOT_DESCRIBED = {"name", "description", "out", "device", "threads", "seed", "deterministic", "cv", "fold", "report"}


def _changed_from_recipe(cfg) -> list[str] | None:
    """`KEY=VALUE` for each setting `cfg` changes from the recipe it names; None if it names no recipe."""
    from .config import to_dict
    from .recipes import load_recipe, recipe_names

    if cfg.name not in recipe_names():
        return None
    base, now = flat_config(to_dict(load_recipe(cfg.name))), flat_config(to_dict(cfg))
    keys = sorted(k for k in set(base) | set(now) if k.split(".")[0] not in _NOT_DESCRIBED and base.get(k) != now.get(k)
                  and not (k.startswith("data.") and k.endswith("path")))  # the user's copy of the data, not another recipe
    return [f"{k}={now.get(k)!r}" for k in keys]


def flat_config(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and not prefix and k in ("data", "model", "train", "report"):
            out.update(flat_config(v, f"{k}."))
        else:
            out[prefix + k] = v
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def describe(cfg) -> str:
    """What the run is, from its resolved config: the recipe's own text only when no setting differs from it.

    The derived part names the model and its options, the data, the optimiser, learning rate, batch size,
    schedule, the epochs actually configured, and the extras (augmentation, TTA, EMA, refit, engine).
    """
    t, m = cfg.train, cfg.model
    opts = ", ".join(f"{k}={v}" for k, v in m.options.items())
    model = f"{m.name}({opts})" if opts else m.name
    if m.members > 1:
        model = f"an ensemble of {m.members} {model}"
    parts = [f"{model} on {cfg.data.name}", f"{t.optimizer} lr {t.lr:g}", f"batch {t.batch_size}",
             _plural(t.epochs, "epoch") + (f" (early stopping after {t.early_stopping} without improvement)"
                                           if t.early_stopping else "")]
    if t.schedule != "none":
        parts.append(f"{t.schedule} schedule")
    extras = [f"augment {t.augment}" if t.augment else "", "flip TTA" if t.tta == "flip" else "",
              f"EMA {t.ema:g}" if t.ema else "", "refit on training + validation" if t.refit else "",
              "the NumPy engine" if cfg.engine == "scratch" else ""]
    derived = "; ".join(parts + [e for e in extras if e]) + "."
    changed = _changed_from_recipe(cfg)
    own = cfg.description.strip().rstrip(".")
    if changed:
        return f"{derived} Recipe {cfg.name} with {', '.join(changed[:6])}" + (" ..." if len(changed) > 6 else "") + "."
    return f"{own}. {derived}" if own else derived
