"""User-facing errors: each renders as one line and maps to exit status 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (config, flag, data file, output path).

    The CLI prints ``str(error)`` on one line of stderr and exits with status 2.
    """

    exit_status = 2


class ConfigError(UserError):
    """A scenario config that cannot be used.

    Parameters
    ----------
    path : str
        The file at fault (or ``"--set"`` for a command-line override).
    key : str
        Dotted key at fault (``"recruitment.per_month"``), or ``""`` for the whole file.
    message : str
        What was expected and what was found.
    """

    def __init__(self, path: str, key: str, message: str):
        self.path, self.key, self.message = str(path), key, message
        where = f"{self.path}: {key}" if key else self.path
        super().__init__(f"{where}: {message}")


class ParameterError(UserError):
    """A bad argument to a library function, named as the function names it.

    The library says ``keep: expected full or summary``; the CLI, which knows which
    flag gave the value, says ``--keep: ...`` (`sim.cli.flag_for`).

    Parameters
    ----------
    parameter : str
        The function's parameter (``"samples"``, ``"keep"``, ``"log"``).
    message : str
        What was expected and what was found.
    """

    def __init__(self, parameter: str, message: str):
        self.parameter, self.message = parameter, message
        super().__init__(f"{parameter}: {message}")


class OutputError(UserError):
    """An output path that cannot be written."""


class ResourceError(UserError):
    """A run that would not fit in this machine's memory."""


class Interrupted(UserError):
    """A run stopped by Ctrl-C; the message says what was kept. Exit status 130."""

    exit_status = 130
