"""The only module that touches files: config text, atomic netCDF writes, reads.

Results are written as netCDF-4 through h5netcdf (64-bit integer attributes for
seeds, compression for the float32 outputs), always to a temporary file in the
target directory that is renamed into place, so a failed or interrupted run
never leaves a file that looks complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

from .errors import ConfigError, OutputError, UserError
from .sampling import SEED_BLOCK_SAMPLES

NETCDF_ENGINE = "h5netcdf"


MAX_TEXT_BYTES = 16 * 2**20
"""Largest config, sweep, observation or series file read [bytes]: a cap, so that
``/dev/zero`` or a huge file is refused instead of filling memory."""


def regular_file_problem(path: str | Path) -> str | None:
    """Why `path` cannot be read as an input file, or None when it is a regular file.

    Only `os.stat` is used (a FIFO is never opened, so it cannot hang the caller).
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "file not found"
    except OSError as error:  # ELOOP (symlink loop), ENAMETOOLONG, EACCES, ...
        return f"cannot read: {error.strerror}"
    except ValueError:  # an embedded NUL byte
        return "not a valid file name"
    if stat.S_ISDIR(info.st_mode):
        return "expected a file, got a directory"
    if not stat.S_ISREG(info.st_mode):
        return "expected a regular file, got a device, FIFO or socket"
    if info.st_size > MAX_TEXT_BYTES:
        return (f"file is {info.st_size / 2**20:.0f} MiB; input files are limited to "
                f"{MAX_TEXT_BYTES // 2**20} MiB")
    return None


