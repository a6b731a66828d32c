"""Every tutorial (tutorials/*.py, jupytext percent format) runs top to bottom in fast mode, in a fresh kernel and
an empty folder, and fails on any error: each notebook asserts its own headline number."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("[0-9][0-9]_*.py"))


def execute(path: Path, cwd: Path, fast: bool = True):
    """Run one tutorial as a notebook (papermill-style: the `parameters` cell's FAST set to `fast`); returns it."""
    jupytext = pytest.importorskip("jupytext", reason="the tutorials need the [docs] extra: pip install -e '.[docs]'")
    nbclient = pytest.importorskip("nbclient", reason="the tutorials need the [docs] extra")
    nb = jupytext.read(path)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "FAST = True" in params[0].source, f"{path.name}: one `parameters` cell with FAST = True"
    params[0].source = params[0].source.replace("FAST = True", f"FAST = {fast}")
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def test_there_is_one_tutorial_per_job():
    assert len(TUTORIALS) >= 8, [p.name for p in TUTORIALS]


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_in_fast_mode(path, tmp_path, monkeypatch):
    monkeypatch.setenv("CORENETS_OFFLINE", "1")  # tests never download: a tutorial falls back to its stand-in
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # the kernel runs in an empty folder, as a reader's would run in tutorials/: standins.py comes from there
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(path.parent), os.environ.get("PYTHONPATH")])))
    nb = execute(path, tmp_path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    keep = os.environ.get("CORENETS_EXECUTED_TUTORIALS")  # `make test` keeps them: the site shows their outputs
    if keep:
        import nbformat

        Path(keep).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(Path(keep) / f"{path.stem}.ipynb"))
