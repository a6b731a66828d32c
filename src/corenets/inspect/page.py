"""The inspect page: index.html with the PNGs beside it (`corenets inspect`), and the report's figures."""

from __future__ import annotations

import html
import json
from pathlib import Path

from ..files import atomic_write_bytes, atomic_write_text
from .core import Section

STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
         "img{max-width:100%}figcaption,.note{color:#555;font-size:.9em}.attr-word{display:inline-block}")


def unique_names(sections: list[Section], prefix: str = "") -> None:
    """Give every figure a distinct file name (two sections may both draw "attributions.png")."""
    seen: set[str] = set()
    for s in sections:
        for f in s.figures:
            stem, dot, ext = f.name.rpartition(".")
            name, n = f"{prefix}{f.name}", 2
            while name in seen:
                name, n = f"{prefix}{stem}_{n}.{ext}", n + 1
            seen.add(name)
            f.name = name


def write_page(sections: list[Section], out: Path, title: str, notes: list[str]) -> Path:
    """index.html and one PNG per figure in `out`; returns the HTML path."""
    out.mkdir(parents=True, exist_ok=True)
    unique_names(sections)
    body = [f"<h1>{html.escape(title)}</h1>"] + [f'<p class="note">{html.escape(n)}</p>' for n in notes]
    for s in sections:
        body.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.text:
            body.append(f"<p>{html.escape(s.text)}</p>")
        body.append(s.html)
        for f in s.figures:
            atomic_write_bytes(out / f.name, f.png)
            body.append(f'<figure><img alt="{html.escape(f.caption)}" src="{html.escape(f.name)}"></figure>')
    page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")
    atomic_write_text(out / "index.html", page)
    return out / "index.html"


def write_report_figures(sections: list[Section], plot_dir: Path, notes: list[str]) -> None:
    """plots/learned_*.png and plots/learned.json (titles, texts, files, notes), which the report reads."""
    unique_names(sections, "learned_")
    index = {"notes": notes, "sections": []}
    for s in sections:
        for f in s.figures:
            atomic_write_bytes(plot_dir / f.name, f.png)
        index["sections"].append({"title": s.title, "text": s.text, "files": [f.name for f in s.figures]})
    atomic_write_text(plot_dir / "learned.json", json.dumps(index, indent=1))
