"""DataBundle (what training needs) and Preprocessing (what predict must redo)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Literal

import numpy as np
import torch

from ..errors import DataError, InputError

Task = Literal["binary", "multiclass", "regression"]


@dataclass
class Split:
    x: torch.Tensor  # (N, *input_shape); float32, or int64 token ids for text
    y: torch.Tensor  # (N,) int64 class ids, or float32 targets (scaled) for regression

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class SplitSpec:
    """How a dataset without an official test split is divided. Passed to every loader."""

    seed: int = 0
    val_fraction: float = 0.1  # of the training part
    test_fraction: float = 0.2
    folds: int = 0  # K >= 2: cross-validation, the test part is fold `fold`
    fold: int = 0

    @classmethod
    def of_config(cls, cfg: Any) -> "SplitSpec":
        """The split a RunConfig's run trains on (a fold folder's fold, 1-based in the config)."""
        return cls(seed=cfg.seed, val_fraction=cfg.data.val_fraction, test_fraction=cfg.data.test_fraction,
                   folds=cfg.cv, fold=max(cfg.fold - 1, 0))


@dataclass
class Inputs:
    """Model inputs made from raw inputs, with what turning the outputs back into the user's units needs."""

    x: torch.Tensor  # (N, *input_shape)
    base: np.ndarray | None = None  # series: the last known price of each row, (N,)


@dataclass
class Limits:
    """What one request (or one `corenets predict`) may hand over; bigger inputs are refused before decoding.

    Each field is a `corenets serve` option of the same name (max_texts: --max-texts); docs/guides/serving.md.
    """

    max_pixels: int = 40_000_000  # per image, read from its header
    max_request_pixels: int = 40_000_000  # all the images of one request, summed from their headers
    max_texts: int = 1_000  # sentences per request
    max_text_chars: int = 10_000  # characters per sentence (the model reads its first max_len tokens anyway)
    max_rows: int = 10_000  # table or number rows per request (JSON rows, or CSV lines)
    max_prices: int = 100_000  # prices per request (all rows together), or lines of a price CSV
    max_columns: int = 1_000  # columns of an uploaded CSV (a table's own training columns are always allowed)
    # the server's gate around decoding: decoding(pixels) is a context manager that waits until that many decoded
    # pixels fit the server's budget across concurrent requests (None: decode at once)
    decoding: Callable[[int], Any] | None = None


@dataclass
class CliInputs:
    """`corenets predict` arguments read by a kind: the raw inputs, a name for each, and per-file errors."""

    raw: Any
    names: list[str] | None = None  # shown beside each prediction
    column: str = "input"  # the names' column header
    errors: dict[int, str] = field(default_factory=dict)  # position in the arguments -> why it was not read
    per_file: bool = False  # one line per file (top-k), errors per file, instead of one table


