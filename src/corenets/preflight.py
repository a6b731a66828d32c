"""Checks a run must pass before anything is written: settings the device, the data or the model cannot honour.

Called by experiment.prepare once the data is loaded and the model built, before the run folder exists,
so a mistake leaves nothing on disk.
"""

from __future__ import annotations


def check_before_run(cfg, bundle, device) -> None:
    """Raise ConfigError naming the first setting that cannot work with this device and data (filled in by #16)."""
