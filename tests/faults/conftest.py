"""Shared helpers for the fault suite: the CLI as a real subprocess (so it can be killed), with timeouts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# quickstart shrunk to seconds: 6 epochs of the digits MLP, one thread, deterministic kernels
TINY = ["quickstart", "--epochs", "6", "--threads", "1", "--deterministic", "--seed", "3"]


class CLI:
    """Start `python -m corenets ...` with a hard timeout: no fault test can hang the suite."""

    env = dict(os.environ, PYTHONUNBUFFERED="1", CORENETS_OFFLINE="1")
    TINY = TINY

    @staticmethod
    def folder(stdout: str) -> Path:
        return run_folder(stdout)

    @staticmethod
    def outcome(folder: Path) -> tuple[dict, list[dict]]:
        return outcome(folder)

    def popen(self, *argv: str, env: dict | None = None) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "corenets", *argv], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env={**self.env, **(env or {})})

    def run(self, *argv: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "corenets", *argv], capture_output=True, text=True,
                              timeout=timeout, env={**self.env, **(env or {})})


@pytest.fixture(scope="session")
def cli() -> CLI:
    return CLI()


def run_folder(stdout: str) -> Path:
    return Path(re.search(r"run folder: (\S+)", stdout).group(1))


def outcome(folder: Path) -> tuple[dict, list[dict]]:
    """What must match bit for bit: the test metrics and every history column but wall-clock seconds."""
    metrics = json.loads((folder / "metrics.json").read_text())["test"]
    lines = (folder / "history.csv").read_text().splitlines()
    keys = lines[0].split(",")
    rows = [{k: v for k, v in zip(keys, ln.split(",")) if k != "seconds"} for ln in lines[1:]]
    return metrics, rows


@pytest.fixture(scope="session")
def reference(tmp_path_factory, cli) -> Path:
    """One uninterrupted TINY run: what every killed-and-resumed run must reproduce."""
    out = tmp_path_factory.mktemp("reference")
    r = cli.run("run", *TINY, "--out", str(out))
    assert r.returncode == 0, r.stderr
    return run_folder(r.stdout)