class Preprocessing:
    """An input kind: everything predict must redo on raw inputs, fitted on training data only.

    Subclasses register a `kind` (the string stored in model.pt) and keep their state as plain values and
    tensors, so a checkpoint with them loads with torch.load(weights_only=True). Everything that depends on the
    kind of input is a method here, so serve, the CLI, export and Run.predict never ask which kind they hold:

    - transform / prepare: raw inputs -> model inputs (prepare refuses ambiguous forms, transform is for data
      whose units are known, such as the training arrays);
    - outputs: raw regression outputs -> the user's units;
    - cli_inputs, http_json, http_files: parsing for `corenets predict` and the server;
    - card, hint, input_name: the model card, the usage line and the page's input widget;
    - document: the preprocessing section of the export document;
    - draw: one input on a matplotlib axis (Run.show_predictions).

    This base class is the "identity" kind: rows of numbers, read as they are.
    """

    kind: ClassVar[str] = "identity"
    kinds: ClassVar[dict[str, type["Preprocessing"]]] = {}
    input_name: ClassVar[str] = "rows"  # the page's input widget and /info's "input"
    batch_uploads: ClassVar[bool] = False  # the server may join concurrent uploads into one forward pass

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        Preprocessing.kinds[cls.kind] = cls

    def __init__(self, **state: Any):
        self.state = state

    # ---------------------------------------------------------------- raw inputs -> model inputs

    def transform(self, raw: Any) -> torch.Tensor:
        """Raw inputs whose units are known (rows, images, sentences, ...) -> the model's input tensor."""
        if isinstance(raw, (str, Path)):
            from .formats import read_csv

            raw = read_csv(raw).to_numpy()
        if isinstance(raw, torch.Tensor):
            return raw.float()
        try:
            return torch.as_tensor(np.asarray(raw, dtype=np.float32))
        except (TypeError, ValueError) as e:
            raise InputError(f"this run reads rows of numbers; the input cannot be read as numbers ({e})") from None

    def prepare(self, raw: Any, units: str | None = None) -> Inputs:
        """Every raw form a user can hand over -> model inputs; ambiguous forms are refused, never guessed.

        Args:
            raw: what `Run.predict` was given.
            units: image runs only: what the values of a numeric array mean (see ImagePreprocessing.prepare).
        """
        if units is not None:
            raise InputError(f"units={units!r} applies to image runs only; this run reads {self.input_name}: "
                             "leave units out")
        return Inputs(self.transform(raw))

    def inverse_target(self, y: torch.Tensor) -> torch.Tensor:
        """Model-space regression targets -> the target's units (identity unless scaled)."""
        mean, std = self.state.get("target_mean"), self.state.get("target_std")
        if mean is None:
            return y
        return y * std + mean

    def outputs(self, y: np.ndarray, inputs: Inputs) -> np.ndarray:
        """Raw regression outputs (N,) -> values in the user's units (a series kind answers in prices)."""
        return self.inverse_target(torch.from_numpy(np.asarray(y, dtype=np.float64))).numpy()

    def reader(self) -> "Preprocessing":
        """The kind that reads the raw inputs (a sequence view answers with the kind it wraps)."""
        return self

    # ---------------------------------------------------------------- entry points: CLI, server, export

    def cli_inputs(self, args: list[str]) -> CliInputs:
        """`corenets predict RUN ARGS...` -> raw inputs: here one CSV file of numeric rows."""
        from .formats import read_csv

        if len(args) != 1:
            raise InputError(f"predict on this run takes one CSV file of rows, got {len(args)} arguments")
        return CliInputs(read_csv(args[0]).to_numpy())

    def http_body(self, limits: Limits) -> Any:
        """The pydantic model of this kind's JSON request body (data/http_body.py), bounded by `limits`; None when
        the kind takes files only. The server validates every JSON body with it before http_json sees it."""
        from .http_body import Number, body_model, bounded_list

        return body_model("RowsBody", "Rows of numbers, in the training column order.",
                          rows=(bounded_list(list[Number], limits, "max_rows", "rows"), ...))

    def http_json(self, body: Any, limits: Limits) -> Any:
        """A JSON request body, as http_body validated it -> raw inputs for prepare()."""
        rows = body.get("rows") if isinstance(body, dict) else body
        if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
            raise InputError(f"send JSON {{\"rows\": [[numbers], ...]}}; {self.hint()}")
        if len({len(r) for r in rows}) > 1:
            raise InputError(f"the rows differ in length ({', '.join(str(n) for n in sorted({len(r) for r in rows})[:6])});"
                             f" every row needs one number per column; {self.hint()}")
        return rows

    def http_files(self, files: list[tuple[str, bytes]], limits: Limits) -> Any:
        """Uploaded files (name, bytes) -> raw inputs for prepare()."""
        return _one_csv(files, self, limits).to_numpy()

    def card(self, limits: Limits) -> dict[str, Any]:
        """The kind's fields of the model card (/info) and of the page's input widget."""
        return {}

    def hint(self) -> str:
        """How to send this kind's inputs to the server, in one line."""
        return 'POST JSON {"rows": [[numbers], ...]}'

    def document(self, task: str) -> dict[str, Any]:
        """The kind's part of the export document (schema: corenets/schemas/preprocessing.schema.json): what a raw
        input is ("raw_input"), the steps that make it the model's input ("steps", each an "op" with its
        parameters and a formula), and how the model's output becomes the answer ("postprocess")."""
        return {"kind": "rows", "raw_input": {"type": "numbers", "text": "one row: a list of numbers, in the "
                                              "training column order"},
                "steps": [], "postprocess": self.postprocess(task)}

    def postprocess(self, task: str) -> dict[str, Any]:
        """The export document's post-processing of one row of model outputs `o`."""
        if task == "multiclass":
            return {"op": "softmax", "text": "p[i] = exp(o[i] - max(o)) / sum_j exp(o[j] - max(o)) is the "
                                             "probability of classes[i]"}
        if task == "binary":
            return {"op": "sigmoid", "text": "p = 1 / (1 + exp(-o[0])) is the probability of classes[1]; "
                                             "classes[0] has 1 - p"}
        std, mean = self.state.get("target_std"), self.state.get("target_mean")
        return {"op": "affine", "scale": 1.0 if std is None else float(std), "shift": 0.0 if mean is None else float(mean),
                "text": "value = o[0] * scale + shift, in the target's units"}

    def examples(self, x: torch.Tensor) -> list[Any]:
        """Eight raw inputs, as JSON values, for the export document's test vectors: most read back from the model
        inputs `x` (N, ...), the rest the cases the kind must show a client (text: a non-ASCII word, an unknown
        word, an over-long sentence; tables: an unseen category)."""
        return x[:8].reshape(min(8, len(x)), -1).tolist()

    def test_plots(self, x: np.ndarray, y: np.ndarray, proba: np.ndarray, classes: list[str], plot_dir: Any) -> None:
        """Plots a classifier's report adds for this kind, from the test inputs `x` as the model read them, the true
        class ids `y` and the predicted probabilities (images: a sample grid, top losses, per-class accuracy)."""

    def draw(self, ax: Any, x: np.ndarray) -> None:
        """Draw one model input on a matplotlib axis (Run.show_predictions's grid); here: its first numbers."""
        import textwrap

        flat = np.asarray(x, dtype=np.float64).reshape(-1)
        shown = ", ".join(f"{v:.3g}" for v in flat[:16]) + (", ..." if flat.size > 16 else "")
        ax.text(0.5, 0.5, textwrap.fill(shown, 30), ha="center", va="center", fontsize=7, transform=ax.transAxes)

    def facts(self) -> dict[str, Any]:
        """What a model builder must know about these inputs beyond their shape (text: vocabulary size, n-gram
        buckets); `models.build_model(facts=...)` fills the builder options of the same names."""
        return {}

    # ---------------------------------------------------------------- saved form

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "state": self.state}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "Preprocessing":
        kind = d.get("kind", "identity")
        if kind not in Preprocessing.kinds:
            raise DataError(f"unknown preprocessing kind '{kind}'; this corenets knows: {', '.join(sorted(Preprocessing.kinds))}")
        return Preprocessing.kinds[kind](**d.get("state", {}))


