"""The composability matrix: every registered dataset crossed with every registered model, through the CLI.

Each dataset reads tiny fixture data written in its official format (no network), with no keys beyond
those that point to the data. A pair whose model can read the data trains one epoch and writes metrics.json;
a pair that cannot exits 2 with one line naming a model that fits, and leaves no folder behind.
The cells come from the registries, so a new model or dataset joins the matrix when it registers.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from corenets import cli, compat
from corenets.data import datasets, load_dataset
from corenets.models import models
from vision_fixtures import class_images, write_cifar, write_mnist_like


def _mnist(root: Path) -> dict:
    return {"path": str(write_mnist_like(root / "idx", n_train=100, n_test=20))}


def _cifar(root: Path) -> dict:
    return {"path": str(write_cifar(root / "cifar-10-batches-py", per_batch=20, n_test=20))}


def _image_folder(root: Path) -> dict:
    from PIL import Image

    x, y = class_images(30, 32, 3, seed=3, classes=3)
    for i, (img, k) in enumerate(zip(x, y)):
        (root / "pics" / f"class{k}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.transpose(1, 2, 0)).save(root / "pics" / f"class{k}" / f"{i}.png")
    return {"path": str(root / "pics")}


def _csv_table(root: Path) -> dict:
    g = np.random.default_rng(0)
    n = 60
    pd.DataFrame({"size": g.normal(10, 2, n), "colour": g.choice(["red", "green", "blue"], n),
                  "label": np.where(np.arange(n) % 3 == 0, "yes", "no")}).to_csv(root / "table.csv", index=False)
    return {"path": str(root / "table.csv"), "target": "label"}


def _sentences(n: int) -> list[tuple[str, int]]:
    g = np.random.default_rng(0)
    good, bad = ["great", "lovely", "moving"], ["dull", "awful", "long"]
    return [(f"the film was {g.choice(good if i % 2 else bad)} and {g.choice(good if i % 2 else bad)}", i % 2)
            for i in range(n)]


def _text_csv(root: Path) -> dict:
    (root / "reviews.csv").write_text("text,label\n" + "\n".join(f"{t},{y}" for t, y in _sentences(60)) + "\n")
    return {"path": str(root / "reviews.csv")}


def _sst2(root: Path) -> dict:
    d = root / "SST-2"
    d.mkdir()
    (d / "train.tsv").write_text("sentence\tlabel\n" + "\n".join(f"{t} {i}\t{y}" for i, (t, y) in enumerate(_sentences(40))) + "\n")
    (d / "dev.tsv").write_text("sentence\tlabel\nsurely great\t1\nnever seen dull\t0\n")
    return {"path": str(d)}


# Datasets that need files get tiny ones here; a dataset not named reads its own (digits, breast_cancer,
# price_csv's shipped excerpt). A new dataset that needs a file fails its row until it is given one.
FIXTURES = {"mnist": _mnist, "fashion_mnist": _mnist, "cifar10": _cifar, "image_folder": _image_folder,
            "csv_table": _csv_table, "text_csv": _text_csv, "sst2": _sst2}
# The sequence views make two more input kinds (images read as rows, table rows read as features)
VIEWS = {"digits": ["rows"], "breast_cancer": ["features"]}

ROWS = [(d, "none") for d in datasets().names()] + [(d, v) for d, vs in VIEWS.items() for v in vs]
CELLS = [pytest.param(d, v, m, id=f"{d}{'' if v == 'none' else '-as-' + v}-{m}") for d, v in ROWS for m in models().names()]


@pytest.fixture(autouse=True)
def _offline(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CORENETS_HOME", str(tmp_path_factory.getbasetemp() / "home"))
    monkeypatch.setenv("CORENETS_OFFLINE", "1")  # tests never download


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """(dataset, view) -> (data options, loaded bundle), each fixture written and loaded once."""
    root, cache = tmp_path_factory.mktemp("data"), {}

    def get(name: str, view: str):
        if (name, view) not in cache:
            folder = root / f"{name}-{view}"
            folder.mkdir()
            options = FIXTURES[name](folder) if name in FIXTURES else {}
            if view != "none":
                options["as_sequence"] = view
            cache[name, view] = options, load_dataset(name, **options)
        return cache[name, view]

    return get


@pytest.mark.parametrize("dataset,view,model", CELLS)
def test_every_pair_trains_or_is_refused_before_a_folder_exists(dataset, view, model, data, tmp_path, capsys):
    options, bundle = data(dataset, view)
    fits = compat.fitting_models(bundle)
    out = tmp_path / "runs"
    sets = [f"data.{k}={v}" for k, v in options.items()]
    argv = ["run", "--data", dataset, "--model", model, *(["--set", *sets] if sets else []),
            "--out", str(out), "--epochs", "1", "--quiet"]
    code = cli.main(argv)
    _, err = capsys.readouterr()
    if model in fits:
        assert code == 0, err
        (run,) = out.iterdir()
        assert (run / "metrics.json").is_file()  # written last: the run finished
        assert len(pd.read_csv(run / "history.csv")) == 1  # one epoch
        return
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("corenets: error: "), err
    named = [m for m in fits if re.search(rf"\b{m}\b", lines[0])]
    assert named, f"the refusal names no model that fits {dataset} ({', '.join(fits)}): {lines[0]}"
    assert not out.exists() or not any(out.iterdir()), f"a refused pair left {list(out.iterdir())}"


def test_every_dataset_has_a_model_that_fits(data):
    for name, view in ROWS:
        assert compat.fitting_models(data(name, view)[1]), f"no registered model reads {name} ({view})"


def test_every_model_declares_what_it_reads():
    for name in models().names():
        declared = models().info(name).get("reads")
        assert declared and set(declared) <= set(compat.FORMS), f"{name} declares reads={declared!r}"


def test_the_families_fit_the_data_they_were_made_for(data):
    """The rule itself, pinned for the families that ship (a model added later joins the matrix, not this table)."""
    recurrent, cnns = {"rnn", "lstm", "gru"}, {"seed_cnn", "cnn_bn", "small_cnn", "airnet"}
    shipped = recurrent | cnns | {"mlp"}
    fits = lambda name, view="none": set(compat.fitting_models(data(name, view)[1])) & shipped  # noqa: E731
    for text in ("text_csv", "sst2"):
        assert fits(text) == recurrent  # token ids need an embedding front; mlp and the CNNs would read ids as numbers
    for table in ("breast_cancer", "csv_table"):
        assert fits(table) == {"mlp"}
    assert fits("breast_cancer", "features") == recurrent | {"mlp"}
    assert fits("digits", "rows") == recurrent | {"mlp"}
    assert fits("price_csv") == recurrent | {"mlp"}
    for images in ("mnist", "fashion_mnist", "cifar10", "image_folder"):
        assert fits(images) == cnns | {"mlp"}
    assert fits("digits") == {"small_cnn", "cnn_bn", "mlp"}  # 8x8 is too small for seed_cnn and airnet


def test_a_refusal_says_what_the_model_reads_what_the_data_is_and_what_fits(data):
    from corenets.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        compat.check_model_fits("lstm", data("breast_cancer", "none")[1])
    assert str(e.value) == ("lstm reads float sequences (T, F) or token ids (T,), but breast_cancer gives table rows "
                            "of 30 features; use mlp, or keep lstm and set data.as_sequence=features")
    with pytest.raises(ConfigError, match=r"gru reads .* but digits gives images \(1, 8, 8\); use cnn_bn, mlp or "
                                          r"small_cnn, or keep gru and set data.as_sequence=rows$"):
        compat.check_model_fits("gru", data("digits", "none")[1])
    with pytest.raises(ConfigError, match=r"^mlp reads .*, but sst2 gives token ids \(64,\); use gru, lstm or rnn$"):
        compat.check_model_fits("mlp", data("sst2", "none")[1])
    with pytest.raises(ConfigError, match=r"^cnn_bn reads images \(C, H, W\), but digits read as rows gives sequences of "
                                          r"8 steps x 8 features; use gru, lstm, mlp or rnn, or keep cnn_bn and leave "
                                          r"out data.as_sequence$"):
        compat.check_model_fits("cnn_bn", data("digits", "rows")[1])
    with pytest.raises(ConfigError, match=r"unknown model 'lstn'.* choose one of: airnet, .*lstm"):
        compat.check_model_fits("lstn", data("sst2", "none")[1])


def test_the_cli_refuses_a_pair_with_the_one_line_and_lists_what_each_model_reads(capsys, tmp_path):
    out = tmp_path / "runs"
    code = cli.main(["run", "--data", "price_csv", "--model", "small_cnn", "--out", str(out), "--epochs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err == ("corenets: error: small_cnn reads images (C, H, W), but price_csv:msft_excerpt.csv gives sequences "
                   "of 60 steps x 1 feature; use gru, lstm, mlp or rnn\n")
    assert cli.main(["list", "models"]) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert set(listed) == set(models().names())
    assert "sequence, tokens" in listed["lstm"] and "features, sequence, image" in listed["mlp"]
    assert " image " in listed["small_cnn"] and "tokens" not in listed["small_cnn"]
