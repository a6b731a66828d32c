import numpy as np
import pandas as pd
import pytest
import torch

from corenets.data import SplitSpec, load_dataset, split_indices
from corenets.data.bundle import Preprocessing, infer_task
from corenets.errors import ConfigError, DataError


def write_table(path, n=60, seed=0, **extra):
    g = np.random.default_rng(seed)
    df = pd.DataFrame({
        "size": g.normal(10, 2, n),
        "colour": g.choice(["red", "green", "blue"], n),
        "weight": g.normal(50, 5, n),
        "label": np.where(np.arange(n) % 3 == 0, "yes", "no"),
    })
    for k, v in extra.items():
        df[k] = v
    df.to_csv(path, index=False)
    return df


def test_csv_table_one_hot_and_standardises_on_training_rows_only(tmp_path):
    df = write_table(tmp_path / "t.csv")
    b = load_dataset("csv_table", SplitSpec(seed=1), path=str(tmp_path / "t.csv"), target="label")
    assert b.task == "binary" and b.classes == ["no", "yes"]
    assert b.input_shape == (2 + 3,)  # two numeric + three colours
    assert sum(b.sizes().values()) == 60
    pre = b.preprocessing
    assert pre.feature_names() == ["size", "weight", "colour=blue", "colour=green", "colour=red"]
    train_idx, _, test_idx = split_indices(np.where(df.label == "yes", 1, 0), SplitSpec(seed=1))
    assert pre.state["mean"][0] == pytest.approx(df["size"].iloc[train_idx].mean())
    assert pre.state["mean"][0] != pytest.approx(df["size"].mean())  # the test rows were not used
    assert torch.allclose(b.train.x[:, 0].mean(), torch.tensor(0.0), atol=1e-5)
    assert set(b.train.x[:, 2:].sum(1).tolist()) == {1.0}


def test_csv_table_regression_scales_the_target_and_inverts_it(tmp_path):
    df = write_table(tmp_path / "t.csv")
    b = load_dataset("csv_table", path=str(tmp_path / "t.csv"), target="weight")
    assert b.task == "regression" and b.num_outputs == 1 and b.classes is None
    pre = b.preprocessing
    back = pre.inverse_target(b.test.y.double())
    gaps = np.abs(back.numpy()[:, None] - df.weight.to_numpy()[None, :]).min(1)
    assert gaps.max() < 1e-4  # every test target maps back to a real row's weight (float32 round-off aside)
    assert b.train.y.mean().abs() < 1e-5


def test_preprocessing_survives_a_round_trip_and_checks_columns(tmp_path):
    df = write_table(tmp_path / "t.csv")
    b = load_dataset("csv_table", path=str(tmp_path / "t.csv"), target="label")
    again = Preprocessing.from_dict(b.preprocessing.to_dict())
    assert torch.equal(again.transform(df), b.preprocessing.transform(df))
    with pytest.raises(DataError, match=r"lacks the training column\(s\) \['colour'\]"):
        again.transform(df.drop(columns=["colour"]))
    unseen = df.head(2).assign(colour="purple")
    assert again.transform(unseen)[:, 2:].sum().item() == 0  # an unseen category is all zeros


@pytest.mark.parametrize("content,options,message", [
    (None, {}, "does not exist"),
    ("", {}, "is empty"),
    ("a,b\n", {}, "header but no data rows"),
    ("a,b\n1,x\n2,x\n3,x\n4,x\n", {}, "only one value"),
    ("a,b\n1,x\n", {"target": "c"}, "target column 'c' is not in the table; its columns are: a, b"),
    ("a,b\n1,x\n2,y\n3,x\n", {}, "too few"),
    ("a,b\n1,x\n,y\n3,x\n4,y\n5,x\n6,y\n7,x\n8,y\n9,x\n10,y\n", {}, "missing values in column"),
])
def test_csv_table_bad_inputs_name_the_problem(tmp_path, content, options, message):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)
    opts = {"path": str(path), "target": "b", **options}
    with pytest.raises(DataError, match=message):
        load_dataset("csv_table", **opts)


def test_missing_values_can_be_imputed_with_training_statistics(tmp_path):
    df = write_table(tmp_path / "t.csv", n=60)
    df.loc[[1, 5], "size"] = np.nan
    df.loc[2, "colour"] = np.nan
    df.to_csv(tmp_path / "t.csv", index=False)
    b = load_dataset("csv_table", path=str(tmp_path / "t.csv"), target="label", missing="impute")
    assert torch.isfinite(b.train.x).all() and torch.isfinite(b.test.x).all()


def test_csv_table_needs_path_and_target():
    with pytest.raises(DataError, match="data.path"):
        load_dataset("csv_table")
    with pytest.raises(DataError, match="data.target"):
        load_dataset("csv_table", path="x.csv")
    with pytest.raises(ConfigError, match="unknown option data.colour"):
        load_dataset("csv_table", colour="x")


def test_splits_are_seeded_stratified_and_disjoint():
    y = np.array([0] * 80 + [1] * 20)
    a = split_indices(y, SplitSpec(seed=0))
    b = split_indices(y, SplitSpec(seed=0))
    c = split_indices(y, SplitSpec(seed=1))
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(a[2], c[2])
    tr, va, te = a
    assert len(set(tr) | set(va) | set(te)) == 100 and len(tr) + len(va) + len(te) == 100
    assert y[te].mean() == pytest.approx(0.2)  # stratified


def test_cv_folds_cover_every_row_once_as_test():
    y = np.array([0, 1] * 25)
    tests = [split_indices(y, SplitSpec(folds=5, fold=k))[2] for k in range(5)]
    assert sorted(np.concatenate(tests).tolist()) == list(range(50))


def test_infer_task():
    assert infer_task(np.array([0, 1, 1, 0])) == "binary"
    assert infer_task(np.array(list(range(5)) * 20)) == "multiclass"
    assert infer_task(np.linspace(0, 1, 100)) == "regression"
    assert infer_task(np.array(["a", "b", "c"])) == "multiclass"


def test_breast_cancer_and_digits_ship_with_scikit_learn():
    b = load_dataset("breast_cancer")
    assert b.classes == ["benign", "malignant"] and b.input_shape == (30,)
    assert sum(b.sizes().values()) == 569
    d = load_dataset("digits")
    assert d.input_shape == (1, 8, 8) and sum(d.sizes().values()) == 1797 and d.num_outputs == 10
