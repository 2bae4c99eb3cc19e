"""User-facing errors: each renders as one line and maps to exit status 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (config, flag, data file, output path).

    The CLI prints ``str(error)`` on one line of stderr and exits with status 2.

    Parameters
    ----------
    message : str
    parameter : str, optional
        The library parameter that caused the error, when the message starts with
        ``"PARAMETER: "``; the CLI names the flag instead (`sim.cli.error_text`).
    """

    exit_status = 2

    def __init__(self, message: str = "", parameter: str | None = None):
        super().__init__(message)
        self.parameter = parameter


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
        where = f"{path}: {key}" if key else str(path)
        super().__init__(f"{where}: {message}")
        self.path, self.key, self.message = str(path), key, message


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
        super().__init__(f"{parameter}: {message}", parameter)
        self.message = message


class OutputError(UserError):
    """An output path that cannot be written."""


class ResourceError(UserError):
    """A run that would not fit in this machine's memory."""


class Interrupted(UserError):
    """A run stopped by Ctrl-C; the message says what was kept. Exit status 130."""

    exit_status = 130
