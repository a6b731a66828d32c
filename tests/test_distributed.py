"""Distributed training: World's sharding arithmetic, two real CPU processes, and a killed rank."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from corenets.train.distributed import World

TINY = ["run", "quickstart", "--epochs", "3", "--threads", "1", "--seed", "1"]
TOLERANCE = 0.03  # test accuracy of 2 processes vs 1: same data and epochs, but a global batch twice the size


def test_a_single_world_is_a_no_op():
    w = World()
    perm = torch.randperm(10)
    assert w.shard(perm) is perm and w.span(10) == range(0, 10) and w.step_sums({"a": 1.0}, True) == ({"a": 1.0}, True)


@pytest.mark.parametrize("n, size", [(10, 2), (11, 2), (7, 3), (2, 4)])
def test_shards_are_disjoint_equal_and_cover_all_but_the_tail(n, size):
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    shards = [World(rank=r, size=size).shard(perm) for r in range(size)]
    assert len({len(s) for s in shards}) == 1  # equal: every rank runs the same number of DDP steps
    flat = torch.cat(shards)
    assert len(set(flat.tolist())) == len(flat) == n // size * size
    spans = [World(rank=r, size=size).span(n) for r in range(size)]
    assert [i for s in spans for i in s] == list(range(n))  # evaluation covers every row once


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _metrics(out: Path) -> dict:
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return json.loads((folder / "metrics.json").read_text())


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("one")
    r = subprocess.run([sys.executable, "-m", "corenets", *TINY, "--quiet", "--out", str(out)], capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    return _metrics(out)


def test_two_cpu_processes_with_nproc_write_one_folder_and_match_one_process(single, tmp_path):
    out = tmp_path / "runs"
    r = subprocess.run([sys.executable, "-m", "corenets", *TINY, "--nproc", "2", "--out", str(out)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("run folder:") == 1 and r.stdout.count("epoch 3/3") == 1  # rank 0 alone prints
    m = _metrics(out)  # _metrics asserts there is exactly one folder
    assert m["batch_size"] == {"per_process": 32, "processes": 2, "global": 64,
                               "semantics": "per process: each of the processes draws batch_size rows per step"}
    assert abs(m["test"]["accuracy"] - single["test"]["accuracy"]) <= TOLERANCE
    assert m["test"]["accuracy"] > 0.9


def _rank(rank: int, port: int, out: Path, epochs: int) -> subprocess.Popen:
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
               WORLD_SIZE="2", CORENETS_DIST_TIMEOUT="15", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "corenets", "run", "quickstart", "--epochs", str(epochs), "--threads",
                             "1", "--out", str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("how", ["kill", pytest.param("stop", marks=pytest.mark.slow)])
def test_a_killed_or_frozen_rank_makes_the_other_exit_with_a_clear_error(tmp_path, how):
    port = _port()
    procs = [_rank(r, port, tmp_path, 300) for r in range(2)]
    try:
        t0 = time.monotonic()
        while "epoch 2/" not in procs[0].stdout.readline():
            assert time.monotonic() - t0 < 120 and procs[0].poll() is None, procs[0].stderr.read()
        procs[1].send_signal(signal.SIGKILL if how == "kill" else signal.SIGSTOP)
        _, err = procs[0].communicate(timeout=60)  # a hang fails here instead of blocking the suite
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert procs[0].returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "lost contact with the other training processes" in lines[0], err
    assert "Traceback" not in err
