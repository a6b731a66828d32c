"""Text loaders: tokenizer, vocabulary from training rows only, text_csv bad inputs, SST-2 from a folder or zip."""

import zipfile

import numpy as np
import pytest
import torch

from corenets.data import Preprocessing, SplitSpec, load_dataset
from corenets.data.text import PAD, UNK, build_vocab, tokenize
from corenets.errors import ConfigError, DataError


def test_tokenize_lowercases_and_splits_punctuation():
    assert tokenize("It's GREAT, isn't it?!") == ["it's", "great", ",", "isn't", "it", "?", "!"]
    assert tokenize("does n't work") == ["does", "n't", "work"]  # SST-2's own tokenisation survives


def test_tokenize_reads_penn_treebank_escapes_as_their_characters():
    # SST-2 dev writes "-lrb- hill -rrb-" and "funny\/gritty"; train writes "( hill )" and "funny/gritty".
    assert tokenize(r"while -LRB- hill -rrb- , funny\/gritty") == tokenize("while ( hill ) , funny/gritty")
    assert tokenize(r"-lsb- x -rsb- -lcb- y -rcb- \*") == ["[", "x", "]", "{", "y", "}", "*"]
    assert tokenize(r"a \ b -lrb") == ["a", "\\", "b", "-", "lrb"]  # only whole escapes are read


def test_vocab_min_freq_and_max_size():
    v = build_vocab(["b a a c", "a b d"], min_freq=2)
    assert v == [PAD, UNK, "a", "b"]
    assert build_vocab(["b a a c", "a b d"], max_size=3) == [PAD, UNK, "a"]


def _write_csv(tmp_path, rows, name="reviews.csv", header="text,label"):
    p = tmp_path / name
    p.write_text(header + "\n" + "\n".join(rows) + "\n")
    return p


def _reviews(n=60):
    rng = np.random.default_rng(0)
    good, bad, mid = ["great", "fine", "lovely"], ["awful", "dull", "bad"], ["ok", "meh"]
    rows = []
    for i in range(n):
        k = i % 3
        words = [good, bad, mid][k]
        rows.append(f"the film was {rng.choice(words)} and {rng.choice(words)},{['pos', 'neg', 'neutral'][k]}")
    return rows


def test_text_csv_multiclass_and_no_leakage(tmp_path):
    rows = _reviews()
    rows.append("zzzleak zzzleak,pos")  # a word that may land in val or test, never in the vocabulary unless in train
    p = _write_csv(tmp_path, rows)
    b = load_dataset("text_csv", SplitSpec(seed=0), path=str(p), max_len=8)
    assert b.task == "multiclass" and b.classes == ["neg", "neutral", "pos"]
    assert b.input_shape == (8,) and b.train.x.dtype == torch.int64
    vocab = b.preprocessing.state["vocab"]
    # every vocabulary word occurs in some training row: rebuild from the train ids
    train_ids = set(b.train.x.unique().tolist()) - {0}
    assert set(range(2, len(vocab))) <= train_ids
    leak_in_train = any("zzzleak" == vocab[i] for i in train_ids if i > 1)
    assert ("zzzleak" in vocab) == leak_in_train
    pre = Preprocessing.from_dict(b.preprocessing.to_dict())
    x = pre.transform(["The film was GREAT!", "unheard words"])
    assert x.shape == (2, 8) and x[1, :2].tolist() == [1, 1]  # unknown words -> <unk>
    with pytest.raises(DataError, match="sentence"):
        pre.transform([[1.0, 2.0]])


def test_text_csv_bad_inputs(tmp_path):
    with pytest.raises(DataError, match="no text column 'text'.*data.text"):
        load_dataset("text_csv", path=str(_write_csv(tmp_path, ["a,1", "b,0"], header="review,label")))
    with pytest.raises(DataError, match="only one class"):
        load_dataset("text_csv", path=str(_write_csv(tmp_path, [f"w{i},1" for i in range(20)], name="one.csv")))
    rows = _reviews() + [",pos", "  ,neg"]
    with pytest.warns(UserWarning, match="2 row.*empty text"):
        b = load_dataset("text_csv", path=str(_write_csv(tmp_path, rows, name="empty.csv")))
    assert sum(b.sizes().values()) == 60
    p = tmp_path / "latin1.csv"
    p.write_bytes(("text,label\n" + "\n".join(_reviews()) + "\ncaf\xe9 cr\xe8me,pos\n").encode("latin-1"))
    with pytest.warns(UserWarning, match="not valid UTF-8.*replaced"):
        load_dataset("text_csv", path=str(p))


def _sst2_folder(tmp_path):
    d = tmp_path / "SST-2"
    d.mkdir()
    rows = ["sentence\tlabel"] + [f"a {'good' if i % 2 else 'bad'} \"movie\" {i}\t{i % 2}" for i in range(40)]
    (d / "train.tsv").write_text("\n".join(rows) + "\n")
    (d / "dev.tsv").write_text("sentence\tlabel\nsurely good\t1\nnever seen bad\t0\n")
    return d


