"""Multi-process training on PyTorch's own engine: torch.distributed + DDP, launched by torchrun.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; `World.from_env()`
reads them. Without them a World is one process and every method is a no-op, so the training
loop has no special cases.

Semantics (recorded in metrics.json):
- train.batch_size is PER PROCESS: each rank draws batch_size rows per step, so one optimiser
  step sees batch_size x world_size rows (the global batch).
- Every rank draws the same seeded permutation of the training rows each epoch and takes
  rows rank, rank + W, rank + 2W, ... (the tail that does not divide by W is left out that epoch).
- Losses and metrics are summed over ranks every step, so every rank sees the same numbers and
  makes the same early-stopping / NaN / interrupt decision.
- Only rank 0 writes the run folder, the progress output and the report.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterator

import torch

from ..errors import ConfigError, TrainingError

TIMEOUT_ENV = "CORENETS_DIST_TIMEOUT"  # seconds a rank waits for its peers before it gives up (default 300)


def timeout_seconds() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "300")
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds; set e.g. {TIMEOUT_ENV}=300") from None
    if value <= 0:
        raise ConfigError(f"{TIMEOUT_ENV}={raw} must be a positive number of seconds")
    return value


@dataclass
class World:
    """This process's place among the training processes. World() is a single process."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: torch.device) -> "World":
        """Join the process group torchrun describes (gloo on CPU, nccl on CUDA); World() when not under torchrun."""
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return cls()
        import torch.distributed as dist

        rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type not in ("cpu", "cuda"):
            raise ConfigError(f"distributed training runs on cpu or cuda, not {device.type}; use --device cpu")
        if device.type == "cuda":
            torch.cuda.set_device(local_rank)
        if not dist.is_initialized():
            try:
                dist.init_process_group(backend, timeout=timedelta(seconds=timeout_seconds()))
            except (RuntimeError, ValueError) as e:  # DistError is a RuntimeError
                raise TrainingError(f"rank {rank} could not join the {size} training processes ({_first_line(e)}); "
                                    f"check MASTER_ADDR/MASTER_PORT or torchrun's --rdzv_endpoint") from None
        return cls(rank, size, local_rank, backend)

    def place(self, device: torch.device) -> torch.device:
        """One GPU per process: cuda -> cuda:LOCAL_RANK."""
        return torch.device("cuda", self.local_rank) if device.type == "cuda" and self.size > 1 else device

    # ---------------------------------------------------------------- data

    def shard(self, perm: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a permutation: every W-th row from `rank`, all ranks the same length."""
        if self.size == 1:
            return perm
        usable = len(perm) // self.size * self.size
        return perm[self.rank:usable:self.size]

    def shard_len(self, n: int) -> int:
        return n if self.size == 1 else n // self.size

    def span(self, n: int) -> range:
        """This rank's contiguous block of n evaluation rows (the last may be shorter or empty)."""
        chunk = -(-n // self.size)
        return range(min(self.rank * chunk, n), min((self.rank + 1) * chunk, n))

    # ---------------------------------------------------------------- numbers

    def step_sums(self, local: dict[str, float], flag: bool) -> tuple[dict[str, float], bool]:
        """Sum one step's numbers over ranks, and OR a flag (an interrupt on any rank stops all)."""
        if self.size == 1:
            return local, flag
        import torch.distributed as dist

        keys = sorted(local)
        t = torch.tensor([local[k] for k in keys] + [float(flag)], dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(t)
        values = t.tolist()
        return dict(zip(keys, values[:-1])), values[-1] > 0

    def sum(self, sums: dict[str, float]) -> dict[str, float]:
        """Sum dicts of numbers over ranks; a key one rank lacks counts as 0 there."""
        if self.size == 1:
            return sums
        import torch.distributed as dist

        gathered: list = [None] * self.size
        dist.all_gather_object(gathered, sums)
        out: dict[str, float] = {}
        for d in gathered:
            for k, v in d.items():
                out[k] = out.get(k, 0.0) + v
        return out

    def _comm_device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")

    # ---------------------------------------------------------------- model

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """DDP around the model (gradients averaged over ranks); the model itself when alone."""
        if self.size == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel as DDP

        return DDP(model, device_ids=[self.local_rank] if self.backend == "nccl" else None)

    def sync_buffers(self, model: torch.nn.Module) -> None:
        """Give every rank rank 0's buffers (batch-norm running statistics) before evaluating or saving."""
        if self.size == 1:
            return
        import torch.distributed as dist

        for buf in model.buffers():
            dist.broadcast(buf, 0)

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (downloads, caches), then the others."""
        if self.size > 1 and not self.is_main:
            self.barrier()
        yield
        if self.size > 1 and self.is_main:
            self.barrier()

    def barrier(self) -> None:
        if self.size > 1:
            import torch.distributed as dist

            dist.barrier()

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Turn a lost or timed-out peer into one clear TrainingError instead of a hang or a C++ traceback."""
        if self.size == 1:
            yield
            return
        import torch.distributed as dist

        try:
            yield
        except dist.DistError as e:
            raise TrainingError(self._peer_message(e)) from None
        except RuntimeError as e:
            text = str(e).lower()
            if not any(k in text for k in ("gloo", "nccl", "connection", "timed out", "timeout", "peer")):
                raise
            raise TrainingError(self._peer_message(e)) from None

    def _peer_message(self, e: BaseException) -> str:
        return (f"rank {self.rank} of {self.size} lost contact with the other training processes ({_first_line(e)}); "
                f"another rank stopped or was killed (see its output above). Resume with --resume RUN_FOLDER once all "
                f"ranks can run; {TIMEOUT_ENV}={timeout_seconds():g}s bounds how long a rank waits")

    def close(self) -> None:
        """Leave the process group together: every rank waits here for the others, then all destroy it.

        A rank that tore its group down and exited while rank 0 was still writing the run folder was
        sometimes aborted by gloo on the way out (SIGABRT, "terminate called without an active exception"),
        and the launcher reported the finished run as failed.
        """
        if self.size > 1:
            import torch.distributed as dist

            if dist.is_initialized():
                try:
                    self.barrier()
                except Exception:  # noqa: BLE001 - a peer already gone: nothing left to wait for
                    pass
                dist.destroy_process_group()


def _first_line(e: BaseException) -> str:
    import re

    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    line = re.sub(r"^\[[^\]]*\]\s*", "", lines[0]) if lines else type(e).__name__  # drop gloo's source-file prefix
    return line.split(". ")[0][:160]


def launch(nproc: int, argv: list[str]) -> int:
    """`corenets run ... --nproc N`: re-run the same command under torchrun with N local processes.

    Returns torchrun's exit code (0, or 2 when a rank failed: each rank printed its own one-line error).
    """
    import signal
    import subprocess

    if nproc < 1:
        raise ConfigError(f"--nproc {nproc} must be at least 1")
    if os.environ.get("LOCAL_RANK") is not None:
        raise ConfigError("--nproc starts torchrun itself; under torchrun leave --nproc out")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "corenets", *argv]
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    env.setdefault("LOGLEVEL", "ERROR")  # torchrun's own INFO/WARNING lines would bury the ranks' output
    # Ctrl-C reaches the ranks directly (same process group); they finish the step and checkpoint while we wait.
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        rc = subprocess.run(cmd, env=env).returncode
    finally:
        signal.signal(signal.SIGINT, old)
    return 0 if rc == 0 else 2
