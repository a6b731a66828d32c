"""Tables: scikit-learn's breast cancer, and the user's own CSV with a target column."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ..errors import DataError
from . import DATASETS
from .bundle import DataBundle, Preprocessing, Split, SplitSpec, infer_task, split_indices


class TablePreprocessing(Preprocessing):
    """Column checks, standardisation (train mean/std), one-hot categories (train vocabulary)."""

    kind = "table"

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

    def transform(self, raw: Any) -> torch.Tensor:
        """A DataFrame, a CSV path, or a 2-D array of numeric features -> (N, F) float32."""
        import pandas as pd

        if isinstance(raw, (str, Path)):
            raw = read_csv(raw)
        if not isinstance(raw, pd.DataFrame):
            arr = np.asarray(raw, dtype=np.float64)
            if self.state["categorical"] or arr.ndim != 2 or arr.shape[1] != len(self.state["numeric"]):
                raise DataError(f"expected a table with columns {self.columns}, got an array of shape {arr.shape}")
            raw = pd.DataFrame(arr, columns=self.state["numeric"])
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
            if np.isnan(values).any():
                if self.state["missing"] != "impute":
                    cols = [c for c in num if block[c].isna().any()]
                    raise DataError(f"missing values in column(s) {cols}; fill them, or train with --set data.missing=impute")
                values = np.where(np.isnan(values), mean, values)  # impute with the training mean
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


def read_csv(path: str | Path, sep: str | None = None) -> "Any":
    """Read a CSV (or TSV) with clear errors for a missing, empty or unreadable file."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"CSV file {path} does not exist; check data.path")
    if path.stat().st_size == 0:
        raise DataError(f"CSV file {path} is empty; it needs a header row and data rows")
    if sep is None:
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        df = pd.read_csv(path, sep=sep, encoding_errors="replace")
    except pd.errors.EmptyDataError:
        raise DataError(f"CSV file {path} is empty; it needs a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise DataError(f"cannot parse {path} as CSV: {str(e).splitlines()[0]}") from None
    if len(df) == 0:
        raise DataError(f"CSV file {path} has a header but no data rows")
    return df


def _encode_target(y_raw: np.ndarray, task: str) -> tuple[np.ndarray, list[str] | None]:
    if task == "regression":
        try:
            return y_raw.astype(np.float64), None
        except ValueError:
            raise DataError("data.task=regression needs a numeric target column") from None
    values = np.unique(y_raw.astype(str)) if y_raw.dtype.kind in "OUS" else np.unique(y_raw)
    if y_raw.dtype.kind not in "OUS" and np.all(np.mod(values, 1) == 0):
        values = values.astype(np.int64)
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