def _one_csv(files: list[tuple[str, bytes]], kind: Preprocessing, limits: Limits | None = None,
             limit: str = "max_rows") -> Any:
    """The one uploaded CSV of a request, as a DataFrame; more lines than `limits.<limit>` are refused unread."""
    import io

    import pandas as pd

    if len(files) != 1:
        raise InputError(f"send one CSV file, got {len(files)}; {kind.hint()}")
    name, data = files[0]
    if not data.strip():
        raise InputError(f"{name}: the CSV file is empty; it needs a header row and data rows")
    if limits is not None:
        _csv_within(name, data, limits, limit, len(getattr(kind, "columns", ())))
    try:
        df = pd.read_csv(io.BytesIO(data), encoding_errors="replace")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{name} is not a readable CSV ({str(e).splitlines()[0][:120]})") from None
    if len(df) == 0:
        raise InputError(f"{name} has a header but no rows")
    return df


def _csv_within(name: str, data: bytes, limits: Limits, limit: str, needed: int) -> None:
    """Refuse (413) a CSV with more data lines than `limits.<limit>` or more header columns than limits.max_columns,
    from a byte count, before pandas reads it (a 10 MB header of 1,000,000 columns took pandas 50 s and 1 GB)."""
    bound = getattr(limits, limit)
    lines = data.count(b"\n") + (not data.endswith(b"\n")) - 1  # data lines, after the header
    if lines > bound:
        raise InputError(f"{name} has {lines:,} rows, over this server's limit of {bound:,} per request "
                         f"(corenets serve --{limit.replace('_', '-')}); send fewer rows", 413)
    end = data.find(b"\n")
    columns = data[: end if end >= 0 else len(data)].count(b",") + 1
    if columns > max(limits.max_columns, needed):
        raise InputError(f"{name} has {columns:,} columns, over this server's limit of {limits.max_columns:,} "
                         "(corenets serve --max-columns); send the columns the model reads", 413)


