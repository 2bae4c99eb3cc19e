"""Output ownership: what the tool may write, replace or delete, and one writer per output.

The tool deletes or replaces only what it created. Every output carries a mark of
its maker: a report folder holds a marker file `MARKER` with the tool's name and
a run id; a Zarr store and a netCDF file hold the ``fiscal_strain_sim_version``
and ``run_id`` attributes; a text file starts with `TEXT_MARK`; temporary files
and folders are named ``.NAME.RUNID.fiscal-sim.tmp``. An existing target
without that mark is refused up front, and so are ``.``, ``..``, the home
directory, the root and any folder that holds an input or the working directory.

A writer holds `OutputLock` on its output for the whole run: a lock file beside it
created exclusively, recording the writer's pid and host, and held with
``flock``, which the kernel releases when the process dies (``kill -9``
included), so a lock left by a dead writer is recognised as stale and taken over.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import stat
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from sim.errors import OutputError

TOOL = "fiscal-strain-sim"
MARKER = ".fiscal-sim-output"
"""Marker file inside every directory the tool writes."""
TEXT_MARK = "# Written by fiscal-sim"
"""First characters of every text file the tool writes."""
TEMP_TAG = ".fiscal-sim.tmp"
"""Suffix of the tool's temporary files and folders (``.NAME.RUNID.fiscal-sim.tmp``)."""
LOCK_SUFFIX = ".lock"

FORMATS = {
    "results": (".nc", ".zarr"),
    "netcdf": (".nc",),
    "toml": (".toml",),
    "directory": (),
}
"""Output kinds and the name endings each accepts (a directory: any name)."""


def new_run_id() -> str:
    """A fresh run id (16 hex digits), recorded in the output and its checkpoint."""
    return uuid.uuid4().hex[:16]


# ---------------------------------------------------------------- ownership


def write_marker(directory: Path, run_id: str, kind: str) -> None:
    """Mark `directory` as written by this tool."""
    text = json.dumps({"tool": TOOL, "run_id": run_id, "kind": kind})
    (Path(directory) / MARKER).write_text(text + "\n", encoding="utf-8")


