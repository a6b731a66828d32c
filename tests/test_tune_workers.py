"""Many workers on one study, in real processes: a throwaway PostgreSQL cluster (Debian's postgresql, which
.ci/run installs) shared by two `corenets tune` processes, and two local --workers on the journal file; one
worker SIGKILLed mid-trial each time. Marked slow: each test starts several Python processes."""

import datetime
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")
pytestmark = pytest.mark.slow

ARGS = ["--set", "model.hidden=[16]", "threads=1", "--pruner", "none", "--no-final"]
CORENETS = [sys.executable, "-m", "corenets"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres():
    """postgresql://postgres@127.0.0.1:PORT/postgres on a cluster made for this session, stopped at the end."""
    required = os.environ.get("CORENETS_REQUIRE_POSTGRES")  # .ci/run sets it where PostgreSQL is installed
    try:
        import psycopg  # noqa: F401  (the tune extra's driver for --storage postgresql://)
    except ImportError:
        (pytest.fail if required else pytest.skip)("psycopg is missing: pip install 'corenets[tune]'")
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = bins[-1] if bins else shutil.which("initdb")
    if initdb is None and required:
        pytest.fail("CORENETS_REQUIRE_POSTGRES is set but PostgreSQL's initdb is missing")
    if initdb is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql; .ci/run does)")
    bindir = Path(initdb).parent
    root = Path(tempfile.mkdtemp(prefix="corenets-pg-"))  # not under pytest's root-only tmp: nobody must reach it
    as_user = []
    if os.geteuid() == 0:  # postgres refuses to run as root: run it as nobody, in a folder nobody owns
        shutil.chown(root, "nobody")
        os.chmod(root, 0o777)
        as_user = ["runuser", "-u", "nobody", "--"]
    data, port = root / "data", _free_port()
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True, cwd=root)
    opts = f"-k {root} -c listen_addresses=127.0.0.1 -p {port} -c fsync=off"
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o", opts,
                    "start"], check=True, capture_output=True, cwd=root)
    yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True,
                   cwd=root)
    shutil.rmtree(root, ignore_errors=True)


def _rdb(url):
    return optuna.storages.RDBStorage("postgresql+psycopg://" + url.split("://", 1)[1])


def _journal(study_dir):
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    return JournalStorage(JournalFileBackend(str(study_dir / "study.journal")))


def _trials(storage, name):
    try:
        return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    except KeyError:  # not created yet
        return []


