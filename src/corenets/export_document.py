"""The export document, <stem>.preprocessing.json: everything a program that is not corenets needs to serve an export.

It states what a raw input is, each step that makes it the model's input (an "op" with its parameters and the
formula, with the units of its input), how the output becomes the answer, and eight test vectors (raw input, the
exact model input, the model's output and the answer) a client checks itself against before serving. Its format
is the JSON Schema in corenets/schemas/preprocessing.schema.json (FORMAT_VERSION); every document is validated
against it when written (where jsonschema is installed). docs/reference/export-format.md is generated from the
schema: `python -m corenets.export_document docs/reference/export-format.md`.

Each input kind writes its own part (Preprocessing.document and .examples); this module adds what is common:
the model's input and output, the test vectors, the format version.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

FORMAT = "corenets.export-document"
FORMAT_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "preprocessing.schema.json"
VECTOR_TOLERANCE = 1e-5  # model inputs (floats), outputs and answers of the test vectors agree to this (absolute)


def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate(doc: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError where `doc` breaks the schema; skipped where jsonschema is not installed."""
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - jsonschema comes with the [export] extra
        return
    jsonschema.validate(doc, load_schema(), cls=jsonschema.Draft202012Validator)


def _as_raw(raw: Any, kind_type: str) -> Any:
    """A JSON raw input -> what Preprocessing.prepare reads (images: 8-bit pixels)."""
    return np.asarray(raw, dtype=np.uint8) if kind_type == "image" else raw


def test_vectors(run, x: torch.Tensor, forward: Callable[[torch.Tensor], Any], kind_type: str) -> list[dict[str, Any]]:
    """Eight cases: the kind's raw examples, the model input corenets makes of each, the exported model's output
    and the answer corenets predict gives (probabilities, or a value in the user's units)."""
    from .evaluate.metrics import probabilities

    pre = run.preprocessing
    cases = []
    for raw in pre.examples(x):
        inputs = pre.prepare([_as_raw(raw, kind_type)])
        out = np.asarray(forward(inputs.x), dtype=np.float64)[0]  # (num_outputs,)
        if run.task == "regression":
            answer: Any = float(pre.outputs(out.reshape(-1), inputs)[0])
        else:
            answer = probabilities(out[None], run.task)[0].tolist()
        model_input = inputs.x[0]
        cases.append({"raw": raw, "model_input": model_input.tolist() if not model_input.is_floating_point()
                      else model_input.double().tolist(), "output": out.tolist(), "answer": answer})
    return cases


def build(run, seq: bool, forward: Callable[[torch.Tensor], Any], x: torch.Tensor, tta: str) -> dict[str, Any]:
    """The document of `run`'s export; `forward` runs the exported file on a batch, `x` is the parity batch."""
    spec, task = run.spec, run.task
    kind = run.preprocessing.document(task)
    shape = ["batch", *(["sequence", *spec["input_shape"][1:]] if seq else spec["input_shape"])]
    meaning = {"multiclass": "logits, one per class", "binary": "one logit (classes[1] against classes[0])",
               "regression": "the standardised target"}[task]
    if tta == "flip":
        meaning += ("; the graph already averages the logits of the image and of its left-right mirror (the run's "
                    "flip test-time augmentation), as corenets predict does: give it each image once")
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind["kind"], "task": task,
        "classes": run.classes, "raw_input": kind["raw_input"], "steps": kind["steps"],
        "input": {"name": "input", "dtype": "int64" if seq else "float32", "shape": shape},
        "output": {"name": "output", "dtype": "float32", "shape": ["batch", spec["num_outputs"]], "meaning": meaning},
        "postprocess": kind["postprocess"],
        "test_vectors": {"tolerance": VECTOR_TOLERANCE,
                         "cases": test_vectors(run, x, forward, kind["raw_input"]["type"])},
        "provenance": {"recipe": spec.get("recipe"), "model": spec["model"], "corenets_version": spec.get("corenets_version"),
                       "tta": tta},
    }


def write(run, path: Path, seq: bool, forward: Callable[[torch.Tensor], Any], x: torch.Tensor, tta: str) -> Path:
    """Build, validate against the schema and write the document to `path`."""
    from .files import atomic_write_text

    doc = build(run, seq, forward, x, tta)
    validate(doc)
    atomic_write_text(path, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    return path


# ------------------------------------------------------------------ the format page, generated from the schema


def _describe(name: str, node: dict[str, Any], defs: dict[str, Any], depth: int) -> list[str]:
    if "$ref" in node:
        ref = node["$ref"].rsplit("/", 1)[-1]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**defs[ref], **extra}
    kind = node.get("type") or ("one of: " + ", ".join(f"`{json.dumps(v)}`" for v in node["enum"]) if "enum" in node else "")
    if "const" in node:
        kind = f"`{json.dumps(node['const'])}`"
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if not kind and "oneOf" in node:
        kind = "object: one of those below"
    line = f"{'  ' * depth}- `{name}` ({kind}): {node.get('description', '')}".rstrip()
    out = [line]
    for key, sub in node.get("properties", {}).items():
        out += _describe(key, sub, defs, depth + 1)
    return out


def render_page(schema: dict[str, Any] | None = None) -> str:
    """docs/reference/export-format.md, from the schema's titles and descriptions."""
    schema = schema or load_schema()
    defs = schema.get("$defs", {})
    lines = [f"# {schema['title']}", "",
             "<!-- Generated from src/corenets/schemas/preprocessing.schema.json by "
             "`python -m corenets.export_document docs/reference/export-format.md`; do not edit by hand. -->", "",
             schema["description"], "", f"Schema id: `{schema['$id']}` (format version {FORMAT_VERSION}).", "",
             "## Fields", ""]
    for key, sub in schema["properties"].items():
        lines += _describe(key, sub, defs, 0)
    lines += ["", "## Steps", "", defs["step"]["description"], ""]
    for ref in defs["step"]["oneOf"]:
        op = defs[ref["$ref"].rsplit("/", 1)[-1]]
        lines += [f"### `{op['properties']['op']['const']}`", "", op["description"], ""]
        lines += [ln for key, sub in op["properties"].items() if key not in ("op", "text")
                  for ln in _describe(key, sub, defs, 0)]
        lines.append("")
    lines += ["## Post-processing", "", defs["postprocess"]["description"], ""]
    for ref in defs["postprocess"]["oneOf"]:
        op = defs[ref["$ref"].rsplit("/", 1)[-1]]
        lines += [f"### `{op['properties']['op']['const']}`", "", op["description"], ""]
        lines += [ln for key, sub in op["properties"].items() if key not in ("op", "text")
                  for ln in _describe(key, sub, defs, 0)]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    page = render_page()
    if args:
        Path(args[0]).parent.mkdir(parents=True, exist_ok=True)
        Path(args[0]).write_text(page, encoding="utf-8")
    else:
        print(page, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
