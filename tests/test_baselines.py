"""The strong classical baseline beside every score (evaluate/baselines.py) and its `report:` switch."""

from __future__ import annotations

import pytest

from corenets.config import RunConfig, apply_overrides, dump_yaml
from corenets.errors import ConfigError
from corenets.record import describe


def test_report_classical_baseline_is_on_by_default_and_set_turns_it_off():
    assert RunConfig().report.classical_baseline is True
    cfg = apply_overrides(RunConfig(), ["report.classical_baseline=false"])
    assert cfg.report.classical_baseline is False
    assert "classical_baseline: false" in dump_yaml(cfg)
    assert "classical_baseline" not in describe(cfg)  # how the run is reported, not what it is
    with pytest.raises(ConfigError, match="report.classical_baselin"):
        apply_overrides(RunConfig(), ["report.classical_baselin=false"])