def _wait_for(storage, name, pred, proc, what, limit=300):
    """Poll the study until pred(trials) names a trial; fail (with the worker's output) if the worker ends first."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        found = pred(_trials(storage, name))
        if found is not None:
            return found
        if proc.poll() is not None:
            pytest.fail(f"the worker ended before {what}: {proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.2)
    pytest.fail(f"no {what} within {limit} s")


def _worker(out, *extra, epochs=3):
    cmd = [*CORENETS, "tune", "quickstart", "--out", str(out), "--set", f"train.epochs={epochs}", *ARGS, *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _pid(trial) -> int:
    return int(trial.user_attrs["worker"].rpartition(":")[2])


def _finished_before(trials, stopped, done_before, sent, out=""):
    """(stopped, done_before), with a trial that completed before the signal was sent (the moment between the
    poll and the signal) moved to done_before: there was nothing left to fail. A completion after it is a bug."""
    trial = {t.number: t for t in trials}[stopped]
    if trial.state.name != "COMPLETE":
        return stopped, done_before
    assert trial.datetime_complete <= sent, f"trial {stopped} was completed after the signal:\n{out}"
    return None, [*done_before, stopped]


def _check_after_kill(trials, killed, done_before, n):
    states = {t.number: t.state.name for t in trials}
    assert killed is None or states[killed] == "FAIL", states  # the killed worker's running trial
    assert all(states[k] == "COMPLETE" for k in done_before)  # no finished trial lost
    assert sum(s == "COMPLETE" for s in states.values()) == n
    assert sorted(states) == list(range(len(states)))  # one sequence, no duplicates


def test_two_machines_share_one_postgresql_study(postgres, tmp_path):
    procs = [_worker(tmp_path / f"m{i}", "--trials", "8", "--storage", postgres, "--study", "share") for i in range(2)]
    for p in procs:
        assert p.wait(timeout=600) == 0, p.stdout.read()
    trials = _trials(_rdb(postgres), "corenets-share")
    assert sorted(t.number for t in trials) == list(range(8)) and all(t.state.name == "COMPLETE" for t in trials)
    by = {}
    for t in trials:
        by.setdefault(_pid(t), []).append(t.number)
    assert set(by) == {p.pid for p in procs}  # both worked on it
    a, b = by.values()
    assert min(a) < max(b) and min(b) < max(a)  # interleaved, not one block after the other


def test_a_killed_postgresql_worker_fails_its_trial_and_the_other_finishes(postgres, tmp_path):
    procs = [_worker(tmp_path / f"m{i}", "--trials", "6", "--storage", postgres, "--study", "kill", epochs=40)
             for i in range(2)]
    storage = _rdb(postgres)
    victim = procs[0]

    def running_after_one_done(trials):
        done = [t.number for t in trials if t.state.name == "COMPLETE"]
        mine = [t.number for t in trials if t.state.name == "RUNNING" and "worker" in t.user_attrs
                and _pid(t) == victim.pid]
        return (mine[0], done) if done and mine else None

    killed, done_before = _wait_for(storage, "corenets-kill", running_after_one_done, victim, "a running trial")
    sent = datetime.datetime.now()
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert procs[1].wait(timeout=600) == 0, procs[1].stdout.read()
    trials = _trials(storage, "corenets-kill")
    killed, done_before = _finished_before(trials, killed, done_before, sent)
    _check_after_kill(trials, killed, done_before, 6)


def test_a_killed_local_worker_fails_its_trial_and_the_study_finishes(tmp_path):
    main = _worker(tmp_path, "--trials", "6", "--workers", "2", epochs=40)
    study_dir = tmp_path / "quickstart-tune"

    def child_running_after_one_done(trials):
        done = [t.number for t in trials if t.state.name == "COMPLETE"]
        child = [t for t in trials if t.state.name == "RUNNING" and "worker" in t.user_attrs and _pid(t) != main.pid]
        return (child[0].number, _pid(child[0]), done) if done and child else None

    def storage():
        return _journal(study_dir)

    end = time.monotonic() + 120
    while not (study_dir / "study.journal").exists() and time.monotonic() < end:
        time.sleep(0.2)
    killed, pid, done_before = _wait_for(storage(), "corenets-quickstart-tune", child_running_after_one_done, main,
                                         "a running trial in the second worker")
    sent = datetime.datetime.now()
    os.kill(pid, signal.SIGKILL)
    out, _ = main.communicate(timeout=600)
    assert main.returncode == 0, out
    assert "worker 1 ended with signal 9" in out
    trials = _trials(storage(), "corenets-quickstart-tune")
    killed, done_before = _finished_before(trials, killed, done_before, sent, out)
    _check_after_kill(trials, killed, done_before, 6)


def test_ctrl_c_keeps_the_finished_trials_and_the_same_command_resumes(tmp_path):
    first = _worker(tmp_path, "--trials", "4", epochs=40)
    study_dir = tmp_path / "quickstart-tune"
    end = time.monotonic() + 120
    while not (study_dir / "study.journal").exists() and time.monotonic() < end:
        time.sleep(0.2)

    def running_after_one_done(trials):
        done = [t.number for t in trials if t.state.name == "COMPLETE"]
        running = [t.number for t in trials if t.state.name == "RUNNING"]
        return (running[0], done) if done and running else None

    stopped, done_before = _wait_for(_journal(study_dir), "corenets-quickstart-tune", running_after_one_done, first,
                                     "a running trial")
    sent = datetime.datetime.now()
    first.send_signal(signal.SIGINT)
    out, _ = first.communicate(timeout=300)
    assert first.returncode == 130, out
    assert "run the same command again to resume the study" in out.strip().splitlines()[-1], out
    stopped, done_before = _finished_before(_trials(_journal(study_dir), "corenets-quickstart-tune"), stopped,
                                            done_before, sent, out)
    again = _worker(tmp_path, "--trials", "4", epochs=40)
    out, _ = again.communicate(timeout=600)
    assert again.returncode == 0, out
    _check_after_kill(_trials(_journal(study_dir), "corenets-quickstart-tune"), stopped, done_before, 4)
