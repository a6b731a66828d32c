"""A nested SST-2: train.tsv alone split into a smaller train.tsv and a held-out dev.tsv of whole sentences.

For questions the real validation split cannot answer, such as whether a refit on training + validation
helps: the refit trains on the validation rows, so they cannot score it. Here the held-out sentences
(about as many as the real validation split's, chosen like it by ``sentence_split``, their phrases left
out of training) play the dev split's part, and the recipe carves its own validation from the rest. The real
dev split is never read.

    .venv/bin/python benchmarks/nested_sst2.py ../shared/data/sst2 /tmp/nested-sst2 [--seed 7777]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from corenets.data.bundle import _split
    from corenets.data.text import _read_table, sentence_split

    p = argparse.ArgumentParser()
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=7777)
    p.add_argument("--fraction", type=float, default=0.1)
    a = p.parse_args(argv)
    df = _read_table(Path(a.src) / "train.tsv", "\t")
    texts, y = df["sentence"].astype(str).tolist(), df["label"].to_numpy()
    tr, va = _split(np.arange(len(y)), y, a.fraction, a.seed, "held-out")
    tr, held = sentence_split(texts, tr, va)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, idx in (("train.tsv", tr), ("dev.tsv", held)):
        lines = ["sentence\tlabel"] + [f"{texts[i]}\t{int(y[i])}" for i in idx]  # the GLUE layout, unquoted
        (out / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{out}: train.tsv {len(tr):,} rows, dev.tsv {len(held):,} held-out sentences "
          f"({len(y) - len(tr) - len(held):,} phrases of them left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
