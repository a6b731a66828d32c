"""Every error a user can cause is a CorenetsError: the CLI prints its one-line message and exits 2."""


class CorenetsError(Exception):
    """Base of all user-facing errors. The message names the problem and the fix."""


class ConfigError(CorenetsError, ValueError):
    """A bad recipe, --set override, name or option."""


class DataError(CorenetsError, ValueError):
    """Input data that is missing, malformed or unusable."""


class InputError(DataError):
    """Raw inputs handed to a run (predict, serve) that it refuses; `status` is the HTTP code the server answers
    (413 too large, 415 wrong type, 422 bad content)."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


class RunFolderError(CorenetsError):
    """A run folder that is missing, unwritable, incomplete or from an incompatible config."""


class CheckpointError(CorenetsError):
    """A checkpoint that is damaged, foreign, unsafe or from an incompatible version."""


class TrainingError(CorenetsError):
    """Training that cannot go on (NaN/inf loss, an interrupted distributed peer)."""


class Interrupted(TrainingError):
    """Ctrl-C during training: the current step finished and a resumable checkpoint was written (exit code 130)."""