def test_sst2_dev_is_test_and_zip(tmp_path):
    d = _sst2_folder(tmp_path)
    b = load_dataset("sst2", path=str(d))
    assert b.sizes() == {"train": 36, "val": 4, "test": 2}
    assert b.classes == ["negative", "positive"] and b.test.y.tolist() == [1, 0]
    assert "surely" not in b.preprocessing.state["vocab"]  # dev words never enter the vocabulary
    z = tmp_path / "SST-2.zip"
    with zipfile.ZipFile(z, "w") as f:
        for name in ("train.tsv", "dev.tsv"):
            f.write(d / name, f"SST-2/{name}")
    bz = load_dataset("sst2", path=str(z))
    assert torch.equal(bz.train.x, b.train.x)


def test_sst2_validation_holds_whole_sentences_and_training_drops_their_phrases(tmp_path):
    from corenets.data.text import sentence_split

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    sentences = [" ".join(rng.choice(words, 8)) + f" s{k}" for k in range(30)]  # s<k> makes each sentence unique
    rows = []
    for k, s in enumerate(sentences):  # SST-2's layout: each sentence and some of its phrases
        w = s.split()
        rows += [(s, k % 2), (" ".join(w[2:6]), k % 2), (" ".join(w[5:]), k % 2)]
    d = tmp_path / "SST-2"
    d.mkdir()
    (d / "train.tsv").write_text("sentence\tlabel\n" + "\n".join(f"{t}\t{y}" for t, y in rows) + "\n")
    (d / "dev.tsv").write_text("sentence\tlabel\nw1 w2\t1\nw3 w4\t0\n")
    texts = [t for t, _ in rows]
    held = np.arange(60, 90, 3)  # sentences 20..29; their phrases start in training, as a random split leaves them
    tr, va = sentence_split(texts, np.setdiff1d(np.arange(1, 90), held), np.r_[held, 0, 1])
    spans = lambda t: {" ".join(t.split()[a:b]) for a in range(9) for b in range(a + 1, 10)}  # noqa: E731
    for v in va:  # no validation row is a phrase of a training row, and no training row a phrase of a validation row
        assert not any(texts[v] in spans(texts[t]) or texts[t] in spans(texts[v]) for t in tr)
    assert sorted(va.tolist()) == [0, *held.tolist()]  # whole sentences; row 1 (a phrase of sentence 0) is dropped
    assert sorted(tr.tolist()) == list(range(3, 60))  # the phrases of the validation sentences (rows 2, 61, 62, ...) left
    grouped = load_dataset("sst2", SplitSpec(seed=0, val_fraction=0.3), path=str(d))
    plain = load_dataset("sst2", SplitSpec(seed=0, val_fraction=0.3), path=str(d), val_split="random")
    assert grouped.sizes()["val"] < plain.sizes()["val"] and grouped.sizes()["train"] < plain.sizes()["train"]
    with pytest.raises(ConfigError, match="val_split='phrases' is not valid"):
        load_dataset("sst2", path=str(d), val_split="phrases")


def test_sentence_split_gives_training_every_row_that_is_no_private_phrase_of_a_validation_sentence():
    """Validation must stand to training as dev does: dev's sentences share short phrases with training."""
    from corenets.data.text import sentence_split

    texts = [
        "a witty and moving film",  # 0: training sentence
        "witty",                    # 1: its phrase, also a phrase of the validation sentence 4
        "moving film",              # 2: its phrase only
        "a dull , long film",       # 3: training sentence
        "dull and witty work",      # 4: validation sentence
        "dull and witty",           # 5: a phrase of 4 alone: would leak 4's label, so dropped
        "long film",                # 6: drawn into the random validation part, a phrase of training sentence 3
        "work",                     # 7: a phrase of 4 alone
        "an odd , quiet tale",      # 8: validation sentence
    ]
    tr, va = sentence_split(texts, np.array([0, 1, 2, 3, 5, 7]), np.array([4, 6, 8]))
    assert va.tolist() == [4, 8]  # row 6 is a phrase of a training row, so no validation row
    assert tr.tolist() == [0, 1, 2, 3, 6]  # 6 goes back to training; 1 stays, as sentence 0 holds "witty" too


def test_sst2_offline_without_cache_is_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("CORENETS_HOME", str(tmp_path))
    monkeypatch.setenv("CORENETS_OFFLINE", "1")
    with pytest.raises(DataError, match="SST-2.zip.*not in the cache"):
        load_dataset("sst2")


def test_predict_takes_raw_sentences(tmp_path, capsys):
    from corenets.cli import main
    from corenets.config import from_dict
    from corenets.experiment import run_config

    p = _write_csv(tmp_path, _reviews(90))
    cfg = from_dict({"name": "t", "out": str(tmp_path / "runs"), "data": {"name": "text_csv", "path": str(p), "max_len": 8},
                     "model": {"name": "gru", "embed_dim": 8, "hidden_size": 8},
                     "train": {"epochs": 1, "batch_size": 16}})
    run = run_config(cfg, quiet=True)
    assert main(["predict", str(run), "the film was great", "awful and dull"]) == 0
    out = capsys.readouterr().out
    assert "p(neg)" in out and "awful and dull" in out