def read_marker(directory: Path) -> dict | None:
    """The marker of a directory the tool wrote (a report's marker file, or a Zarr
    store's attributes), or None."""
    directory = Path(directory)
    try:
        info = json.loads((directory / MARKER).read_text(encoding="utf-8"))
        return info if isinstance(info, dict) and info.get("tool") == TOOL else None
    except (OSError, ValueError):
        pass
    try:
        attrs = json.loads((directory / ".zattrs").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(attrs, dict) or "fiscal_strain_sim_version" not in attrs:
        return None
    return {"tool": TOOL, "run_id": str(attrs.get("run_id", "")), "kind": "zarr-store"}


def netcdf_run_id(path: Path) -> str | None:
    """The run id of a netCDF file this tool wrote ("" for older files), or None
    when the file is not readable as one of ours."""
    try:
        import h5py

        with h5py.File(path, "r") as file:
            if "fiscal_strain_sim_version" not in file.attrs:
                return None
            run_id = file.attrs.get("run_id", "")
            return run_id.decode() if isinstance(run_id, bytes) else str(run_id)
    except Exception:  # h5py raises OSError, KeyError, ValueError for foreign files
        return None


def owned_by_tool(path: Path) -> bool:
    """True when `path` exists and carries this tool's mark (see the module docstring)."""
    path = Path(path)
    if path.is_symlink():
        return False
    if path.is_dir():
        return read_marker(path) is not None
    if not path.is_file():
        return False
    if path.suffix == ".nc":
        return netcdf_run_id(path) is not None
    try:
        with open(path, encoding="utf-8") as file:
            return file.read(len(TEXT_MARK)) == TEXT_MARK
    except (OSError, UnicodeDecodeError):
        return False


def _protected(inputs: Iterable[str | Path]) -> list[tuple[Path, str]]:
    places = [(Path.cwd(), "the working directory"), (Path.home(), "the home directory"),
              (Path("/"), "the root directory")]
    places += [(Path(p), f"input {p}") for p in inputs]
    resolved = []
    for place, name in places:
        with contextlib.suppress(OSError, RuntimeError):
            resolved.append((place.resolve(), name))
    return resolved


def check_output(path: str | Path, kind: str, inputs: Iterable[str | Path] = (),
                 flag: str = "out") -> Path:
    """Refuse, before any work, an output the tool may not write.

    Parameters
    ----------
    path : str or Path
        The output named by the user.
    kind : {"results", "netcdf", "toml", "directory"}
        What will be written there (see `FORMATS`).
    inputs : iterable of path
        Files the command reads: the output may not be one of them or a folder
        holding one.
    flag : str
        The parameter (or option) that named `path`, for messages.

    Returns
    -------
    Path

    Raises
    ------
    OutputError
        Empty name, wrong ending, a protected place, an existing target the tool
        did not write, a missing or read-only parent directory.
    """
    try:
        return _check_output(str(path), kind, inputs, flag)
    except OutputError as error:
        error.parameter = flag  # the CLI names the flag (`sim.cli.error_text`)
        raise
    except OSError as error:  # a name too long, a component that is a file, no permission
        raise OutputError(f"{flag}: {str(path)[:200]!r}: {error.strerror}", flag) from None


def _check_output(text: str, kind: str, inputs: Iterable[str | Path], flag: str) -> Path:
    if not text.strip():
        raise OutputError(f"{flag}: expected a file name, got an empty string")
    if any(ord(c) < 32 for c in text):
        raise OutputError(f"{flag}: {text!r}: a file name with control characters")
    target = Path(text)
    endings = FORMATS[kind]
    if kind != "directory" and target.suffix != ".zarr" and target.is_dir():
        raise OutputError(f"{flag}: {target} is a directory; expected a file name ending in "
                          f"{' or '.join(endings)}")
    if endings and target.suffix not in endings:
        raise OutputError(f"{flag}: {target}: expected a name ending in "
                          f"{' or '.join(endings)} for the format written")
    if target.name in ("", ".", ".."):
        raise OutputError(f"{flag}: {target}: expected a new name, not {text}")
    try:
        resolved = target.resolve()
    except (OSError, RuntimeError) as error:
        raise OutputError(f"{flag}: {target}: cannot resolve the path ({error})") from None
    for place, name in _protected(inputs):
        if resolved == place or resolved in place.parents:
            what = "is" if resolved == place else "holds"
            raise OutputError(f"{flag}: {target} {what} {name}; the tool never replaces it; "
                              "choose a new name")
    for place, name in _protected(inputs):  # an input folder (a Zarr store) stays whole
        if name.startswith("input ") and place in resolved.parents and place.is_dir():
            raise OutputError(f"{flag}: {target} is inside {name}; the tool never writes "
                              "into an input; choose a name outside it")
    if target.is_symlink() or target.exists():
        if kind in ("results",) and target.suffix == ".zarr" and not target.is_dir():
            raise OutputError(f"{flag}: {target} is a file; a .zarr output is a directory")
        if kind == "directory" and not target.is_dir():
            raise OutputError(f"{flag}: {target} is an existing file; expected a directory "
                              "name")
        if not owned_by_tool(target):
            raise OutputError(f"{flag}: {target} exists and was not written by fiscal-sim; "
                              "the tool never replaces it: choose another name or move it "
                              "away yourself")
    parent = target.parent
    if not parent.is_dir():
        raise OutputError(f"{flag}: {target}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{flag}: {target}: directory {parent} is not writable")
    return target


# ---------------------------------------------------------------- temporary siblings


def temp_sibling(target: Path, run_id: str) -> Path:
    """The name of this run's temporary file or folder beside `target`."""
    return target.with_name(f".{target.name}.{run_id}{TEMP_TAG}")


def remove_stale_temps(target: Path) -> None:
    """Remove temporary siblings left by killed writers of `target`.

    Called only while holding `OutputLock` on `target`, so no live writer owns them.
    """
    pattern = re.compile(re.escape(f".{target.name}.") + r"[0-9a-f]{16}(\.old)?"
                         + re.escape(TEMP_TAG))
    with contextlib.suppress(OSError):
        for entry in target.parent.iterdir():
            if not pattern.fullmatch(entry.name):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(target: Path, run_id: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` (with
    the usual file mode), on failure it is removed."""
    target = Path(target)
    temp = temp_sibling(target, run_id or new_run_id())
    fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666 & ~_umask())
    os.close(fd)
    try:
        yield temp
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def replace_directory(new: Path, target: Path, run_id: str) -> None:
    """Put the finished directory `new` at `target`; an existing `target` (checked to
    be ours) is first moved aside, then removed. Each step is a rename, so a kill at
    any instant leaves either the old output or the new one, and no foreign file is
    touched."""
    target = Path(target)
    old = target.with_name(f".{target.name}.{run_id}.old{TEMP_TAG}")
    if target.exists():
        if not owned_by_tool(target):  # it appeared while we were running
            raise OutputError(f"{target} appeared during the run and was not written by "
                              f"fiscal-sim; the result is kept at {new}")
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(target: Path, kind: str | None, run_id: str | None = None
                     ) -> Iterator[Path]:
    """Yield a new directory beside `target` (with a marker file of `kind`, unless
    None: a Zarr store is marked by its attributes); on success it replaces
    `target`, on failure it is removed, so a directory output is never half-written."""
    target = Path(target)
    run_id = run_id or new_run_id()
    temp = temp_sibling(target, run_id)
    temp.mkdir(mode=0o777 & ~_umask())
    try:
        if kind is not None:
            write_marker(temp, run_id, kind)
        yield temp
        replace_directory(temp, target, run_id)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


# ---------------------------------------------------------------- one writer per output


def lock_path(target: Path) -> Path:
    """The lock file of an output."""
    target = Path(target)
    return target.with_name(target.name + LOCK_SUFFIX)


class OutputLock:
    """Exclusive lock on an output for the whole of a write (a context manager).

    Raises
    ------
    OutputError
        If another live process holds the lock (the message names its pid, host and
        start time), or the lock file cannot be created.
    """

    def __init__(self, target: str | Path):
        self.target = Path(target)
        self.path = lock_path(self.target)
        self.fd: int | None = None

    def __enter__(self) -> OutputLock:
        for _ in range(20):
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                os.close(fd)
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise OutputError(f"{self.path}: cannot lock ({error.strerror})") from None
                raise OutputError(f"{self.target} is being written by {self._holder()}; "
                                  "wait for it to finish (one writer per output)") from None
            # The file may have been removed by its previous holder between our open
            # and our lock: then lock the new one instead.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                self._record()
                return self
            os.close(fd)
        raise OutputError(f"{self.path}: could not take the lock (contended)")

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
        except FileExistsError:
            pass  # a lock file exists: it is stale unless its flock is held
        except OSError as error:
            raise OutputError(f"{self.path}: cannot create the lock file "
                              f"({error.strerror})") from None
        info = os.lstat(self.path)
        if not stat.S_ISREG(info.st_mode):
            raise OutputError(f"{self.path}: exists and is not a lock file; move it away")
        try:
            return os.open(self.path, os.O_RDWR)
        except FileNotFoundError:  # released meanwhile
            return self._open()

    def _record(self) -> None:
        text = json.dumps({"tool": TOOL, "pid": os.getpid(), "host": socket.gethostname(),
                           "since": time.strftime("%Y-%m-%d %H:%M:%S")})
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, text.encode(), 0)

    def _holder(self) -> str:
        try:
            info = json.loads(self.path.read_text(encoding="utf-8"))
            return (f"pid {info['pid']} on {info['host']} since {info['since']} "
                    f"(lock {self.path})")
        except (OSError, ValueError, KeyError, TypeError):
            return f"another process (lock {self.path})"

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            os.close(self.fd)
            self.fd = None
