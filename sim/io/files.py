"""Reading inputs and writing results: config text, atomic netCDF/Zarr/text writes, reads.

Results are written as netCDF-4 through h5netcdf (64-bit integer attributes for
seeds, Fletcher-32 checksums on every array, uncompressed unless asked; per-sample
arrays copied in slabs, so a run larger than memory converts in bounded memory) or as
Zarr stores, always to a
temporary file or folder beside the target that is renamed into place, under
the output's lock (`sim.io.outputs`), so a failed or interrupted run never leaves a
file that looks complete. The partial stores of streamed runs are in `sim.io.store`.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import xarray as xr

from sim.errors import ConfigError, UserError
from sim.io import faults, outputs
from sim.io.store import ZARR_FORMAT, blosc_lz4, damaged_arrays, seal
from sim.numbers import byte_size
from sim.priors.sampling import SEED_BLOCK_SAMPLES

NETCDF_ENGINE = "h5netcdf"


MAX_TEXT_BYTES = 16 * 2**20
"""Largest config, sweep, observation or series file read [bytes]: a cap, so that
``/dev/zero`` or a huge file is refused instead of filling memory."""


def regular_file_problem(path: str | Path, max_bytes: int | None = MAX_TEXT_BYTES
                         ) -> str | None:
    """Why `path` cannot be read as an input file, or None when it is a regular file
    of at most `max_bytes` (None: any size).

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
    if max_bytes is not None and info.st_size > max_bytes:
        return (f"file is {byte_size(info.st_size)}; input files are limited to "
                f"{byte_size(max_bytes)}")
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
        raise ConfigError(str(path), "", f"file is larger than {byte_size(MAX_TEXT_BYTES)}")
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


NETCDF_COMPRESSION = {"zlib": True, "complevel": 1, "shuffle": True}
"""Encoding of a compressed netCDF (``compress=True``): deflate level 1 after a byte
shuffle, which any netCDF-4 reader decodes."""

SLAB_BYTES = 16 * 2**20
"""Bytes of one variable written to netCDF at once (whole HDF5 chunks)."""


def _storage_encoding(ds: xr.Dataset, compress: bool = False) -> dict:
    """netCDF encoding: Fletcher-32 checksums on every numeric array, so a damaged
    file (a flipped bit) fails to read instead of giving wrong numbers; HDF5 chunks of
    one seed block along ``sample``; with `compress`, `NETCDF_COMPRESSION`."""
    encoding = {}
    for name, variable in ds.variables.items():
        if variable.ndim and variable.dtype.kind in "fiub" and variable.size:
            chunks = tuple(min(size, SEED_BLOCK_SAMPLES) if dim == "sample" else size
                           for dim, size in zip(variable.dims, variable.shape, strict=True))
            encoding[name] = {"fletcher32": True, "chunksizes": chunks,
                              **(NETCDF_COMPRESSION if compress else {})}
    return encoding


def _stamped(ds: xr.Dataset, run_id: str) -> xr.Dataset:
    """`ds` with the attrs that mark it as ours: run id and the list of its variables."""
    return ds.assign_attrs(run_id=run_id,
                           data_variables=json.dumps(sorted(map(str, ds.data_vars))))


def write_netcdf(ds: xr.Dataset, path: str | Path, run_id: str | None = None, *,
                 compress: bool = False) -> Path:
    """Write `ds` to `path` atomically: temporary file beside it, then rename.

    The caller has checked the target with `sim.io.outputs.check_output`.

    Parameters
    ----------
    ds : Dataset
        In memory or lazily loaded (a partial store being published): per-sample
        variables are copied in slabs of about `SLAB_BYTES`, never whole.
    path : str or Path
    run_id : str, optional
        Default: a new one.
    compress : bool
        Deflate every array (`NETCDF_COMPRESSION`). Default off: simulated floats
        shrink by about a quarter (0.73 of the size for the baseline), and deflating
        makes writing several times slower than simulating. Reading is the same
        either way (values bit for bit, checksums verified).

    Returns
    -------
    Path
        The written file.
    """
    target = Path(path)
    run_id = run_id or outputs.new_run_id()
    ds = _stamped(ds, run_id)
    with outputs.atomic_file(target, run_id) as temp:
        _to_netcdf(ds, temp, _storage_encoding(ds, compress))
        faults.point("output-written")
    return target


