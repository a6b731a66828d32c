"""The report's "What it learned" figures: drawn once after training (experiment.write_record) into
plots/learned.json and plots/learned_*.png, which evaluate/report.py shows (inspect/learned.py). Off with
`--set report.inspect=false`."""

from __future__ import annotations

import traceback
from pathlib import Path

from ..files import atomic_write_text
from .learned import FAILED


def draw_learned(run_dir: Path, bundle) -> None:
    """Draw the figures; a failure is written down for the report to show, never lost and never fatal to a
    finished run (its model, metrics and other plots are already written)."""
    plot_dir = Path(run_dir) / "plots"
    try:
        import captum  # noqa: F401
    except ImportError:
        atomic_write_text(plot_dir / FAILED, "Captum is not installed: pip install 'corenets[inspect]', then "
                                             f"`corenets inspect {run_dir}`; or --set report.inspect=false")
        return
    try:
        from .api import report_learned

        report_learned(run_dir, bundle)
    except Exception as e:  # noqa: BLE001 - shown in the report, with the command that repeats it
        first = traceback.format_exception_only(type(e), e)[-1].strip()
        atomic_write_text(plot_dir / FAILED, f"the figures could not be drawn ({first[:300]}); `corenets --debug "
                                             f"inspect {run_dir}` shows why")
