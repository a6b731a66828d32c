"""Text: GLUE SST-2 and the user's own CSV/TSV of labelled sentences; a word tokenizer and vocabulary.

Sentences become (N, T) int64 token ids, padded at the end with id 0 (the
recurrent models pack them, so padding is never read). Id 1 is the unknown
token. The vocabulary comes from the training split only and is saved in the
run's TextPreprocessing, so ``predict`` takes raw sentences.
"""

from __future__ import annotations

import functools
import re
import warnings
import zlib
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Literal

import numpy as np
import torch

from ..errors import DataError, InputError
from . import DATASETS
from .bundle import CliInputs, DataBundle, Limits, Preprocessing, Split, SplitSpec, _split, split_indices

PAD, UNK = "<pad>", "<unk>"
# Words (with an apostrophe part: don't, n't, 's), or a single punctuation mark.
_TOKEN = re.compile(r"\w+(?:'\w+)?|'\w+|[^\w\s]")
# Penn Treebank escapes, read as the characters they stand for. GLUE SST-2's dev split writes brackets as -lrb-
# and -rrb- and a slash as \/, where its train split writes ( ) and /; left alone they became unknown words and
# stray punctuation in 42 dev sentences.
_PTB_BRACKETS = {"-lrb-": "(", "-rrb-": ")", "-lsb-": "[", "-rsb-": "]", "-lcb-": "{", "-rcb-": "}"}
_PTB_ESCAPE = re.compile(r"-[lr][rsc]b-|\\(?=[/*])")

# The official GLUE SST-2 archive (the md5 torchtext pins for it); holds SST-2/{train,dev,test}.tsv.
SST2_URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"
SST2_MD5 = "9f81648d4199384278b86e315dac217c"


def tokenize(text: str) -> list[str]:
    """Lower-case word-level tokens; punctuation is split off: "It's great!" -> ["it's", "great", "!"].

    Penn Treebank escapes read as what they stand for: "-LRB- a -RRB-" -> ["(", "a", ")"], "\\/" -> "/".
    """
    text = _PTB_ESCAPE.sub(lambda m: _PTB_BRACKETS.get(m.group(), ""), text.lower())
    return _TOKEN.findall(text)


SUBWORD_N = (3, 5)  # character n-grams of "<word>", fastText's way: "<fi", "fil", ..., "lm>", "<fil", ...


@functools.lru_cache(maxsize=1 << 16)  # a word's n-grams are hashed once; bounded, as a server reads any text
def subword_ids(word: str, buckets: int, slots: int) -> tuple[int, ...]:
    """A word's character n-grams, hashed into 1..buckets (0 is "no n-gram"): at most `slots` of them.

    The hash is CRC-32, the same in every process and on every machine (Python's hash() is salted).
    A word with more n-grams than slots keeps the shortest ones first, which every word has.
    """
    w = f"<{word}>"
    grams = dict.fromkeys(w[i: i + n] for n in range(SUBWORD_N[0], SUBWORD_N[1] + 1) for i in range(len(w) - n + 1))
    return tuple(1 + zlib.crc32(g.encode("utf-8")) % buckets for g in list(grams)[:slots])


def build_vocab(texts: Iterable[str], min_freq: int = 1, max_size: int = 10000) -> list[str]:
    """Tokens by frequency (ties alphabetical), pad at 0 and unknown at 1; max_size counts both."""
    if max_size < 3:
        raise DataError(f"data.max_size={max_size} leaves no room for words; it counts <pad> and <unk>, so use >= 3")
    counts = Counter(tok for t in texts for tok in tokenize(t))
    words = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
    return [PAD, UNK, *words[: max_size - 2]]


