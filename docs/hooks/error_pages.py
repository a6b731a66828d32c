"""Every error message a user can meet, collected from the code: each `raise SomeError(...)` whose class is a
CorenetsError (corenets/errors.py), with its message as written (an f-string's fields shown as `…`), grouped
by the module that raises it. Read with ast, so nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

KINDS = {
    "ConfigError": "a bad recipe, --set override, name or option",
    "DataError": "input data that is missing, malformed or unusable",
    "InputError": "raw inputs handed to predict or serve (the server answers 413, 415 or 422)",
    "RunFolderError": "a run folder that is missing, unwritable, incomplete or from another config",
    "CheckpointError": "a checkpoint that is damaged, foreign, unsafe or from another version",
    "TrainingError": "training that cannot go on",
    "Interrupted": "Ctrl-C during training (exit code 130)",
    "ExportError": "an export that cannot be made or does not match PyTorch",
}


def _text(node: ast.AST) -> str | None:
    """The message of a raise: a string, an f-string (fields as …), or a + / implicit join of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "…" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return (left or "…") + (right or "…") if (left or right) else None
    return None


def _error_classes(src: Path) -> set[str]:
    """CorenetsError and its subclasses, wherever they are defined."""
    found = {"CorenetsError"}
    bases: dict[str, list[str]] = {}
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
    changed = True
    while changed:
        changed = False
        for name, parents in bases.items():
            if name not in found and found & set(parents):
                found.add(name)
                changed = True
    return found


def collect(src: Path) -> dict[str, list[tuple[str, str]]]:
    """module -> [(error class, message)] for every raise of a CorenetsError with a written message."""
    classes = _error_classes(src)
    out: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(src.rglob("*.py")):
        module = ".".join(path.relative_to(src.parent).with_suffix("").parts).removesuffix(".__init__")
        raises = [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.Raise)]
        for node in sorted(raises, key=lambda n: n.lineno):  # in the order of the source
            if not isinstance(node.exc, ast.Call):
                continue
            func = node.exc.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name not in classes or not node.exc.args:
                continue
            text = _text(node.exc.args[0])
            if text and text.strip("… "):
                pair = (name, " ".join(text.split()))
                if pair not in out.setdefault(module, []):
                    out[module].append(pair)
    return out


def errors_markdown(src: Path) -> str:
    found = collect(src)
    total = sum(len(v) for v in found.values())
    lines = ["# Error messages", "",
             f"Every message corenets can stop with ({total} of them), collected from the code, grouped by the module "
             "that raises it. `…` stands for a value filled in when it happens (a name, a path, a number). On the "
             "command line each prints as one line, `corenets: error: MESSAGE`, with exit code 2 (130 for Ctrl-C); "
             "`corenets --debug ...` shows the traceback instead. In Python each is a `corenets.CorenetsError` "
             "subclass; the server answers a refused input with `{\"error\": MESSAGE}` and a 4xx status.", "",
             "Each message says what is wrong and what to do; the [FAQ](../faq.md) explains the common ones.", "",
             "| class | what it covers |", "|---|---|"]
    lines += [f"| `{k}` | {v} |" for k, v in KINDS.items()]
    for module, items in found.items():
        lines += ["", f"## {module}", ""]
        lines += [f"- `{cls}`: {msg.replace('|', '&#124;').replace('<', '&lt;')}" for cls, msg in items]
    return "\n".join(lines) + "\n"
