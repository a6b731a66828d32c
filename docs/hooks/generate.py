"""MkDocs hook: the pages generated from the code and from files kept elsewhere in the repository, so nothing is
written twice.

- reference/config.md   every config key and builder option (corenets.reference.config_markdown)
- reference/cli.md      every command and argument (corenets.reference.cli_markdown, from cli.build_parser())
- reference/errors.md   every error message the code can raise (docs/hooks/error_pages.py)
- tutorials/NN_*.md     the tutorials (tutorials/*.py, jupytext percent format) as pages
- benchmarks.md, faults.md   BENCHMARKS.md and FAULTS.md, with the files they link to
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

IMPORTED = {"benchmarks.md": "BENCHMARKS.md", "faults.md": "FAULTS.md"}


def tutorial_markdown(path: Path) -> str:
    """A jupytext percent-format notebook as a page: markdown cells as text, code cells as Python blocks."""
    cells, kind, lines = [], None, []
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\A# ---\n(#.*\n)*?# ---\n", "", text)  # the jupytext header
    for line in text.splitlines():
        if line.startswith("# %%"):
            cells.append((kind, lines))
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        else:
            lines.append(line)
    cells.append((kind, lines))
    out = []
    for kind, body in cells:
        block = "\n".join(body).strip("\n")
        if not block or kind is None:
            continue
        if kind == "markdown":
            out.append("\n".join(re.sub(r"^# ?", "", line) for line in block.splitlines()))
        else:
            out.append(f"```python\n{block}\n```")
    name = path.name
    out.append(f"*This page is the notebook's source, [`tutorials/{name}`](index.md#running-them). Run it to see "
               f"the plots and numbers: `jupytext --to ipynb tutorials/{name}` or `make notebooks`, then open the "
               f"notebook from the tutorials folder.*")
    return "\n\n".join(out) + "\n"


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
    for path in sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py")):
        pages[f"tutorials/{path.stem}.md"] = tutorial_markdown(path)
    for uri, content in pages.items():
        if files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, content=content))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Array shapes written as [height][width][channels] read as text, not as Markdown reference links."""
    return re.sub(r"\[(height|width|channels)\]", r"\\[\1\\]", markdown)
