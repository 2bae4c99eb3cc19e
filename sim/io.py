"""The only module that touches files: config text, atomic netCDF writes, reads.

Results are written as netCDF-4 through h5netcdf (64-bit integer attributes for
seeds, compression for the float32 outputs), always to a temporary file in the
target directory that is renamed into place, so a failed or interrupted run
never leaves a file that looks complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import xarray as xr

from .errors import ConfigError, OutputError, UserError

NETCDF_ENGINE = "h5netcdf"


def read_text(path: str | Path) -> str:
    """Read a UTF-8 text file, turning every failure into a one-line `ConfigError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except IsADirectoryError:
        raise ConfigError(str(path), "", "expected a file, got a directory") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "", "not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(str(path), "", f"cannot read: {error.strerror}") from None
    if not text.strip():
        raise ConfigError(str(path), "", "file is empty")
    return text


def is_file(path: str | Path) -> bool:
    """True when `path` names an existing regular file."""
    return Path(path).is_file()


def check_writable(path: str | Path) -> None:
    """Refuse early, before a long run, when `path` cannot be written.

    Raises
    ------
    OutputError
        If the directory is missing or not writable, or `path` is a directory.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"{path}: output path is a directory; expected a .nc file name")
    directory = target.parent
    if not directory.is_dir():
        raise OutputError(f"{path}: output directory {directory} does not exist")
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-check-"):
            pass
    except OSError as error:
        raise OutputError(f"{path}: output directory is not writable ({error.strerror})") from None


def _encoding(ds: xr.Dataset) -> dict[str, dict]:
    return {name: {"zlib": True, "complevel": 1} for name in ds.data_vars}


def write_netcdf(ds: xr.Dataset, path: str | Path) -> Path:
    """Write `ds` to `path` atomically: temporary file in the same directory, then rename.

    Returns
    -------
    Path
        The written file.
    """
    check_writable(path)
    target = Path(path)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                         suffix=".tmp")
    os.close(handle)
    try:
        ds.to_netcdf(temp_name, engine=NETCDF_ENGINE, encoding=_encoding(ds))
        os.chmod(temp_name, 0o666 & ~_umask())  # mkstemp creates 0600; use the usual mode
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_results(path: str | Path) -> xr.Dataset:
    """Load a results file written by `write_netcdf` into memory.

    Raises
    ------
    UserError
        If the file is missing, not netCDF, or not one of ours.
    """
    try:
        ds = xr.load_dataset(path, engine=NETCDF_ENGINE)
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except Exception as error:  # h5py and xarray raise many types for a bad file
        raise UserError(f"{path}: not a readable netCDF-4 results file ({error})") from None
    if "fiscal_strain_sim_version" not in ds.attrs:
        raise UserError(f"{path}: not a fiscal-strain-sim results file")
    return ds


def available_memory_bytes() -> int:
    """Memory available to a new allocation [bytes]: MemAvailable, else free pages."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
