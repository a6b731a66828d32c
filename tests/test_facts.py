"""Data facts flow to the model (issue 16): the vocabulary size and n-gram buckets come from the data, not from
keys a recipe repeats; old configs and model.pt files that still carry such keys, or options since removed, load."""

import warnings

import numpy as np
import pytest
import torch

from corenets.cli import main
from corenets.data import SplitSpec, load_dataset
from corenets.errors import ConfigError
from corenets.models import build_model, models
from corenets.recipes import load_recipe, recipe_names


def _reviews_csv(tmp_path, n=60):
    rng = np.random.default_rng(0)
    good, bad = ["great", "lovely", "superb"], ["awful", "dull", "boring"]
    rows = [f"the film was {rng.choice(good if i % 2 else bad)},{'pos' if i % 2 else 'neg'}" for i in range(n)]
    p = tmp_path / "reviews.csv"
    p.write_text("text,label\n" + "\n".join(rows) + "\n")
    return p


def _only_run(out):
    (run,) = [p for p in out.iterdir() if (p / "model.pt").is_file()]
    return run


# ---------------------------------------------------------------- defect 2: the README's command on the user's CSV


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_text_csv_trains_with_a_recurrent_model_and_no_model_keys(tmp_path, cell, capsys):
    p = _reviews_csv(tmp_path)
    out = tmp_path / "runs"
    rc = main(["run", "--data", "text_csv", "--model", cell, "--set", f"data.path={p}", "--epochs", "1",
               "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    from corenets.runs import load_run

    run = load_run(_only_run(out))
    vocab = run.preprocessing.state["vocab"]
    assert run.model.embed.num_embeddings == len(vocab)  # the data's vocabulary, not a number the user typed
    assert run.predict(["the film was superb", "the film was dull"]).proba.shape == (2, 2)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_sst2_trains_with_a_recurrent_model_and_no_model_keys(tmp_path, cell, capsys):
    from test_text import _sst2_folder

    out = tmp_path / "runs"
    rc = main(["run", "--data", "sst2", "--model", cell, "--set", f"data.path={_sst2_folder(tmp_path)}",
               "data.val_split=random", "data.subwords=64", "--epochs", "1", "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    from corenets.runs import load_run

    run = load_run(_only_run(out))
    assert run.model.grams.num_embeddings == 64 + 1  # the n-gram buckets came from data.subwords too
    assert run.predict(["surely a good movie"]).proba.shape == (1, 2)


# ---------------------------------------------------------------- build_model(facts=...)


def test_build_model_fills_options_the_builder_takes_from_the_facts():
    facts = {"vocab_size": 30, "subwords": 50}
    net = build_model("gru", (12, 5), 1, {"hidden_size": 4, "embed_dim": 6}, facts=facts)
    assert net.embed.num_embeddings == 30 and net.grams.num_embeddings == 51
    ens = build_model("lstm", (12, 5), 1, {"hidden_size": 4}, members=2, task="binary", facts=facts)
    assert all(m.embed.num_embeddings == 30 for m in ens.members)
    mlp = build_model("mlp", (12,), 1, {"hidden": [4]}, facts=facts)  # an mlp takes neither: nothing to fill
    assert mlp[1].in_features == 12
    float_rows = build_model("gru", (7, 3), 2, {"hidden_size": 4}, facts={})  # no facts: float sequences
    assert float_rows.embed is None


def test_a_config_key_that_repeats_a_data_fact_is_ignored_with_a_note():
    with pytest.warns(UserWarning, match=r"model.vocab_size is now taken from the data \(30\); the setting is ignored"):
        net = build_model("gru", (12,), 1, {"hidden_size": 4, "vocab_size": 30}, facts={"vocab_size": 30})
    assert net.embed.num_embeddings == 30
    with pytest.warns(UserWarning, match=r"model.vocab_size is now taken from the data \(30\).*said 20000"):
        net = build_model("gru", (12,), 1, {"hidden_size": 4, "vocab_size": 20000}, facts={"vocab_size": 30})
    assert net.embed.num_embeddings == 30  # the data wins: a mismatch can no longer fail at forward time


def test_an_old_text_config_with_model_vocab_size_still_runs(tmp_path, capsys):
    from corenets.config import from_dict
    from corenets.experiment import run_config

    p = _reviews_csv(tmp_path)
    cfg = from_dict({"name": "old", "out": str(tmp_path / "runs"), "data": {"name": "text_csv", "path": str(p)},
                     "model": {"name": "gru", "vocab_size": 10000, "subwords": 0, "hidden_size": 4, "embed_dim": 4},
                     "train": {"epochs": 1}})
    with pytest.warns(UserWarning, match="model.vocab_size is now taken from the data"):
        run = run_config(cfg, quiet=True)
    assert (run / "model.pt").is_file()


# ---------------------------------------------------------------- saved runs and removed options


def test_a_model_pt_of_the_current_release_loads_and_predicts_identically(tmp_path):
    """Its options hold vocab_size and subwords explicitly and it has no facts: it loads as it was saved."""
    from tiny_runs import text_run

    from corenets.runs import load_run

    path = text_run(tmp_path, model="gru", subwords=40)
    spec = torch.load(path / "model.pt", weights_only=True)
    spec.pop("facts", None)
    spec["format_version"] = 1  # as the current release wrote it: the facts are in the options, nowhere else
    assert spec["model"]["options"]["vocab_size"] > 0 and spec["model"]["options"]["subwords"] == 40
    torch.save(spec, path / "model.pt")
    run = load_run(path)
    x = run.preprocessing.transform(["a good film", "dull and long"])
    torch.manual_seed(0)
    same = models().get("gru")((12, 7), 1, **spec["model"]["options"]).eval()
    same.load_state_dict(spec["state_dict"])
    with torch.no_grad():
        assert torch.equal(run.model(x), same(x))


@pytest.mark.parametrize("removed", [{"word_dropout": 0.1}, {"init": "keras"}])
def test_a_removed_recurrent_option_in_a_saved_run_is_dropped_with_a_note(tmp_path, removed):
    from tiny_runs import text_run

    from corenets.runs import load_run

    path = text_run(tmp_path, model="lstm")
    spec = torch.load(path / "model.pt", weights_only=True)
    before = load_run(path)
    x = before.preprocessing.transform(["a good film", "not good at all"])
    spec["model"]["options"].update(removed)  # as a run of the current release that set the option saved it
    spec.pop("facts", None)
    spec["format_version"] = 1
    torch.save(spec, path / "model.pt")
    key = next(iter(removed))
    with pytest.warns(UserWarning, match=f"model.{key} was removed"):
        after = load_run(path)
    with torch.no_grad():
        assert torch.equal(after.model(x), before.model(x))  # training-only / init-only: the weights are all there


def test_seed_cnn_init_is_dropped_with_a_note():
    with pytest.warns(UserWarning, match="model.init was removed"):
        net = build_model("seed_cnn", (1, 28, 28), 10, {"init": "torch"})
    assert float(net[0].bias.detach().abs().sum()) == 0  # Keras' init, the only one now


def test_removed_models_and_options_are_gone_from_the_builders():
    reg = models()
    assert "resnet_fast" not in reg.names()
    with pytest.raises(ConfigError, match="resnet_fast was removed.*airnet"):
        build_model("resnet_fast", (3, 32, 32), 10, {})
    for name in ("rnn", "lstm", "gru"):
        assert not {"word_dropout", "init"} & set(reg.options(name, skip=2))
    assert "init" not in reg.options("seed_cnn", skip=2)


def test_notes_are_printed_once_per_process():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        for _ in range(3):
            build_model("gru", (12,), 1, {"hidden_size": 4, "vocab_size": 9}, members=2, task="binary",
                        facts={"vocab_size": 9})
    assert len([w for w in seen if "vocab_size" in str(w.message)]) == 1


# ---------------------------------------------------------------- the bundle's facts and the recipes


def test_text_bundles_state_their_facts_and_other_data_states_none(tmp_path):
    p = _reviews_csv(tmp_path)
    plain = load_dataset("text_csv", SplitSpec(seed=0), path=str(p))
    assert plain.facts == {"vocab_size": len(plain.preprocessing.state["vocab"]), "subwords": 0}
    grams = load_dataset("text_csv", SplitSpec(seed=0), path=str(p), subwords=100)
    assert grams.facts["subwords"] == 100
    assert load_dataset("digits").facts == {}


def test_no_recipe_repeats_a_data_fact():
    facts = {"vocab_size", "subwords"}
    for name in recipe_names():
        cfg = load_recipe(name)
        assert not facts & set(cfg.model.options), name


def test_recipe_comments_say_what_a_recipe_is_in_at_most_3_lines():
    from importlib.resources import files

    for name in recipe_names():
        text = files("corenets.recipes").joinpath(f"{name}.yaml").read_text()
        comments = [line for line in text.splitlines() if "#" in line]
        assert len(comments) <= 3, (name, comments)  # tuning histories live in BENCHMARKS.md


def test_every_dataset_and_train_option_is_documented_in_the_guides():
    """A smaller option surface: an option no recipe uses is either removed or documented in the site's written pages,
    not only in the generated config reference (models: test_models)."""
    import dataclasses
    import re
    from pathlib import Path

    from corenets.config import TrainConfig
    from corenets.data import datasets

    docs = "\n".join(p.read_text() for p in sorted((Path(__file__).resolve().parents[1] / "docs").rglob("*.md")))
    documented = lambda key: re.search(rf"`{key}\b|(data|train)\.{key}\b", docs)  # noqa: E731
    reg = datasets()
    missing = [f"data.{k} ({n})" for n in reg.names() for k in reg.options(n, skip=1) if not documented(k)]
    missing += [f"train.{f.name}" for f in dataclasses.fields(TrainConfig) if not documented(f.name)]
    assert not missing, f"not in the docs/ pages: {missing}"
