"""SIGKILL and Ctrl-C in the middle of a run, then --resume: the final numbers equal an uninterrupted run's."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest
import torch



def wait_for(proc, text: str, timeout: float = 60) -> str:
    """Read the child's stdout until a line holds `text`; returns everything read."""
    seen, t0 = "", time.monotonic()
    while time.monotonic() - t0 < timeout:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
        if text in line:
            return seen
    proc.kill()
    raise AssertionError(f"never saw {text!r}: {seen} {proc.stderr.read()}")


def kill_and_resume(cli, out: Path, kills: int, rng: random.Random) -> tuple[Path, list[str]]:
    """Start TINY, SIGKILL it at a random moment `kills` times (resuming in between), then let it finish."""
    folder, log = None, []
    for _ in range(kills):
        args = ["run", *cli.TINY, "--out", str(out)] if folder is None else ["run", "--resume", str(folder), *cli.TINY]
        proc = cli.popen(*args)
        seen = wait_for(proc, "run folder:")
        folder = cli.folder(seen)
        time.sleep(rng.uniform(0.0, 2.5))  # anywhere: loading, mid-epoch, mid-write, evaluating
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        if (folder / "metrics.json").exists():  # it finished before the kill landed (the last resumes have 1-2
            log.append("finished before the kill")  # epochs left): nothing to interrupt, and resuming it is refused
            return folder, log
        state = torch.load(folder / "last.pt", weights_only=True)["train_state"] if (folder / "last.pt").exists() else None
        log.append(f"killed at epoch {state['epoch'] if state else 'none (before the first checkpoint)'}")
        if state is None:  # killed before its first epoch ended: not resumable, and says so
            r = cli.run("run", "--resume", str(folder), *cli.TINY)
            assert r.returncode == 2 and "not resumable" in r.stderr, r.stderr
            folder = None
    args = ["run", *cli.TINY, "--out", str(out)] if folder is None else ["run", "--resume", str(folder), *cli.TINY]
    r = cli.run(*args)
    assert r.returncode == 0, r.stderr
    return cli.folder(r.stdout), log


def test_sigkill_at_random_moments_then_resume_is_bit_for_bit(cli, reference, tmp_path):
    folder, log = kill_and_resume(cli, tmp_path, kills=2, rng=random.Random(7))
    assert cli.outcome(folder) == cli.outcome(reference), log


@pytest.mark.slow
def test_sigkill_many_times(cli, reference, tmp_path):
    rng = random.Random()  # a different schedule of kills every time this runs
    for trial in range(3):
        folder, log = kill_and_resume(cli, tmp_path / str(trial), kills=5, rng=rng)
        assert cli.outcome(folder) == cli.outcome(reference), log


def test_ctrl_c_finishes_the_step_writes_a_mid_epoch_checkpoint_and_resumes_exactly(cli, reference, tmp_path):
    proc = cli.popen("run", *cli.TINY, "--out", str(tmp_path))
    seen = wait_for(proc, "epoch 2/")
    folder = cli.folder(seen)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal arrived")  # a very fast machine; the numbers below need a stop
    assert proc.returncode == 130, err
    assert "interrupted at epoch" in err and f"--resume {folder}" in err and "Traceback" not in err
    state = torch.load(folder / "last.pt", weights_only=True)["train_state"]
    assert state["epoch"] >= 2  # the checkpoint is newer than the last finished epoch's (or equal at an edge)
    r = cli.run("run", "--resume", str(folder), *cli.TINY)
    assert r.returncode == 0, r.stderr
    assert cli.outcome(folder) == cli.outcome(reference)


def test_folder_killed_before_its_first_checkpoint_is_not_resumable(cli, tmp_path):
    from corenets import cli as cli_module

    folder = tmp_path / "quickstart-20260101-000000"
    folder.mkdir()
    (folder / "config.yaml").write_text("name: quickstart\n")
    code = cli_module.main(["run", "--resume", str(folder)])
    assert code == 2
    from corenets.errors import RunFolderError
    from corenets.runs import resumable

    with pytest.raises(RunFolderError, match="not resumable.*no last.pt"):
        resumable(folder)


def test_kill_between_last_pt_and_history_csv_of_the_final_epoch(cli, reference, tmp_path):
    """The last epoch's last.pt is on disk but history.csv still lacks its row: the resume writes it back."""
    import shutil

    from corenets import cli as cli_module

    folder = Path(shutil.copytree(reference, tmp_path / reference.name))
    lines = (folder / "history.csv").read_text().splitlines()
    (folder / "history.csv").write_text("\n".join(lines[:-1]) + "\n")
    (folder / "metrics.json").unlink()
    assert cli_module.main(["run", "--resume", str(folder), *cli.TINY, "--quiet"]) == 0
    assert cli.outcome(folder) == cli.outcome(reference)