def _to_netcdf(ds: xr.Dataset, path: Path, encoding: dict) -> None:
    """`ds.to_netcdf(path, engine=h5netcdf, encoding=encoding)`, with the per-sample float
    variables copied in slabs: xarray creates them (names, attrs, encoding) from
    stand-ins that hold no data, then `_SlabWriter` fills them from `ds`. Falls back
    to plain `to_netcdf` if xarray's writer API is not the one expected."""
    try:
        from xarray.backends.common import ArrayWriter
        from xarray.backends.h5netcdf_ import H5NetCDFStore
        from xarray.backends.locks import HDF5_LOCK
        from xarray.backends.writers import dump_to_store
    except ImportError:  # another xarray layout: the whole-variable path
        ds.to_netcdf(path, engine=NETCDF_ENGINE, encoding=encoding)
        return
    slabbed = {name: variable for name, variable in ds.variables.items()
               if "sample" in variable.dims and name not in ds.dims
               and variable.dtype.kind == "f" and variable.size}
    stand_ins = {name: variable.copy(data=np.broadcast_to(np.zeros((), variable.dtype),
                                                          variable.shape), deep=False)
                 for name, variable in slabbed.items()}
    skeleton = ds.assign({name: stand_ins[name] for name in slabbed if name in ds.data_vars})
    writer = _slab_writer_class(ArrayWriter)(slabbed)
    # One writer per output (the caller holds its lock): HDF5's own lock is enough, and
    # xarray's default would import dask.distributed to look for a scheduler (0.5 s).
    store = H5NetCDFStore.open(path, mode="w", lock=HDF5_LOCK)
    try:
        dump_to_store(skeleton, store, writer, encoding=encoding)
        writer.sync()
        if writer.missing:
            raise RuntimeError(f"netCDF writer: {sorted(writer.missing)} not written")
    finally:
        store.close()


