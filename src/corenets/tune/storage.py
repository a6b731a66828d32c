"""Where a study lives: Optuna's journal file in the study folder (safe for several local processes), or any
database URL Optuna's RDBStorage takes (postgresql://... for many machines). Nothing here is home-made
scheduling: trials are handed out by Optuna; this module opens the storage, refuses what cannot work, and marks
the running trials of dead workers failed."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from ..errors import ConfigError

CONNECT_TIMEOUT = 10  # seconds: an unreachable database is refused after this, not hung on
HEARTBEAT = 10  # seconds between a database worker's heartbeats; a trial silent for GRACE is failed by the others
GRACE = 60


class StudyError(ConfigError):
    """A study that cannot be opened or joined: unreachable storage, another recipe's study."""


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def open_storage(url: str | None, study_dir: Path):
    """The Optuna storage for `url` (None: the journal file <study_dir>/study.journal)."""
    import optuna

    if url is None:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        study_dir.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(study_dir / "study.journal")))
    if "://" not in url:
        raise StudyError(f"--storage {url[:80]!r} is not a database URL; e.g. postgresql://user:pass@host/db, "
                         "or leave it out for the journal file in the study folder")
    if url.startswith(("postgresql://", "postgres://")):  # psycopg 3 (the tune extra), whichever SQLAlchemy defaults to
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    kwargs = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT}} if url.startswith("postgresql") else {}
    _check_reachable(url, kwargs)
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT,
                                              grace_period=GRACE)
        except Exception as e:  # two workers creating the tables of a fresh database at once: the loser retries
            if "already exists" not in str(e) or attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))


def _check_reachable(url: str, kwargs: dict) -> None:
    import sqlalchemy

    shown = url.split("@")[-1][:80]  # never print a password
    try:
        engine = sqlalchemy.create_engine(url, **kwargs)
        with engine.connect():
            pass
        engine.dispose()
    except ModuleNotFoundError as e:
        raise StudyError(f"--storage {shown}: the database driver {e.name} is missing; pip install 'corenets[tune]'") from None
    except Exception as e:  # sqlalchemy's OperationalError, a bad URL's ArgumentError, ...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise StudyError(f"--storage {shown} cannot be reached within {CONNECT_TIMEOUT} s ({first}); check the host, "
                         "port and credentials, or leave out --storage to use the journal file") from None


def fail_dead_trials(study) -> list[int]:
    """Mark failed every running trial whose worker was on this machine and is gone (a SIGKILL, a crash);
    database studies also fail trials whose heartbeat stopped (another machine's dead worker). Returns their numbers."""
    import optuna
    from optuna.trial import TrialState

    host = socket.gethostname()
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        who = str(t.user_attrs.get("worker", ""))
        h, _, pid = who.rpartition(":")
        if h == host and pid.isdigit() and not _alive(int(pid)):
            if study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL):
                failed.append(t.number)
    if isinstance(study._storage, optuna.storages.RDBStorage):
        optuna.storages.fail_stale_trials(study)
    return failed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped by its parent) is dead
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