Preprocessing.kinds["identity"] = Preprocessing


@dataclass
class DataBundle:
    train: Split
    val: Split
    test: Split
    task: Task
    input_shape: tuple[int, ...]
    classes: list[str] | None = None  # class names, index = class id (None for regression)
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    meta: dict[str, Any] = field(default_factory=dict)  # dataset name, sizes, notes for the report
    # rows of the training file kept out of training only so validation stays leak-free (the phrases of SST-2's
    # validation sentences); neither trained on nor scored, but a refit on training + validation takes them too.
    # A function, so they are encoded only when a refit asks (SST-2: 5,771 rows, 74 MB with n-grams)
    withheld: Callable[[], Split] | None = None

    @property
    def num_outputs(self) -> int:
        """Logits the model must produce: 1 for binary (BCE) and regression, else one per class."""
        return len(self.classes) if self.task == "multiclass" else 1

    @property
    def facts(self) -> dict[str, Any]:
        """The data facts a model is built from (see `Preprocessing.facts`)."""
        return self.preprocessing.facts()

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def infer_task(y: np.ndarray) -> Task:
    """Classification for integer-like targets with few distinct values, else regression."""
    values = np.unique(y)
    if y.dtype.kind in "OUSb":
        return "binary" if len(values) == 2 else "multiclass"
    if y.dtype.kind in "iu" or np.all(np.mod(values, 1) == 0):
        if len(values) == 2:
            return "binary"
        if len(values) <= max(20, int(0.05 * len(y))) and len(values) < len(y):
            return "multiclass"
    return "regression"


def split_indices(y: np.ndarray, spec: SplitSpec, stratify: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded (stratified where possible) train/val/test indices, or a cross-validation fold.

    With spec.folds >= 2 the test part is fold `spec.fold` of a stratified K-fold;
    validation is always carved from what remains, so the test rows never choose a model.
    """
    from sklearn.model_selection import StratifiedKFold, KFold, train_test_split

    n = len(y)
    idx = np.arange(n)
    strat = y if stratify else None
    if stratify:
        _, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            strat = None  # a class with one row cannot be stratified; fall back to a plain split
    if spec.folds >= 2:
        if n < spec.folds * 2:
            raise DataError(f"{n} rows are too few for {spec.folds}-fold cross-validation; use fewer folds or more rows")
        if not 0 <= spec.fold < spec.folds:
            raise DataError(f"fold {spec.fold} is outside 0..{spec.folds - 1}")
        if strat is not None and np.unique(y, return_counts=True)[1].min() >= spec.folds:
            splitter = StratifiedKFold(spec.folds, shuffle=True, random_state=spec.seed)
            rest, test = list(splitter.split(idx, y))[spec.fold]
        else:
            rest, test = list(KFold(spec.folds, shuffle=True, random_state=spec.seed).split(idx))[spec.fold]
    else:
        rest, test = _split(idx, strat, spec.test_fraction, spec.seed, "test")
    strat_rest = None if strat is None else y[rest]
    if strat_rest is not None and np.unique(strat_rest, return_counts=True)[1].min() < 2:
        strat_rest = None
    train, val = _split(rest, strat_rest, spec.val_fraction, spec.seed + 1, "validation")
    return np.sort(train), np.sort(val), np.sort(test)


def _split(idx: np.ndarray, strat: np.ndarray | None, fraction: float, seed: int, what: str):
    from sklearn.model_selection import train_test_split

    if not 0 < fraction < 1:
        raise DataError(f"the {what} fraction must be between 0 and 1, got {fraction}")
    n_out = int(round(len(idx) * fraction))
    if strat is not None:
        n_classes = len(np.unique(strat))
        if n_out < n_classes or len(idx) - n_out < n_classes:
            strat = None
    if n_out < 1 or len(idx) - n_out < 1:
        raise DataError(
            f"{len(idx)} rows are too few to hold out a {what} part of {fraction:.0%}; "
            f"give at least {int(np.ceil(2 / fraction))} rows or change data.{'test' if what == 'test' else 'val'}_fraction"
        )
    a, b = train_test_split(idx, test_size=n_out, random_state=seed, stratify=strat)
    return a, b