def read_text(path: str | Path) -> str:
    """Read a UTF-8 input file, turning every failure into a one-line `ConfigError`.

    Only regular files are opened, and at most `MAX_TEXT_BYTES` are read.
    """
    problem = regular_file_problem(path)
    if problem is not None:
        raise ConfigError(str(path), "", problem)
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_TEXT_BYTES + 1)
    except OSError as error:
        raise ConfigError(str(path), "", f"cannot read: {error.strerror}") from None
    if len(data) > MAX_TEXT_BYTES:
        raise ConfigError(str(path), "", f"file is larger than {MAX_TEXT_BYTES // 2**20} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(str(path), "", "not UTF-8 text") from None
    if not text.strip():
        raise ConfigError(str(path), "", "file is empty")
    return text


def is_file(path: str | Path) -> bool:
    """True when `path` names an existing regular file."""
    return Path(path).is_file()


def check_writable(path: str | Path, allow_directory: bool = False) -> None:
    """Refuse early, before a long run, when `path` cannot be written.

    Raises
    ------
    OutputError
        If the directory is missing or not writable, or `path` is a directory
        (unless `allow_directory`, for Zarr stores).
    """
    target = Path(path)
    if target.is_dir() and not allow_directory:
        raise OutputError(f"{path}: output path is a directory; expected a .nc file name")
    directory = target.parent
    if not directory.is_dir():
        raise OutputError(f"{path}: output directory {directory} does not exist")
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-check-"):
            pass
    except OSError as error:
        raise OutputError(f"{path}: output directory is not writable ({error.strerror})") from None


def write_netcdf(ds: xr.Dataset, path: str | Path) -> Path:
    """Write `ds` to `path` atomically: temporary file in the same directory, then rename.

    Returns
    -------
    Path
        The written file.
    """
    check_writable(path)
    target = Path(path)
    with atomic_file(target) as temp:
        # No compression: simulated floats barely compress (about 10%) and zlib
        # would make writing several times slower than simulating.
        ds.to_netcdf(temp, engine=NETCDF_ENGINE)
    return target


@contextlib.contextmanager
def atomic_file(target: Path):
    """Yield a temporary path beside `target`; on success it replaces `target` (with
    the usual file mode), on failure it is removed."""
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield temp
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp creates 0600
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


@contextlib.contextmanager
def atomic_directory(target: str | Path):
    """Yield a temporary directory beside `target`; on success it replaces `target`,
    on failure it is removed, so a directory output is never half-written."""
    target = Path(target)
    check_writable(target, allow_directory=True)
    temp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        yield temp
        os.chmod(temp, 0o777 & ~_umask())  # mkdtemp creates 0700; use the usual mode
        if target.exists():
            shutil.rmtree(target)
        os.replace(temp, target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def write_results(ds: xr.Dataset, path: str | Path) -> Path:
    """Write `ds` atomically as netCDF-4 (``.nc``) or a Zarr store (``.zarr``)."""
    target = Path(path)
    if target.suffix != ".zarr":
        return write_netcdf(ds, target)
    with atomic_directory(target) as temp:
        ds.to_zarr(temp, mode="w", consolidated=False, zarr_format=ZARR_FORMAT)
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(text: str, path: str | Path) -> Path:
    """Write a text file atomically (temporary file, then rename)."""
    target = Path(path)
    check_writable(target)
    with atomic_file(target) as temp:
        Path(temp).write_text(text, encoding="utf-8")
    return target


def read_results(path: str | Path, lazy: bool = False) -> xr.Dataset:
    """Open a results file (netCDF-4) or store (Zarr) written by this package.

    Parameters
    ----------
    path : str or Path
    lazy : bool
        Leave the data on disk until used (for large runs); default: load it.

    Raises
    ------
    UserError
        If the file is missing, not readable, not one of ours, or an unfinished run.
    """
    path = Path(path)
    try:
        if path.is_dir():
            ds = xr.open_zarr(path, chunks=None, consolidated=False)
        else:
            ds = xr.open_dataset(path, engine=NETCDF_ENGINE)
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except Exception as error:  # h5py, zarr and xarray raise many types for a bad file
        raise UserError(f"{path}: not a readable netCDF-4 file or Zarr store "
                        f"({type(error).__name__}: {str(error).splitlines()[0]})") from None
    if "fiscal_strain_sim_version" not in ds.attrs:
        raise UserError(f"{path}: not a fiscal-strain-sim results file")
    if ds.attrs.get("complete", 1) != 1:
        raise UserError(f"{path}: an unfinished run; complete it with --resume")
    return ds if lazy else ds.load()


# ---------------------------------------------------------------- streaming stores

def _checkpoint_path(store: Path) -> Path:
    return Path(store).with_name(Path(store).name + ".checkpoint.npz")
ZARR_FORMAT = 2  # fixed-width strings (claim labels) are part of the v2 spec


def create_store(store: Path, data_vars: dict, coords: dict, attrs: dict) -> None:
    """Create a Zarr store from the first chunk, chunked by seed block along ``sample``."""
    ds = xr.Dataset(data_vars, coords, {**attrs, "complete": 0})
    encoding = {name: {"chunks": tuple(SEED_BLOCK_SAMPLES if d == "sample" else ds.sizes[d]
                                       for d in ds[name].dims),
                       "compressors": None}  # floats barely compress; speed matters more
                for name in ds.variables if "sample" in ds[name].dims}
    ds.to_zarr(store, mode="w", consolidated=False, zarr_format=ZARR_FORMAT,
               encoding=encoding)


class StoreAppender:
    """Appends chunks along ``sample`` to an open Zarr store.

    The store is created by `create_store` (xarray writes the metadata that makes
    it readable as a Dataset); appends then go straight to the Zarr arrays, which
    is several times faster than xarray's append for many small variables.
    """

    def __init__(self, store: Path):
        import zarr

        self.group = zarr.open_group(str(store), mode="r+")
        self.arrays = {name: array for name, array in self.group.arrays()
                       if "sample" in array.attrs.get("_ARRAY_DIMENSIONS", [])}

    def append(self, data: dict[str, np.ndarray], rows: tuple[int, int]) -> None:
        """Write sample rows [lo, hi) of every per-sample variable (sample axis first or
        second, as stored)."""
        lo, hi = rows
        for name, array in self.arrays.items():
            axis = array.attrs["_ARRAY_DIMENSIONS"].index("sample")
            shape = list(array.shape)
            shape[axis] = hi
            array.resize(tuple(shape))
            index = (slice(None),) * axis + (slice(lo, hi),)
            array[index] = data[name]


def remove_partial(store: Path) -> None:
    """Delete a partial run's store and checkpoint."""
    if Path(store).exists():
        shutil.rmtree(store)
    _checkpoint_path(store).unlink(missing_ok=True)


def truncate_store(store: Path, samples: int) -> None:
    """Cut every per-sample array back to `samples` (drop a chunk written after the
    last checkpoint)."""
    import zarr

    group = zarr.open_group(str(store), mode="r+")
    for _, array in group.arrays():
        dims = array.attrs.get("_ARRAY_DIMENSIONS", [])
        if dims and dims[0] == "sample" and array.shape[0] != samples:
            array.resize((samples, *array.shape[1:]))
        elif "sample" in dims and dims[0] != "sample":
            axis = dims.index("sample")
            if array.shape[axis] != samples:
                shape = list(array.shape)
                shape[axis] = samples
                array.resize(tuple(shape))


def write_checkpoint(store: Path, arrays: dict) -> None:
    """Write the run's progress atomically (temporary file, then rename)."""
    with atomic_file(_checkpoint_path(store)) as temp, open(temp, "wb") as file:
        np.savez(file, **arrays)


def read_checkpoint(store: Path) -> dict | None:
    """The last checkpoint of a partial run, or None."""
    path = _checkpoint_path(store)
    if not path.is_file():
        return None
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


def finish_store(store: Path, data_vars: dict, attrs: dict) -> None:
    """Add the streaming statistics and the final attrs (which mark it complete)."""
    xr.Dataset(data_vars, attrs=attrs).to_zarr(store, mode="a", consolidated=False)


def publish_store(store: Path, out: Path) -> Path:
    """Turn a complete store into the output: rename (``.zarr``) or convert (``.nc``)."""
    if out.suffix == ".zarr":
        if out.exists():
            shutil.rmtree(out)
        os.replace(store, out)
    else:
        with xr.open_zarr(store, chunks=None, consolidated=False) as ds:
            write_netcdf(ds, out)
        shutil.rmtree(store)
    _checkpoint_path(store).unlink(missing_ok=True)
    return out


def free_disk_bytes(directory: str | Path) -> int:
    """Free space on the disk holding `directory` [bytes]."""
    return shutil.disk_usage(directory).free


def available_memory_bytes() -> int:
    """Memory available to a new allocation [bytes]: MemAvailable, else free pages."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