def _slab_writer_class(base):
    class _SlabWriter(base):
        """xarray's `ArrayWriter`, except that the variables in `slabbed` are filled from
        their real data, slab by slab along ``sample`` (the source xarray passes is a
        stand-in of the same dtype and shape)."""

        __slots__ = ("missing", "slabbed")

        def __init__(self, slabbed: dict):
            super().__init__()
            self.slabbed, self.missing = slabbed, set(slabbed)

        def add(self, source, target, region=None):
            name = getattr(target, "variable_name", None)
            variable = self.slabbed.get(name)
            if variable is None or region is not None:
                return super().add(source, target, region)
            if source.dtype != variable.dtype or source.shape != variable.shape:
                raise RuntimeError(f"netCDF writer: {name} encoded as {source.dtype} "
                                   f"{source.shape}, not {variable.dtype} {variable.shape}")
            axis = variable.get_axis_num("sample")
            row_bytes = variable.dtype.itemsize * variable.size // variable.shape[axis]
            step = max(1, SLAB_BYTES // (row_bytes * SEED_BLOCK_SAMPLES)) * SEED_BLOCK_SAMPLES
            for lo in range(0, variable.shape[axis], step):
                key = (slice(None),) * axis + (slice(lo, lo + step),)
                target[key] = np.asarray(variable[key].values)
            self.missing.discard(name)
            return None

    return _SlabWriter


def write_results(ds: xr.Dataset, path: str | Path, *, compress: bool = False) -> Path:
    """Write `ds` atomically as netCDF-4 (``.nc``) or a Zarr store (``.zarr``), holding
    the output's lock; the target must be new or one of ours.

    Parameters
    ----------
    ds : Dataset
    path : str or Path
    compress : bool
        Compress every array: deflate (`NETCDF_COMPRESSION`) in netCDF, Blosc LZ4 with
        byte shuffle in Zarr. Default off: simulated floats shrink by about a quarter,
        at several times the cost of writing them.
    """
    target = Path(path)
    with outputs.OutputLock(target):
        outputs.remove_stale_temps(target)
        run_id = outputs.new_run_id()
        if target.suffix != ".zarr":
            return write_netcdf(ds, target, run_id, compress=compress)
        codec = blosc_lz4() if compress else None
        with outputs.atomic_directory(target, None, run_id) as temp:
            _stamped(ds, run_id).to_zarr(
                temp, mode="w", consolidated=False, zarr_format=ZARR_FORMAT,
                encoding={name: {"compressors": codec} for name in ds.variables})
            seal(temp, {})
    return target


def write_text(text: str, path: str | Path, what: str) -> Path:
    """Write a text file atomically, holding its lock; its first line marks it as ours."""
    target = Path(path)
    with outputs.OutputLock(target):
        outputs.remove_stale_temps(target)
        with outputs.atomic_file(target) as temp:
            Path(temp).write_text(f"{outputs.TEXT_MARK} {what}\n{text}", encoding="utf-8")
    return target


def read_results(path: str | Path, lazy: bool = False) -> xr.Dataset:
    """Open a results file (netCDF-4) or store (Zarr) written by this package.

    Parameters
    ----------
    path : str or Path
    lazy : bool
        Leave the data on disk until used (for large runs); default: load it, which
        also verifies every checksum.

    Returns
    -------
    xarray.Dataset
        The results as written (variables with ``units``, ``long_name`` and
        ``description`` attrs; provenance in the dataset's attrs), loaded into memory
        unless ``lazy``.

    Raises
    ------
    UserError
        If the file is missing, not readable, damaged (a checksum fails or a
        variable is missing), not one of ours, or an unfinished run.
    """
    path = Path(path)
    problem = regular_file_problem(path, max_bytes=None) if not path.is_dir() else None
    if problem is not None:
        raise UserError(f"{path}: {problem}")
    try:
        if path.is_dir():
            consolidated = (path / ".zmetadata").is_file()
            ds = xr.open_zarr(path, chunks=None, consolidated=consolidated)
        else:
            ds = xr.open_dataset(path, engine=NETCDF_ENGINE)
    except Exception as error:  # h5py, zarr and xarray raise many types for a bad file
        raise UserError(f"{path}: not a readable netCDF-4 file or Zarr store "
                        f"({_first_line(error)})") from None
    if "fiscal_strain_sim_version" not in ds.attrs:
        raise UserError(f"{path}: not a fiscal-strain-sim results file")
    if ds.attrs.get("complete", 1) != 1:
        raise UserError(f"{path}: an unfinished run; complete it with --resume")
    listed = json.loads(ds.attrs.get("data_variables", "[]"))
    missing = [name for name in listed if name not in ds.variables]
    if missing:
        raise UserError(f"{path}: damaged: {len(missing)} variable(s) missing, e.g. "
                        f"{missing[0]}")
    if lazy:
        return ds
    if path.is_dir():
        damaged = damaged_arrays(path, json.loads(ds.attrs.get("array_checksums", "{}")))
        if damaged:
            raise UserError(f"{path}: damaged: {', '.join(damaged[:3])}"
                            f"{' and others' if len(damaged) > 3 else ''} "
                            "missing or failing their checksum")
    try:
        return ds.load()
    except Exception as error:  # a failed checksum, a missing or garbled chunk
        raise UserError(f"{path}: damaged: cannot read its data ({_first_line(error)})"
                        ) from None


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


def free_disk_bytes(directory: str | Path) -> int:
    """Free space on the disk holding `directory` [bytes]."""
    return shutil.disk_usage(directory).free


def available_memory_bytes() -> int:
    """Memory available to a new allocation without swapping [bytes].

    ``psutil.virtual_memory().available``: MemAvailable on Linux, and its equivalent on
    macOS and Windows. Tests replace this function to simulate a small machine.

    Returns
    -------
    int
    """
    import psutil  # imported here: only runs that size themselves need it

    return int(psutil.virtual_memory().available)
