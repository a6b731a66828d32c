"""Wall time of three recipes by --threads, alone and beside one busy core (issue 18, "Threads").

    .venv/bin/python benchmarks/threads.py [--repeat 1] [--cap 200]

Each cell is one `corenets run RECIPE ...` process, timed from start to exit (data, the thread probe, training,
test and report; the classical baseline is off so the cells time the network alone). "busy" runs it beside a
second process that spins on one core (`while True: pass`), as another job on a shared machine would. Settings:
`--threads 1`, `--threads 2` (torch's own default on 2 cores: what `threads: 0` meant before issue 18) and
`--threads 0` (the default now: train/threads.py chooses). A run past --cap seconds is stopped and shown as `>cap`.
BENCHMARKS.md "## Threads" holds the table.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORENETS = [sys.executable, "-m", "corenets"]
WORKLOADS = {  # name -> the command's arguments after `corenets run`
    "quickstart": ["quickstart", "--set", "report.inspect=false"],
    "fashion-mnist-cnn (1 epoch)": ["fashion-mnist-cnn", "--epochs", "1", "--set", "report.inspect=false"],
    "breast-cancer-lstm (fold 1 of 5, 15 of 150 epochs)": ["breast-cancer-lstm", "--cv", "5", "--set", "fold=1",
                                                            "--epochs", "15", "--set", "report.inspect=false"],
    "breast-cancer-lstm --cv 5 (all folds, 150 epochs)": ["breast-cancer-lstm", "--cv", "5",
                                                          "--set", "report.inspect=false"],
}


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def timed(args: list[str], threads: int, cap: float, out: Path) -> tuple[float | None, int | None]:
    """(seconds, threads the run recorded) of one run; (None, None) past the cap."""
    cmd = CORENETS + ["run", *args, "--threads", str(threads), "--quiet", "--out", str(out),
                      "--set", "report.classical_baseline=false"]
    t0 = time.perf_counter()
    try:
        subprocess.run(cmd, check=True, timeout=cap, stdout=subprocess.DEVNULL, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return None, None
    seconds = time.perf_counter() - t0
    # a --cv run's parent records the setting (0); each fold records the count it ran with
    chosen = [json.loads(p.read_text()).get("threads") or 0 for p in out.rglob("metrics.json")]
    return seconds, max(chosen, default=None)


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--cap", type=float, default=200.0)
    p.add_argument("--only", help="one workload name prefix")
    p.add_argument("--loads", default="alone,busy", help="which rows: alone, busy or both")
    args = p.parse_args(argv)
    print(f"CPU: {cpu_model()}, {len(__import__('os').sched_getaffinity(0))} cores usable")
    print("| workload | load | --threads 1 | --threads 2 (old default) | default (auto) | auto chose | loadavg |")
    print("|---|---|---|---|---|---|---|")
    for name, wargs in WORKLOADS.items():
        if args.only and not name.startswith(args.only):
            continue
        for load in args.loads.split(","):
            loadavg = __import__("os").getloadavg()[0]  # other processes on the machine, before this row
            spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load == "busy" else None
            try:
                cells, chose = [], "?"
                for threads in (1, 2, 0):
                    times = []
                    for _ in range(args.repeat):
                        with tempfile.TemporaryDirectory() as tmp:
                            s, used = timed(wargs, threads, args.cap, Path(tmp))
                        times.append(s)
                        chose = used if threads == 0 and used is not None else chose
                    done = [t for t in times if t is not None]
                    cells.append(f"{sorted(done)[len(done) // 2]:.1f} s" if len(done) == len(times) else f">{args.cap:.0f} s")
                print(f"| {name} | {load} | {' | '.join(cells)} | {chose} | {loadavg:.1f} |", flush=True)
            finally:
                if spinner is not None:
                    spinner.kill()
                    spinner.wait()


if __name__ == "__main__":
    main()
