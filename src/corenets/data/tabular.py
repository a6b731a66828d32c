"""Tables: scikit-learn's breast cancer, and the user's own CSV with a target column."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ..errors import DataError, InputError
from . import DATASETS
from .bundle import CliInputs, DataBundle, Limits, Preprocessing, Split, SplitSpec, infer_task, split_indices
from .formats import read_csv  # noqa: F401  (callers import it from here too)


class TablePreprocessing(Preprocessing):
    """Column checks, standardisation (train mean/std), one-hot categories (train vocabulary)."""

    kind = "table"
    input_name = "table"

    @property
    def columns(self) -> list[str]:
        return list(self.state["numeric"]) + list(self.state["categorical"])

    @classmethod
    def fit(cls, df: "Any", numeric: list[str], categorical: list[str], missing: str) -> "TablePreprocessing":
        mean = df[numeric].astype("float64").mean().to_numpy() if numeric else np.zeros(0)
        std = df[numeric].astype("float64").std(ddof=0).to_numpy() if numeric else np.zeros(0)
        std = np.where(std > 0, std, 1.0)  # a constant column stays 0 after centring
        vocab = {c: sorted(df[c].dropna().astype(str).unique().tolist()) for c in categorical}
        fill = {c: (df[c].dropna().astype(str).mode().iloc[0] if df[c].notna().any() else "") for c in categorical}
        return cls(
            numeric=list(numeric), categorical=list(categorical), mean=mean.tolist(), std=std.tolist(),
            vocab=vocab, fill=fill, missing=missing,
        )

    def feature_names(self) -> list[str]:
        names = list(self.state["numeric"])
        for c in self.state["categorical"]:
            names += [f"{c}={v}" for v in self.state["vocab"][c]]
        return names

    def frame(self, raw: Any) -> "Any":
        """Any raw table form -> a DataFrame: a DataFrame, a CSV path, a dict row ({column: value}), a dict of
        columns ({column: [values]}), a list of dict rows, a pandas Series (one row), or numbers (a 1-D array is
        one row, a 2-D array rows) for a table whose columns are all numeric, in the training column order."""
        import pandas as pd

        if isinstance(raw, (str, Path)):
            return read_csv(raw)
        if isinstance(raw, pd.DataFrame):
            return raw
        if isinstance(raw, pd.Series):
            return raw.to_frame().T
        if isinstance(raw, dict):
            listed = [isinstance(v, (list, tuple, np.ndarray, pd.Series)) for v in raw.values()]
            if any(listed) and not all(listed):
                raise InputError("a dict must be one row {column: value} or columns {column: [values]}, not a mix")
            return pd.DataFrame(raw) if all(listed) and listed else pd.DataFrame([raw])
        if isinstance(raw, (list, tuple)) and raw and all(isinstance(r, dict) for r in raw):
            return pd.DataFrame(list(raw))
        if isinstance(raw, torch.Tensor):
            raw = raw.detach().cpu().numpy()
        try:
            arr = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"cannot read a {type(raw).__name__} as table rows; give a DataFrame, a CSV path, "
                             "a dict row or a list of them") from None
        arr = arr[None] if arr.ndim == 1 else arr
        if self.state["categorical"] or arr.ndim != 2 or arr.shape[1] != len(self.state["numeric"]):
            raise InputError(f"expected a table with columns {self.columns}, got an array of shape {arr.shape}; "
                             "give a DataFrame or dict rows with those columns")
        return pd.DataFrame(arr, columns=self.state["numeric"])

    def transform(self, raw: Any) -> torch.Tensor:
        """Any form frame() reads -> (N, F) float32: standardised numbers, then one-hot categories."""
        import pandas as pd

        raw = self.frame(raw)
        if len(raw) == 0:
            raise InputError("the table has no rows to predict on")
        missing_cols = [c for c in self.columns if c not in raw.columns]
        if missing_cols:
            raise DataError(
                f"the input lacks the training column(s) {missing_cols}; it must have: {', '.join(self.columns)}"
            )
        parts = []
        num = self.state["numeric"]
        if num:
            block = raw[num].apply(pd.to_numeric, errors="coerce")
            bad = [c for c in num if raw[c].notna().any() and block[c].isna().sum() > raw[c].isna().sum()]
            if bad:
                raise DataError(f"column(s) {bad} hold non-numeric values, but they were numeric in training")
            values = block.to_numpy(dtype=np.float64)
            mean, std = np.asarray(self.state["mean"]), np.asarray(self.state["std"])
            if not np.isfinite(values).all():  # nan (missing) or inf: both filled, or both refused
                if self.state["missing"] != "impute":
                    cols = [c for i, c in enumerate(num) if not np.isfinite(values[:, i]).all()]
                    raise DataError(f"missing or non-finite values in column(s) {cols}; fill them, or train with "
                                    "--set data.missing=impute")
                values = np.where(np.isfinite(values), values, mean)  # impute with the training mean
            parts.append((values - mean) / std)
        for c in self.state["categorical"]:
            col = raw[c]
            if col.isna().any() and self.state["missing"] != "impute":
                raise DataError(f"missing values in column '{c}'; fill them, or train with --set data.missing=impute")
            col = col.fillna(self.state["fill"][c]).astype(str)
            vocab = self.state["vocab"][c]
            onehot = np.zeros((len(col), len(vocab)))
            index = {v: i for i, v in enumerate(vocab)}
            for r, v in enumerate(col):
                if v in index:  # an unseen category is all zeros
                    onehot[r, index[v]] = 1.0
            parts.append(onehot)
        x = np.concatenate(parts, axis=1) if parts else np.zeros((len(raw), 0))
        return torch.from_numpy(x.astype(np.float32))


    # ---------------------------------------------------------------- entry points

    def cli_inputs(self, args: list[str]) -> CliInputs:
        if len(args) != 1:
            raise InputError(f"predict on a table run takes one CSV file of rows, got {len(args)} arguments")
        return CliInputs(read_csv(args[0]))

    def http_body(self, limits: Limits) -> Any:
        from .http_body import body_model, bounded_list, row_model

        row = row_model(self.state["numeric"], self.state["categorical"])
        return body_model("TableBody", "Rows as objects {column: value}: every training column, a number for a numeric "
                                       "one, a category for the others (null: missing).",
                          rows=(bounded_list(row, limits, "max_rows", "rows"), ...))

    def http_json(self, body: Any, limits: Limits) -> "Any":
        rows = body.get("rows") if isinstance(body, dict) else body
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            raise InputError('send JSON {"rows": [{"column": value, ...}, ...]} with the training columns')
        # only the training columns: keys the model does not read never become columns of the frame (rows that each
        # name 50 new keys would otherwise build a frame of rows x all their keys)
        wanted = set(self.columns)
        return self._with_columns(self.frame([{k: v for k, v in r.items() if k in wanted} for r in rows]))

    def http_files(self, files: list[tuple[str, bytes]], limits: Limits) -> "Any":
        from .bundle import _one_csv

        return self._with_columns(_one_csv(files, self, limits))

    def _with_columns(self, df: "Any") -> "Any":
        missing = [c for c in self.columns if c not in df.columns]
        if missing:
            shown = ", ".join(map(str, missing[:8])) + (" ..." if len(missing) > 8 else "")
            raise InputError(f"the rows lack the training column(s) {shown}; they must have: {', '.join(map(str, self.columns))}")
        return df

    def card(self, limits: Limits) -> dict[str, Any]:
        return {"columns": self.columns, "categories": {c: self.state["vocab"][c] for c in self.state["categorical"]}}

    def hint(self) -> str:
        return 'POST a CSV as multipart field \'file\', or JSON {"rows": [{"column": value}]}'

    def document(self, task: str) -> dict[str, Any]:
        st = self.state
        impute = st["missing"] == "impute"
        step = {"op": "table_encode", "missing": st["missing"],
                "numeric": [{"column": c, "mean": float(m), "std": float(s)} for c, m, s in zip(st["numeric"], st["mean"], st["std"])],
                "categorical": [{"column": c, "categories": list(st["vocab"][c]), "fill": st["fill"][c]} for c in st["categorical"]],
                "text": "features, in this order: each numeric column, x = (value - mean) / std; then each categorical "
                        "column, one-hot over its categories in the order listed (the value compared as a string; a "
                        "value not listed is all zeros); float32. A missing value (null) is "
                        + ("the column's mean (numeric) or its fill (categorical)" if impute else "an error")}
        return {"kind": "table", "postprocess": self.postprocess(task), "steps": [step],
                "raw_input": {"type": "table_row", "columns": self.columns,
                              "text": "one row: an object {column: value}, numbers for the numeric columns and "
                                      "strings for the categorical ones; other keys are ignored"}}

    def examples(self, x: torch.Tensor) -> list[Any]:
        """Rows read back from model inputs (F,): numbers un-standardised, each one-hot block's category; and where
        there are categorical columns, a row whose first one holds a category training never saw."""
        st, x = self.state, x[:8].double().numpy()
        num = len(st["numeric"])
        rows = []
        for v in x:
            row: dict[str, Any] = {c: float(v[i] * st["std"][i] + st["mean"][i]) for i, c in enumerate(st["numeric"])}
            at = num
            for c in st["categorical"]:
                cats = st["vocab"][c]
                row[c] = cats[int(np.argmax(v[at: at + len(cats)]))] if cats else st["fill"][c]
                at += len(cats)
            rows.append(row)
        if st["categorical"] and rows:
            rows[-1] = {**rows[-1], st["categorical"][0]: "never-seen-in-training"}
        return rows


def _non_finite_as_missing(feats: "Any", numeric: list[str], missing: str) -> "Any":
    """inf and -inf in numeric columns: an error naming each column and its row count, or (data.missing=impute)
    missing values, which the training mean then fills like any other gap."""
    counts = {c: int(np.isinf(feats[c].to_numpy(dtype=np.float64)).sum()) for c in numeric}
    counts = {c: n for c, n in counts.items() if n}
    if not counts:
        return feats
    if missing != "impute":
        shown = ", ".join(f"'{c}' ({n} row{'s' if n > 1 else ''})" for c, n in list(counts.items())[:8])
        raise DataError(f"non-finite values (inf or -inf) in column(s) {shown}; replace them, or use "
                        "--set data.missing=impute (the training mean)")
    feats = feats.copy()
    feats[list(counts)] = feats[list(counts)].replace([np.inf, -np.inf], np.nan)
    return feats


def _encode_target(y_raw: np.ndarray, task: str) -> tuple[np.ndarray, list[str] | None]:
    if task == "regression":
        try:
            return y_raw.astype(np.float64), None
        except ValueError:
            raise DataError("data.task=regression needs a numeric target column") from None
    values = np.unique(y_raw.astype(str)) if y_raw.dtype.kind in "OUS" else np.unique(y_raw)
    if y_raw.dtype.kind not in "OUS" and np.all(np.mod(values, 1) == 0) and np.all(np.abs(values) < 2**53):
        values = values.astype(np.int64)  # whole numbers as int64 only where float64 holds them exactly
    classes = [str(v) for v in values]
    keys = y_raw.astype(str) if y_raw.dtype.kind in "OUS" else np.asarray(y_raw)
    lookup = {v: i for i, v in enumerate(values.tolist())}
    y = np.array([lookup[v] for v in keys.tolist()], dtype=np.int64)
    return y, classes


def table_bundle(
    df: "Any", target: str, spec: SplitSpec, task: str = "auto", missing: str = "error",
    name: str = "csv_table", drop: list[str] | None = None,
) -> DataBundle:
    """Split a DataFrame (stratified, seeded) and fit the preprocessing on its training rows only."""
    if target not in df.columns:
        raise DataError(f"target column '{target}' is not in the table; its columns are: {', '.join(map(str, df.columns))}")
    drop = list(drop or [])
    unknown = [c for c in drop if c not in df.columns]
    if unknown:
        raise DataError(f"data.drop names column(s) {unknown} that the table lacks")
    if df[target].isna().any():
        raise DataError(f"the target column '{target}' has {int(df[target].isna().sum())} missing value(s); drop those rows first")
    y_raw = df[target].to_numpy()
    if y_raw.dtype.kind == "f" and np.isinf(y_raw).any():
        raise DataError(f"the target column '{target}' has {int(np.isinf(y_raw).sum())} infinite value(s); drop those rows first")
    if len(np.unique(y_raw.astype(str))) < 2:
        raise DataError(f"the target column '{target}' has only one value ({y_raw[0]!r}); a model needs at least two classes or values")
    if task == "auto":
        task = infer_task(y_raw)
    y, classes = _encode_target(y_raw, task)
    feats = df.drop(columns=[target, *drop])
    if feats.shape[1] == 0:
        raise DataError("the table has no feature columns besides the target")
    numeric = [c for c in feats.columns if feats[c].dtype.kind in "biuf"]
    categorical = [c for c in feats.columns if c not in numeric]
    for c in categorical:
        n_unique = feats[c].nunique()
        if n_unique > 100 and n_unique > 0.5 * len(feats):
            warnings.warn(f"column '{c}' looks like an identifier ({n_unique} distinct values); consider --set data.drop=[{c}]")
    feats = _non_finite_as_missing(feats, numeric, missing)
    if missing == "error" and feats.isna().any().any():
        cols = [f"{c} ({int(n)})" for c, n in feats.isna().sum().items() if n]
        raise DataError(f"missing values in column(s) {', '.join(cols)}; fill them, or use --set data.missing=impute (train mean / most frequent)")
    strat = task != "regression"
    tr, va, te = split_indices(y, spec, stratify=strat)
    pre = TablePreprocessing.fit(feats.iloc[tr], numeric, categorical, missing)
    y_t = torch.from_numpy(y)
    if task == "regression":
        mean, std = float(y[tr].mean()), float(y[tr].std() or 1.0)
        pre.state.update(target_mean=mean, target_std=std)  # the model learns a standardised target
        y_t = torch.from_numpy(((y - mean) / std).astype(np.float32))
    x = pre.transform(feats)
    return DataBundle(
        train=Split(x[tr], y_t[tr]), val=Split(x[va], y_t[va]), test=Split(x[te], y_t[te]),
        task=task, input_shape=(x.shape[1],), classes=classes, preprocessing=pre,
        meta={"dataset": name, "target": target, "features": pre.feature_names()},
    )


@DATASETS.register()
def breast_cancer(spec: SplitSpec) -> DataBundle:
    """Wisconsin breast cancer (scikit-learn, 569 rows, 30 features); malignant vs benign."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer()
    df = pd.DataFrame(raw.data, columns=[str(c) for c in raw.feature_names])  # numpy.str_ names would not load with weights_only
    df["diagnosis"] = np.asarray(raw.target_names)[raw.target]  # 'malignant' / 'benign'
    bundle = table_bundle(df, "diagnosis", spec, task="binary", name="breast_cancer")
    return bundle


@DATASETS.register()
def csv_table(
    spec: SplitSpec,
    path: str = "",
    target: str = "",
    task: Literal["auto", "binary", "multiclass", "regression"] = "auto",
    missing: Literal["error", "impute"] = "error",
    drop: list[str] | None = None,
    sep: str | None = None,
) -> DataBundle:
    """Your own CSV: numeric and categorical features, a named target; classification or regression."""
    if not path:
        raise DataError("csv_table needs a file: --set data.path=my.csv data.target=COLUMN")
    if not target:
        raise DataError("csv_table needs the target column: --set data.target=COLUMN")
    df = read_csv(path, sep)
    return table_bundle(df, target, spec, task=task, missing=missing, name=f"csv_table:{Path(path).name}", drop=drop)