class TextPreprocessing(Preprocessing):
    """Sentences -> (N, max_len) token ids with the training vocabulary; pad 0, unknown 1.

    With ``subwords`` > 0 (hash buckets) each token also carries its character n-grams: the output is
    (N, max_len, 1 + slots), column 0 the word id and columns 1.. the n-gram buckets (0 = none). A word
    never seen in training is then still read by its pieces ("unwatchable": "<un", "tch", "able>", ...).
    """

    kind = "text"
    input_name = "text"  # the page's text box, and /info's "input"
    classical_baseline = "tokens"  # evaluate/baselines.py: TF-IDF 1-2-grams of the token ids + logistic regression

    @property
    def index(self) -> dict[str, int]:
        if "_index" not in self.__dict__:
            self.__dict__["_index"] = {w: i for i, w in enumerate(self.state["vocab"])}
        return self.__dict__["_index"]

    def facts(self) -> dict[str, Any]:
        """The embedding's rows (the vocabulary, <pad> and <unk> included) and n-gram buckets (0 = none)."""
        return {"vocab_size": len(self.state["vocab"]), "subwords": int(self.state.get("subwords", 0))}

    def transform(self, raw: Any) -> torch.Tensor:
        """A sentence or a list of sentences -> (N, max_len) int64, or (N, max_len, 1 + slots) with subwords."""
        if isinstance(raw, str):
            raw = [raw]
        if hasattr(raw, "tolist"):  # a NumPy array or pandas Series of sentences
            raw = raw.tolist()
        if not isinstance(raw, (list, tuple)) or not all(isinstance(s, str) for s in raw):
            raise InputError(f"this run reads text: give a sentence or a list of sentences, got {type(raw).__name__}")
        if not raw:
            raise InputError("no sentences to predict on; give at least one")
        index, unk, t = self.index, self.index[UNK], self.state["max_len"]
        if self.state.get("subwords", 0) > 0:
            out = np.zeros((len(raw), t, 1 + self.state["slots"]), dtype=np.int64)
            for r, s in enumerate(raw):
                for c, tok in enumerate(tokenize(s)[:t]):
                    grams = subword_ids(tok, self.state["subwords"], self.state["slots"])
                    out[r, c, 0] = index.get(tok, unk)
                    out[r, c, 1: 1 + len(grams)] = grams
            return torch.from_numpy(out)
        out = np.zeros((len(raw), t), dtype=np.int64)
        for r, s in enumerate(raw):
            ids = [index.get(tok, unk) for tok in tokenize(s)][:t]  # long sentences keep their start
            out[r, : len(ids)] = ids
        return torch.from_numpy(out)


    def cli_inputs(self, args: list[str]) -> CliInputs:
        """Sentences as arguments, or one .txt file with a sentence per line."""
        if len(args) == 1 and args[0].endswith(".txt") and Path(args[0]).is_file():
            args = [line for line in Path(args[0]).read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
        return CliInputs(args, [t if len(t) <= 60 else t[:57] + "..." for t in args], "text")

    def http_body(self, limits: Limits) -> Any:
        from .http_body import text_body

        return text_body(limits)

    def http_json(self, body: Any, limits: Limits) -> list[str]:
        texts = (body.get("texts") or body.get("text")) if isinstance(body, dict) else body
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise InputError('send JSON {"text": "a sentence"} or {"texts": ["one", "two"]}')
        empty = [i for i, t in enumerate(texts) if not t.strip()]
        if empty:
            raise InputError(f"text {empty[0] + 1} of {len(texts)} is empty; type a sentence")
        return texts

    def http_files(self, files: list[tuple[str, bytes]], limits: Limits) -> list[str]:
        """Text files: one sentence per line, blank lines skipped."""
        from .http_body import parse_values, text_lines

        lines = text_lines(files, limits)
        return self.http_json(parse_values(self.http_body(limits), {"texts": lines or [""]}, self.hint()), limits)

    def draw(self, ax: Any, x: np.ndarray) -> None:
        """One input as its words (padding left out; a word outside the vocabulary reads <unk>)."""
        import textwrap

        ids = np.asarray(x).reshape(self.state["max_len"], -1)[:, 0]  # with subwords, column 0 is the word id
        words = " ".join(self.state["vocab"][i] for i in ids if i != 0)
        ax.text(0.5, 0.5, textwrap.fill(words, 32), ha="center", va="center", fontsize=8, transform=ax.transAxes)

    def card(self, limits: Limits) -> dict[str, Any]:
        return {"text": {"max_tokens": self.state["max_len"], "vocabulary": len(self.state["vocab"])}}

    def hint(self) -> str:
        return 'POST JSON {"text": "a sentence"} or {"texts": [...]}'

    def document(self, task: str) -> dict[str, Any]:
        """The tokenizer spelled out portably, for a program that is not corenets (text_document.py)."""
        from .text_document import document

        return document(self.state, self.index[UNK], _PTB_BRACKETS, self.postprocess(task))

    def examples(self, x: torch.Tensor) -> list[Any]:
        from .text_document import examples

        return examples(self.state["vocab"], self.state["max_len"], x)


def _spans(text: str) -> set[str]:
    words = text.split()
    return {" ".join(words[a:b]) for a in range(len(words)) for b in range(a + 1, len(words) + 1)}


def sentence_split(texts: list[str], tr: np.ndarray, va: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Make a random validation part leak-free for data whose rows include sub-phrases of other rows.

    SST-2's train file holds each sentence and many of its phrases. A random validation part then
    consists mostly of phrases whose sentence is in training (validation reads about 0.06 above dev).
    Here validation keeps only the rows of `va` that are no word-span of any training row (whole
    sentences, mostly), and it then stands to training as the dev sentences do: training holds every
    other row (the rest of `va` included) except the phrases of the validation sentences, and of those
    it keeps the ones that are also a span of a training row ("the film", "witty"), as training holds
    the phrases that dev sentences share with training sentences.
    """
    norm = [" ".join(t.split()) for t in texts]
    joined = "\n " + " \n ".join(norm[i] for i in tr) + " \n"  # token-bounded search
    keep = np.array([i for i in va if f" {norm[i]} " not in joined], dtype=np.int64)
    held = set().union(*(_spans(norm[i]) for i in keep)) if len(keep) else set()
    kept = set(keep.tolist())
    rest = [i for i in np.union1d(tr, va).tolist() if i not in kept]
    free = [i for i in rest if norm[i] not in held]
    joined = "\n " + " \n ".join(norm[i] for i in free) + " \n"
    shared = [i for i in rest if norm[i] in held and f" {norm[i]} " in joined]
    train = np.array(sorted(free + shared), dtype=np.int64)
    if len(keep) < 2 or len(train) < 2:
        raise DataError(
            f"the sentence-level validation split left {len(keep)} validation and {len(train)} training rows; "
            "raise data.val_fraction or set data.val_split=random"
        )
    return train, keep


def text_bundle(
    texts: list[str], labels: np.ndarray, spec: SplitSpec, name: str, max_len: int, min_freq: int, max_size: int,
    test: tuple[list[str], np.ndarray] | None = None, val_split: str = "random", subwords: int = 0,
    subword_slots: int = 24,
) -> DataBundle:
    """Encode labels, split (stratified, seeded), build the vocabulary on the training part only."""
    raw_classes = np.unique(labels.astype(str))
    if len(raw_classes) < 2:
        raise DataError(f"the label column has only one class ({raw_classes[0]!r}); a classifier needs at least two")
    values = sorted(set(labels.tolist()), key=lambda v: (str(type(v)), v))
    lookup = {v: i for i, v in enumerate(values)}
    y = np.array([lookup[v] for v in labels.tolist()], dtype=np.int64)
    if test is None:
        tr, va, te = split_indices(y, spec)
        te_texts, yte = [texts[i] for i in te], y[te]
    else:
        tr, va = _split(np.arange(len(y)), y, spec.val_fraction, spec.seed + 1, "validation")
        if val_split == "sentences":
            tr, va = sentence_split(texts, tr, va)
        unknown = sorted(set(test[1].tolist()) - set(values), key=str)
        if unknown:
            raise DataError(f"the test split has label(s) {unknown} that training lacks")
        te_texts, yte = test[0], np.array([lookup[v] for v in test[1].tolist()], dtype=np.int64)
    train_texts = [texts[i] for i in tr]
    if max_len < 0:
        raise DataError(f"data.max_len={max_len} must be >= 1 (or 0 for the longest training sentence)")
    if max_len == 0:
        max_len = max(1, max(len(tokenize(s)) for s in train_texts))
    if subwords < 0 or subword_slots < 1:
        raise DataError(f"data.subwords={subwords} (hash buckets, 0 = off) must be >= 0 and "
                        f"data.subword_slots={subword_slots} >= 1")
    vocab = build_vocab(train_texts, min_freq, max_size)  # the training split only: no leakage
    extra = {"subwords": subwords, "slots": subword_slots, "ngrams": list(SUBWORD_N)} if subwords else {}
    pre = TextPreprocessing(vocab=vocab, max_len=max_len, **extra)
    split = lambda idx: Split(pre.transform([texts[i] for i in idx]), torch.from_numpy(y[idx]))  # noqa: E731
    classes = [str(v) for v in values]
    withheld = np.setdiff1d(np.arange(len(y)), np.union1d(tr, va)) if test is not None else np.array([], np.int64)
    return DataBundle(
        train=split(tr), val=split(va), test=Split(pre.transform(te_texts), torch.from_numpy(yte)),
        task="binary" if len(classes) == 2 else "multiclass",
        input_shape=(max_len, 1 + subword_slots) if subwords else (max_len,), classes=classes,
        preprocessing=pre, meta={"dataset": name, "vocab_size": len(vocab), "max_len": max_len, "subwords": subwords},
        withheld=(lambda: split(withheld)) if len(withheld) else None,
    )


def _read_table(path: Path, sep: str | None) -> Any:
    """Read a CSV/TSV; bytes that are not UTF-8 are replaced, with a warning that says so."""
    import pandas as pd

    if not path.is_file():
        raise DataError(f"text file {path} does not exist; check data.path")
    from .formats import check_cells, check_lines

    with open(path, "rb") as f:
        check_lines(f, path)  # a 1 GB line is refused before it is read whole
    data = path.read_bytes()
    if not data.strip():
        raise DataError(f"text file {path} is empty; it needs a header row and data rows")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        warnings.warn(f"{path} is not valid UTF-8 (first bad byte at offset {e.start}); undecodable bytes were replaced by U+FFFD")
    if sep is None:
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    import csv
    import io

    quoting = csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL  # GLUE TSVs hold bare quote marks
    try:
        df = pd.read_csv(io.BytesIO(data), sep=sep, quoting=quoting, encoding="utf-8", encoding_errors="replace",
                         keep_default_na=False, dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
        raise DataError(f"cannot parse {path} as {'TSV' if sep == chr(9) else 'CSV'}: {str(e).splitlines()[0]}") from None
    check_cells(df, path)
    return df


def _columns(df: Any, text: str, label: str, path: Path) -> tuple[list[str], np.ndarray]:
    for role, col in (("text", text), ("label", label)):
        if col not in df.columns:
            raise DataError(
                f"{path.name} has no {role} column '{col}'; its columns are: {', '.join(map(str, df.columns))}; "
                f"set data.{role}=COLUMN"
            )
    texts = df[text].astype(str)
    empty = texts.str.strip() == ""
    if empty.all():
        raise DataError(f"every row of {path.name} has an empty '{text}' column")
    if empty.any():
        rows = (np.flatnonzero(empty.to_numpy()) + 2)[:5].tolist()  # +2: header line, 1-based
        warnings.warn(f"{int(empty.sum())} row(s) of {path.name} have empty text (lines {rows}...); they were dropped")
        df = df[~empty.to_numpy()]
    labels = df[label].astype(str).str.strip()
    if (labels == "").any():
        raise DataError(f"{int((labels == '').sum())} row(s) of {path.name} have no label in column '{label}'; fill or drop them")
    as_int = labels.str.fullmatch(r"-?\d{1,18}").all()  # longer digit strings do not fit int64: class names
    y = labels.astype(np.int64).to_numpy() if as_int else labels.to_numpy()
    return df[text].astype(str).tolist(), y


@DATASETS.register()
def text_csv(
    spec: SplitSpec,
    path: str = "",
    text: str = "text",
    label: str = "label",
    sep: str | None = None,
    max_len: int = 64,
    min_freq: int = 1,
    max_size: int = 20000,
    subwords: int = 0,
    subword_slots: int = 24,
) -> DataBundle:
    """Your own CSV/TSV of sentences and labels (any number of classes); word tokens, vocabulary from train only.

    subwords > 0 adds each word's character n-grams, hashed into that many buckets (the model learns a vector
    for each bucket; build_model takes the number from the data).
    """
    if not path:
        raise DataError("text_csv needs a file: --set data.path=reviews.csv data.text=COLUMN data.label=COLUMN")
    p = Path(path)
    texts, y = _columns(_read_table(p, sep), text, label, p)
    return text_bundle(texts, y, spec, f"text_csv:{p.name}", max_len, min_freq, max_size,
                       subwords=subwords, subword_slots=subword_slots)


def _sst2_files(path: str) -> tuple[Any, Any]:
    """train and dev tables from a folder (train.tsv, dev.tsv), a GLUE zip, or the cache."""
    import zipfile

    if path:
        p = Path(path)
        if p.is_dir():
            for name in ("train.tsv", "dev.tsv"):
                if not (p / name).is_file():
                    raise DataError(f"{p} has no {name}; data.path must hold the GLUE SST-2 train.tsv and dev.tsv (or be SST-2.zip)")
            return _read_table(p / "train.tsv", "\t"), _read_table(p / "dev.tsv", "\t")
        if not p.is_file():
            raise DataError(f"data.path={path} does not exist; give the SST-2 folder or SST-2.zip")
        archive = p
    else:
        from .download import Remote, fetch

        archive = fetch(Remote("SST-2.zip", SST2_URL, md5=SST2_MD5), "sst2")
    import tempfile

    try:
        with zipfile.ZipFile(archive) as z, tempfile.TemporaryDirectory() as tmp:
            out = []
            for name in ("train.tsv", "dev.tsv"):
                member = next((m for m in z.namelist() if m.endswith("/" + name) or m == name), None)
                if member is None:
                    raise DataError(f"{archive} has no {name}; it is not the GLUE SST-2 archive")
                target = Path(tmp) / name
                target.write_bytes(z.read(member))
                out.append(_read_table(target, "\t"))
            return out[0], out[1]
    except zipfile.BadZipFile:
        raise DataError(f"{archive} is not a zip archive; give the SST-2 folder or the official SST-2.zip") from None


@DATASETS.register()
def sst2(
    spec: SplitSpec, path: str = "", max_len: int = 64, min_freq: int = 1, max_size: int = 10000,
    val_split: Literal["sentences", "random"] = "sentences", subwords: int = 0, subword_slots: int = 24,
) -> DataBundle:
    """GLUE SST-2 sentiment (67,349 train rows: sentences and their phrases); the labelled dev split is the test split.

    val_split "sentences" (the default) carves validation from train without phrase leakage (see
    ``sentence_split``): whole sentences, like dev; "random" is a plain stratified sample of rows.
    """
    train, dev = _sst2_files(path)
    texts, y = _columns(train, "sentence", "label", Path("train.tsv"))
    dev_texts, dev_y = _columns(dev, "sentence", "label", Path("dev.tsv"))
    bundle = text_bundle(texts, y, spec, "sst2", max_len, min_freq, max_size, test=(dev_texts, dev_y),
                         val_split=val_split, subwords=subwords, subword_slots=subword_slots)
    bundle.classes = ["negative", "positive"]  # GLUE: 0 = negative, 1 = positive
    return bundle
