"""The text kind's part of the export document: its tokenizer in a syntax regex engines agree on, and test vectors.

text.py's tokenizer is Python `re`, where \\w is any Unicode letter or number; JavaScript (and many engines) read
\\w as ASCII, so a client following that pattern split "cliché" into "clich", "é". The pattern here is the same
tokenizer written portably: Python's \\w is exactly [\\p{L}\\p{N}_] and \\s exactly the code points of _SPACE
(tests/test_export_document.py checks both over every code point).
"""

from __future__ import annotations

import unicodedata
from typing import Any

import torch

_WORD = r"\p{L}\p{N}_"
_SPACE = r"\u0009-\u000d\u001c-\u001f\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# text._TOKEN, r"\w+(?:'\w+)?|'\w+|[^\w\s]", for JavaScript with the u flag, Java, .NET, PCRE, Python's regex module
PORTABLE_TOKEN = f"[{_WORD}]+(?:'[{_WORD}]+)?|'[{_WORD}]+|[^{_WORD}{_SPACE}]"
FEATURES = ["Unicode property escapes \\p{L} (letters) and \\p{N} (numbers) inside character classes",
            "\\uXXXX code point escapes (PCRE and Go write \\x{XXXX})", "negated character classes",
            "non-capturing groups (?:...)", "greedy + and ? with backtracking",
            "leftmost-first alternation (Perl/ECMAScript, not POSIX leftmost-longest)"]


def _encode(state: dict[str, Any], unknown_id: int) -> dict[str, Any]:
    encode = {"op": "encode_tokens", "vocabulary": list(state["vocab"]), "unknown_id": unknown_id,
              "text": "a token's id is its index in vocabulary (exact string match), else unknown_id"}
    if state.get("subwords", 0) > 0:
        encode["char_ngrams"] = {"n_min": state["ngrams"][0], "n_max": state["ngrams"][1], "buckets": state["subwords"],
                                 "slots": state["slots"], "hash": "crc32"}
        encode["text"] += (
            "; each token's row is [id, g1, ..., g_slots]: the character n-grams of '<' + token + '>' (characters "
            "are Unicode code points) for n = n_min..n_max, the shorter n first, left to right, a repeat dropped, "
            "the first `slots` kept, each 1 + CRC-32(its UTF-8 bytes) mod buckets (CRC-32 as zlib: reflected "
            "polynomial 0xEDB88320, init and final xor 0xFFFFFFFF), 0 in the slots left over")
    return encode


def document(state: dict[str, Any], unknown_id: int, escapes: dict[str, str], postprocess: dict[str, Any]) -> dict[str, Any]:
    """The document part of a TextPreprocessing with this state; `escapes` are the Penn Treebank bracket escapes."""
    steps = [
        {"op": "lowercase", "text": "Unicode default full lower-case mapping, locale-independent (Python "
                                    "str.lower(), JavaScript String.prototype.toLowerCase())"},
        {"op": "replace_literals", "pairs": [[k, v] for k, v in escapes.items()] + [["\\/", "/"], ["\\*", "*"]],
         "text": "one left-to-right scan: where a pair's first string starts, it is replaced by the second and "
                 "the scan resumes after it; other characters are kept (Penn Treebank escapes)"},
        {"op": "regex_findall", "pattern": PORTABLE_TOKEN, "flags": "u", "unicode_version": unicodedata.unidata_version,
         "features": FEATURES,
         "text": "the tokens are every match, left to right, without overlaps; the pattern works on Unicode code "
                 "points (JavaScript: the u flag), case-sensitively; a word is letters, numbers and _ with at most "
                 "one 'part; any other character that is not white space is a token of its own"},
        {"op": "truncate", "length": state["max_len"], "text": "keep the first `length` tokens"},
        _encode(state, unknown_id),
        {"op": "pad", "length": state["max_len"], "value": 0, "text": "append rows of `value` up to `length` tokens"}]
    return {"kind": "text", "raw_input": {"type": "text", "text": "a sentence: a Unicode string"},
            "steps": steps, "postprocess": postprocess}


def examples(vocab: list[str], max_len: int, x: torch.Tensor) -> list[str]:
    """Four sentences read back from token ids (N, T) or (N, T, 1 + slots), a non-ASCII word, an unknown word,
    Penn Treebank escapes and an over-long sentence."""
    ids = (x if x.ndim == 2 else x[..., 0])[:4].tolist()
    said = [" ".join(vocab[i] for i in row if i > 1) or vocab[-1] for row in ids]
    known = set(vocab)
    accented = next((w for w in vocab if not w.isascii() and w.isalpha()), "café")
    unknown = next(w for w in ("zqxjv", "zqxjvw", "zqxjvwk") if w not in known)
    words = [w for w in vocab[2:] if w.isalpha()] or ["a"]
    long = " ".join(words[i % len(words)] for i in range(max_len + 5))
    return [*said, f"the {accented} was naïve , déjà vu", f"an {unknown} film", "-LRB- It's \\/ GREAT -RRB- !",
            long][:8]
