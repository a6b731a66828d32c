"""MkDocs hook: the pages generated from the code and from files kept elsewhere in the repository, so nothing is
written twice.

- reference/config.md   every config key and builder option (corenets.reference.config_markdown)
- reference/cli.md      every command and argument (corenets.reference.cli_markdown, from cli.build_parser())
- reference/errors.md   every error message the code can raise (docs/hooks/error_pages.py)
- tutorials/NN_*.md     the tutorials (tutorials/*.py, jupytext percent format) as pages, with the outputs of
                        the run `make test` keeps in build/tutorials when its code is the same
- benchmarks.md, faults.md   BENCHMARKS.md and FAULTS.md, with the files they link to
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

IMPORTED = {"benchmarks.md": "BENCHMARKS.md", "faults.md": "FAULTS.md"}


def _outputs(cell: dict, stem: str, images: dict[str, bytes]) -> list[str]:
    """An executed code cell's outputs as Markdown: text as text blocks, plots as images beside the page."""
    import base64

    out = []
    for o in cell.get("outputs", []):
        data = o.get("data", {})
        if o.get("output_type") == "stream":
            text = o.get("text", "")
        elif "image/png" in data:
            name = f"img/{stem}-{len(images) + 1}.png"
            images[name] = base64.b64decode(data["image/png"])
            out.append(f"![output {len(images)}]({name})")
            continue
        else:
            text = data.get("text/plain", "")
        text = "".join(text) if isinstance(text, list) else text
        lines = text.rstrip("\n").splitlines()
        if lines:
            shown = lines[:40] + (["..."] if len(lines) > 40 else [])
            out.append("```text\n" + "\n".join(shown) + "\n```")
    return out


def tutorial_markdown(path: Path, executed: Path | None = None) -> tuple[str, dict[str, bytes]]:
    """A jupytext percent-format notebook as a page: text, code, and (from `executed`, the notebook `make test` ran,
    when its code is this file's) each cell's outputs; returns the page and the images it links to."""
    import jupytext

    nb = jupytext.read(path)
    ran = jupytext.read(executed) if executed and executed.is_file() else None
    code = [c for c in nb.cells if c.cell_type == "code"]
    ran_code = [c for c in ran.cells if c.cell_type == "code"] if ran else []
    same = len(code) == len(ran_code) and all(
        a.source == b.source or "parameters" in a.metadata.get("tags", []) for a, b in zip(code, ran_code))
    outputs = dict(zip(map(id, code), ran_code)) if same else {}
    parts, images = [], {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source)
        elif cell.source.strip():
            parts.append(f"```python\n{cell.source}\n```")
            if id(cell) in outputs:
                parts += _outputs(outputs[id(cell)], path.stem, images)
    note = ("The outputs above are from the fast-mode run of the test suite." if outputs else
            "Run it to see the plots and numbers.")
    parts.append(f"*This page is [`tutorials/{path.name}`](index.md#running-them). {note} To run it yourself: "
                 f"`make notebooks`, then open `tutorials/{path.stem}.ipynb` from the tutorials folder.*")
    return "\n\n".join(parts) + "\n", images


def _imported(text: str, files: Files, config) -> str:
    """A root Markdown file as a page; the local files it links to are added beside it."""
    for target in re.findall(r"\]\(([^)#\s]+)\)", text):
        src = ROOT / target
        if "://" not in target and src.is_file() and not target.endswith(".md"):
            files.append(File.generated(config, target, abs_src_path=str(src)))
    return text


def on_files(files: Files, config) -> Files:
    from corenets.cli import _load_plugins, build_parser
    from corenets.reference import cli_markdown, config_markdown
    import importlib.util

    spec = importlib.util.spec_from_file_location("error_pages", Path(__file__).resolve().parent / "error_pages.py")
    error_pages = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(error_pages)

    _load_plugins()
    pages = {"reference/config.md": config_markdown(), "reference/cli.md": cli_markdown(build_parser()),
             "reference/errors.md": error_pages.errors_markdown(ROOT / "src" / "corenets")}
    for page, source in IMPORTED.items():
        pages[page] = _imported((ROOT / source).read_text(encoding="utf-8"), files, config)
    executed = ROOT / os.environ.get("CORENETS_EXECUTED_TUTORIALS", "build/tutorials")
    for path in sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py")):
        pages[f"tutorials/{path.stem}.md"], images = tutorial_markdown(path, executed / f"{path.stem}.ipynb")
        for name, content in images.items():
            files.append(File.generated(config, f"tutorials/{name}", content=content))
    for uri, content in pages.items():
        if files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, content=content))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Array shapes written as [height][width][channels] read as text, not as Markdown reference links."""
    return re.sub(r"\[(height|width|channels)\]", r"\\[\1\\]", markdown)
