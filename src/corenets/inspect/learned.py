"""The report's "What it learned" section, read from the run folder (evaluate/report.py calls this); it imports
nothing heavy, so a report builds without Captum or the models."""

from __future__ import annotations

import json
from pathlib import Path

FAILED = "learned_failed.txt"  # why the figures could not be drawn, for the report to say


def learned_section(rep, run_dir: Path) -> None:
    """Add "What it learned" to a report (evaluate/report.Report) when the run has its figures."""
    plot_dir = Path(run_dir) / "plots"
    index, failed = plot_dir / "learned.json", plot_dir / FAILED
    if not index.is_file() and not failed.is_file():
        return
    rep.heading("What it learned")
    if failed.is_file():
        rep.text("What it learned: " + failed.read_text())
        return
    got = json.loads(index.read_text())
    for note in got.get("notes", []):
        rep.text(note)
    for s in got.get("sections", []):
        rep.text(f"{s['title']}. {s['text']}")
        for name in s["files"]:
            if (plot_dir / name).is_file():
                rep.image(plot_dir / name, s["title"])
    rep.text(f"More (attributions for chosen inputs, every conv block's feature maps): corenets inspect {Path(run_dir).name}")
