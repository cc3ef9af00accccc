"""Errors that mean "the request is bad", as opposed to bugs.

The CLI prints ``str(error)`` as one line on stderr and exits with status 2, so messages must name the offending
value and say what would be valid.
"""


class RnnmfError(ValueError):
    """Invalid user input: an unknown name, an out-of-range value, a missing file."""


class InfeasibleError(RnnmfError):
    """A request that has no solution, e.g. Algorithm 1 returning sigma_v^2 < 0."""


class DataError(RnnmfError):
    """A data set is missing or corrupt; the message says which files to put where."""


class Interrupted(KeyboardInterrupt):
    """A job stopped by a signal (SIGTERM; Ctrl-C is a plain KeyboardInterrupt): the run folder says
    ``status: interrupted`` and running the same command again resumes."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
