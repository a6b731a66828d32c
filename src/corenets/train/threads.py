"""`threads: 0` (the default): how many intra-op threads a CPU run trains with, measured rather than guessed.

More threads only pay when one training step has enough work to split: a small MLP or LSTM step of a few
milliseconds is slower on two threads that wait for each other than on one, and an OpenMP team whose second core
is busy with another process stalls at every barrier (breast-cancer-lstm took 958 s a fold beside one busy
process instead of ~60 s). So before training, a copy of the model times a few forward + backward steps on a real
batch with one thread and with every free core, and the run keeps more threads only when they are clearly faster.
The probe takes well under a second for small models and a few seconds for large ones; `--threads N` skips it.
"""

from __future__ import annotations

import copy
import os
import time
from typing import Callable

import torch

TORCH_DEFAULT = torch.get_num_threads()  # at import, before any run sets it: torch's count of physical cores
GAIN = 1.15  # more threads must make a step at least this much faster: a tie goes to one (it never stalls)
SMALL_S = 0.005  # a step under 5 ms on one thread has too little work to split; it is not timed on more
STEPS = 6  # timed steps per setting, after WARMUP
WARMUP = 1
BUDGET_S = 1.5  # per setting: a large model's step is timed fewer times
SAMPLE_S = 0.2  # how long /proc/stat is watched for cores other processes keep busy


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask), at most torch's own default (the physical cores)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    return max(1, min(n, TORCH_DEFAULT))


def cpu_times() -> list[tuple[int, int]]:
    """(idle + iowait, total) clock ticks of each CPU since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        rows = [line.split() for line in f if line.startswith("cpu") and line[3].isdigit()]
    return [(int(r[4]) + int(r[5]), sum(int(v) for v in r[1:])) for r in rows]


def free_cores(cores: int) -> int:
    """How many of `cores` no other process keeps busy: idle time summed over the CPUs for SAMPLE_S (Linux)."""
    try:
        before = cpu_times()
        time.sleep(SAMPLE_S)
        after = cpu_times()
    except (OSError, ValueError, IndexError):
        return cores  # no /proc/stat (macOS, Windows): assume the machine is ours
    share = sum((a[0] - b[0]) / max(a[1] - b[1], 1) for a, b in zip(after, before))
    return max(1, min(cores, int(share + 0.25)))  # a core 75% idle counts as free


def step_seconds(model: torch.nn.Module, step: Callable[[torch.nn.Module], None], threads: int) -> float:
    """Median seconds of `step(model)` (one forward + backward) with `threads` intra-op threads."""
    torch.set_num_threads(threads)
    times: list[float] = []
    start = time.perf_counter()
    for i in range(WARMUP + STEPS):
        t0 = time.perf_counter()
        model.zero_grad(set_to_none=True)
        step(model)
        if i >= WARMUP:
            times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > BUDGET_S and times:
            break
    return sorted(times)[len(times) // 2]


def choose_threads(model: torch.nn.Module, step: Callable[[torch.nn.Module], None]) -> tuple[int, str]:
    """(threads, why): one, or every usable core when a training step is at least GAIN times faster on them.

    Args:
        model: the built model (not changed: a copy is timed, and torch's random state is restored).
        step: one training step's forward + backward on a real batch, as the loop computes it (precision, memory
            format, loss), applied to the model it is given.
    """
    usable = usable_cores()
    cores = free_cores(usable) if usable > 1 else 1
    if cores == 1:
        torch.set_num_threads(1)
        why = "one usable core" if usable == 1 else f"other processes keep {usable - 1} of the {usable} cores busy"
        return 1, f"threads: 1 (auto: {why}; --threads N sets it)"
    rng = torch.random.get_rng_state()
    probe = copy.deepcopy(model).train()
    try:
        one = step_seconds(probe, step, 1)
        many = step_seconds(probe, step, cores) if one >= SMALL_S else float("inf")
    finally:
        torch.random.set_rng_state(rng)
    threads = cores if one > many * GAIN else 1
    torch.set_num_threads(threads)
    timed = f"{many * 1e3:.1f} ms on {cores}" if many < float("inf") else f"too little work to split across {cores}"
    return threads, (f"threads: {threads} (auto: a training step took {one * 1e3:.1f} ms on 1 thread, {timed}; "
                     "--threads N sets it)")