def test_subwords_are_crc32_hashed_character_ngrams_shortest_first(tmp_path):
    import zlib

    from corenets.data.text import subword_ids

    ids = subword_ids("film", 1000, 24)  # "<film>": 4 trigrams, 3 four-grams, 2 five-grams
    assert len(ids) == 9 and all(1 <= i <= 1000 for i in ids)
    assert ids[0] == 1 + zlib.crc32(b"<fi") % 1000 and ids[-1] == 1 + zlib.crc32(b"film>") % 1000
    assert subword_ids("film", 1000, 4) == ids[:4]  # fewer slots keep the trigrams
    p = _write_csv(tmp_path, _reviews())
    b = load_dataset("text_csv", SplitSpec(seed=0), path=str(p), max_len=8, subwords=1000, subword_slots=10)
    assert b.input_shape == (8, 11) and tuple(b.train.x.shape[1:]) == (8, 11) and b.train.x.dtype == torch.int64
    pre = Preprocessing.from_dict(b.preprocessing.to_dict())  # as a run saves and loads it
    x = pre.transform(["great", "greatest"])
    assert x[0, 0, 0] >= 2 and x[1, 0, 0] == 1  # "greatest" is no training word ...
    assert x[1, 0, 1:5].tolist() == x[0, 0, 1:5].tolist()  # ... but shares "<gr", "gre", "rea", "eat" with "great"
    assert not x[:, 1:].any()  # padding: no word, no n-grams
    with pytest.raises(DataError, match="data.subwords=-1"):
        load_dataset("text_csv", SplitSpec(seed=0), path=str(p), subwords=-1)


def test_subwords_let_a_trained_model_read_inflections_it_never_saw(tmp_path, capsys):
    from corenets.cli import main
    from corenets.config import from_dict
    from corenets.experiment import run_config
    from corenets.runs import load_run

    good, bad = ["great", "lovely", "superb", "wonderful"], ["awful", "dull", "boring", "dreadful"]
    rng = np.random.default_rng(0)
    rows = [f"the {rng.choice(['film', 'show', 'plot'])} was {w},{lab}" for _ in range(30)
            for w, lab in [(rng.choice(good), "pos"), (rng.choice(bad), "neg")]]
    p = _write_csv(tmp_path, rows)
    cfg = {"name": "t", "out": str(tmp_path / "runs"), "seed": 0,
           "data": {"name": "text_csv", "path": str(p), "max_len": 6, "subwords": 500, "subword_slots": 12},
           "model": {"name": "gru", "embed_dim": 16, "hidden_size": 16},  # vocabulary and buckets: from the data
           "train": {"epochs": 15, "batch_size": 8, "lr": 0.01}}
    run = run_config(from_dict(cfg), quiet=True)
    unseen = {"greatest": "pos", "lovelier": "pos", "superbly": "pos", "wonderfully": "pos",
              "awfully": "neg", "duller": "neg", "boringly": "neg", "dreadfully": "neg"}
    r = load_run(run)
    x = r.preprocessing.transform([f"the film was {w}" for w in unseen])
    assert (x[:, 3, 0] == 1).all()  # every one of them is <unk> as a word
    with torch.no_grad():
        p_pos = torch.sigmoid(r.model.eval()(x)[:, 0])
    right = sum((p > 0.5) == (lab == "pos") for p, lab in zip(p_pos.tolist(), unseen.values()))
    assert right >= 7, p_pos  # read by their pieces; without n-grams all eight are the same sentence
    assert main(["predict", str(run), "the plot was wonderfully"]) == 0
    assert "the plot was wonderfully" in capsys.readouterr().out
    assert r.model.grams.num_embeddings == 500 + 1


@pytest.mark.parametrize("recipe", ["sst2-lstm", "sst2-gru", "sst2-best"])
def test_sst2_recipes_run_end_to_end_on_a_file_of_the_official_format(tmp_path, recipe):
    """The shipped recipes, data and model settings together (sst2-best's n-grams on both sides), one short epoch."""
    import json

    from corenets.config import apply_overrides
    from corenets.experiment import run_config
    from corenets.recipes import load_recipe

    d = _sst2_folder(tmp_path)
    cfg = apply_overrides(load_recipe(recipe), [f"data.path={d}", f"out={tmp_path / 'runs'}", "train.epochs=1",
                                                "data.val_split=random"])
    run = run_config(cfg, quiet=True)
    m = json.loads((run / "metrics.json").read_text())
    assert m["test"]["n"] == 2 and m["data"]["test"] == 2  # dev is the test split
    assert m["members"] == (5 if recipe == "sst2-best" else 1)
    slots = m["data"]["input_shape"][1:]  # sst2-best's tokens carry 24 n-gram slots; the seed recipes' do not
    assert slots == ([25] if recipe == "sst2-best" else [])
    from corenets.runs import load_run

    pred = load_run(run).predict(["surely a good movie", "unheard-of badness"])  # raw sentences, unseen words
    assert pred.proba.shape == (2, 2) and np.allclose(pred.proba.sum(1), 1)
