"""The partial Zarr store of a streamed run: create, append, checksum, repair, finish, publish.

Protocol (see docs/batch.md). The store ``OUT.partial.zarr`` is created in a
temporary folder and renamed into place, so it exists whole (with its marker) or
not at all. Chunks of whole seed blocks are appended along ``sample``; after each
chunk a checkpoint (``OUT.partial.zarr.checkpoint.npz``, written atomically)
records the blocks done, a CRC-32 per block of every per-sample array, the
streaming statistics, the run id and a copy of the store's metadata. On resume
the store is checked against the checkpoint: metadata restored, arrays cut back
to the rows done, and every block whose bytes do not match its checksum (a chunk
file deleted or damaged) recomputed. Finishing (statistics, final attrs,
consolidated metadata) is idempotent, and publishing is a rename (``.zarr``) or
a conversion to a temporary file then a rename (``.nc``); the checkpoint goes
last, so a run stopped at any instant resumes to the same output.

Speed: per-sample arrays are uncompressed by default and chunked along ``sample`` by
the run's chunk (one Zarr chunk file per array per append); their chunk files are
written and read directly by byte range (`RawArray`), shapes updated in place, and the
netCDF conversion reads them in slabs, since Zarr's codec pipeline costs several
milliseconds per array and call.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import zlib
from pathlib import Path

import numpy as np
import xarray as xr
from xarray.backends import BackendArray

from sim.errors import ParameterError, UserError
from sim.io import faults, outputs
from sim.priors.sampling import SEED_BLOCK_SAMPLES

ZARR_FORMAT = 2  # fixed-width strings (claim labels) are part of the v2 spec
SAMPLE = "sample"
CHECKPOINT_KEYS = ("fingerprint", "run_id", "blocks_done", "checksums", "metadata")


def checkpoint_path(store: Path) -> Path:
    """The checkpoint file of a partial store."""
    store = Path(store)
    return store.with_name(store.name + ".checkpoint.npz")


def rows_done(blocks_done: int, samples: int) -> int:
    """Samples held by the first `blocks_done` seed blocks of a run of `samples`."""
    return min(samples, blocks_done * SEED_BLOCK_SAMPLES)


# ---------------------------------------------------------------- creating and appending


def _sample_axis(array) -> int | None:
    dims = array.attrs.get("_ARRAY_DIMENSIONS", [])
    return dims.index(SAMPLE) if SAMPLE in dims else None


def _is_sample_chunk(relative: str, sample_arrays: set[str]) -> bool:
    folder, _, name = relative.rpartition("/")
    return folder in sample_arrays and not name.startswith(".")


def create_store(store: Path, data_vars: dict, coords: dict, attrs: dict, run_id: str,
                 *, compress: bool = False) -> str:
    """Create the partial store from the first chunk, in a temporary folder renamed into
    place.

    Every per-sample array is chunked along ``sample`` by the first chunk's length (one
    Zarr chunk per appended chunk) and whole along its other dimensions. xarray writes
    the metadata (with no samples); the first chunk's values then go through
    `StoreAppender`.

    Parameters
    ----------
    store : Path
        ``OUT.partial.zarr``.
    data_vars, coords, attrs
        The first chunk, as for `xarray.Dataset`.
    run_id : str
    compress : bool
        Compress the per-sample arrays with Blosc (LZ4, byte shuffle). Default off:
        simulated floats shrink by about a tenth, and every compressed chunk goes
        through Zarr's codec pipeline instead of being written directly.

    Returns
    -------
    str
        The metadata snapshot (JSON): every file of the new store except the
        per-sample arrays' chunks, for `repair_store`.
    """
    store = Path(store)
    ds = xr.Dataset(data_vars, coords, {**attrs, "complete": 0, "run_id": run_id})
    rows = ds.sizes[SAMPLE]
    sample_arrays = {str(name) for name in ds.variables if SAMPLE in ds[name].dims}
    compressors = blosc_lz4() if compress else None
    encoding = {name: {"chunks": tuple(rows if d == SAMPLE else ds.sizes[d]
                                       for d in ds[name].dims),
                       "compressors": compressors}
                for name in sample_arrays}
    temp = outputs.temp_sibling(store, run_id)
    temp.mkdir()
    ds.isel({SAMPLE: slice(0, 0)}).to_zarr(temp, mode="w", consolidated=False,
                                          zarr_format=ZARR_FORMAT, encoding=encoding)
    snapshot = {}
    for path in sorted(temp.rglob("*")):
        relative = path.relative_to(temp).as_posix()
        if path.is_file() and not _is_sample_chunk(relative, sample_arrays):
            snapshot[relative] = base64.b64encode(path.read_bytes()).decode()
    StoreAppender(temp).append({name: ds[name].values for name in sample_arrays}, (0, rows))
    os.replace(temp, store)
    return json.dumps({"sample_arrays": sorted(sample_arrays), "files": snapshot})


def blosc_lz4():
    """Blosc with LZ4 and byte shuffle: the codec of compressed Zarr arrays."""
    from numcodecs import Blosc

    return Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE)


class RawArray:
    """A per-sample Zarr v2 array whose chunk files are its values' bytes: uncompressed,
    unfiltered, C order, chunked along ``sample`` only. Its chunks are written and read
    here directly (by byte range), which is many times faster than Zarr's codec pipeline
    for arrays of a few hundred kilobytes per chunk. The files are what Zarr reads: one
    chunk each, full size; rows beyond the array's extent are padding no reader sees.

    Writes are in place, not through a temporary file: a run stopped in mid-write
    leaves rows that its checkpoint's CRC-32s reject on resume (`repair_store`).

    Use `RawArray.open`, which returns None for any other array (Zarr handles those).
    """

    def __init__(self, folder: Path, meta: dict, axis: int):
        self.folder, self.meta, self.axis = Path(folder), meta, axis
        self.dtype = np.dtype(meta["dtype"])
        self.chunks = tuple(meta["chunks"])
        self.rows = self.chunks[axis]
        self.lead = int(np.prod(self.chunks[:axis], dtype=np.int64))
        self.row_bytes = int(np.prod(self.chunks[axis + 1:], dtype=np.int64)) * self.dtype.itemsize
        self.chunk_bytes = self.lead * self.rows * self.row_bytes
        fill = meta.get("fill_value")
        self.fill = 0 if fill is None else np.array(fill).astype(self.dtype)[()]

    @classmethod
    def open(cls, folder: Path) -> RawArray | None:
        """The array in `folder` if it is one of these, else None."""
        folder = Path(folder)
        try:
            meta = json.loads((folder / ".zarray").read_text())
            dims = json.loads((folder / ".zattrs").read_text()).get("_ARRAY_DIMENSIONS", [])
            dtype = np.dtype(meta["dtype"])
            shape, chunks = list(meta["shape"]), list(meta["chunks"])
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None
        if (SAMPLE not in dims or len(dims) != len(shape) or len(chunks) != len(shape)
                or meta.get("zarr_format") != 2 or meta.get("compressor") is not None
                or meta.get("filters") or meta.get("order") != "C"
                or meta.get("dimension_separator", ".") != "." or dtype.hasobject
                or dtype.fields is not None):
            return None
        axis = dims.index(SAMPLE)
        if chunks[axis] < 1 or any(c != s or s < 1 for i, (c, s) in enumerate(
                zip(chunks, shape, strict=True)) if i != axis):
            return None
        return cls(folder, meta, axis)

    @property
    def length(self) -> int:
        """Samples held (the array's extent along ``sample``)."""
        return int(self.meta["shape"][self.axis])

    def chunk_path(self, j: int) -> Path:
        """The file of chunk `j` along ``sample``."""
        index = ["0"] * len(self.chunks)
        index[self.axis] = str(j)
        return self.folder / ".".join(index)

    def _pieces(self, lo: int, hi: int):
        """(chunk, first row in it, rows) of each chunk that rows [lo, hi) touch."""
        for j in range(lo // self.rows, -(-hi // self.rows)):
            start = j * self.rows
            a, b = max(lo, start), min(hi, start + self.rows)
            yield j, a - start, b - a

    def _grouped(self, array: np.ndarray) -> np.ndarray:
        """A C-contiguous ``(lead, rows, row_bytes)`` byte view of `array`."""
        return array.reshape(self.lead, -1).view(np.uint8).reshape(self.lead, -1,
                                                                   self.row_bytes)

    def write(self, values: np.ndarray, lo: int, hi: int) -> None:
        """Write rows [lo, hi) along ``sample`` into the chunk files, then record the
        array's new extent if they go beyond it."""
        rows = np.empty((*self.chunks[:self.axis], hi - lo, *self.chunks[self.axis + 1:]),
                        self.dtype)
        rows[...] = values  # C order, stored dtype
        grouped, done = self._grouped(rows), 0
        for j, first, count in self._pieces(lo, hi):
            fd = os.open(self.chunk_path(j), os.O_RDWR | os.O_CREAT, 0o666)
            try:
                for i in range(self.lead):
                    os.pwrite(fd, grouped[i, done:done + count],
                              (i * self.rows + first) * self.row_bytes)
                if os.fstat(fd).st_size != self.chunk_bytes:
                    os.ftruncate(fd, self.chunk_bytes)
            finally:
                os.close(fd)
            done += count
        if hi > self.length:
            self.meta["shape"][self.axis] = hi
            _rewrite(self.folder / ".zarray", json.dumps(self.meta, indent=2).encode())

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Rows [lo, hi) along ``sample`` (fill values from a missing chunk file).

        Raises
        ------
        ValueError
            If a chunk file does not hold exactly one chunk (truncated or garbled).
        """
        out = np.empty((*self.chunks[:self.axis], hi - lo, *self.chunks[self.axis + 1:]),
                       self.dtype)
        grouped, done = self._grouped(out), 0
        for j, first, count in self._pieces(lo, hi):
            path = self.chunk_path(j)
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                out[(slice(None),) * self.axis + (slice(done, done + count),)] = self.fill
                done += count
                continue
            try:
                if os.fstat(fd).st_size != self.chunk_bytes:
                    raise ValueError(f"{path}: not one chunk of {self.chunk_bytes} bytes")
                for i in range(self.lead):
                    target = grouped[i, done:done + count]
                    if os.preadv(fd, [target], (i * self.rows + first) * self.row_bytes
                                 ) != target.nbytes:
                        raise ValueError(f"{path}: shorter than one chunk")
            finally:
                os.close(fd)
            done += count
        return out

    def crc32(self) -> int:
        """CRC-32 of the array's values in C order (as `array_checksums`)."""
        length = self.length
        if self.axis != 0:
            return zlib.crc32(self.read(0, length).data)
        crc = 0
        for lo in range(0, length, self.rows):
            crc = zlib.crc32(self.read(lo, min(length, lo + self.rows)).data, crc)
        return crc


def _rewrite(path: Path, data: bytes) -> None:
    """Overwrite a small file in place (creating a file costs far more than rewriting
    one on some file systems); a garbled result is restored by `repair_store`."""
    with open(path, "r+b" if path.exists() else "wb") as file:
        file.write(data)
        file.truncate()


class StoreAppender:
    """Appends chunks along ``sample`` to a partial store.

    The store is created by `create_store` (xarray writes the metadata that makes
    it readable as a Dataset); appends then go straight to the chunk files of its
    uncompressed arrays (`RawArray`), and through Zarr for compressed ones.
    """

    def __init__(self, store: Path):
        self.store = Path(store)
        self.raw: dict[str, RawArray | None] = {}
        for folder in sorted(self.store.iterdir()):
            if (folder / ".zarray").is_file():
                raw = RawArray.open(folder)
                if raw is not None or _sample_axis_on_disk(folder) is not None:
                    self.raw[folder.name] = raw
        self._arrays = None

    @property
    def arrays(self) -> dict:
        """The per-sample arrays, as Zarr arrays (opened when first asked for)."""
        if self._arrays is None:
            import zarr

            group = zarr.open_group(str(self.store), mode="r+")
            self._arrays = {name: array for name, array in group.arrays()
                            if _sample_axis(array) is not None}
        return self._arrays

    def append(self, data: dict[str, np.ndarray], rows: tuple[int, int]) -> None:
        """Write sample rows [lo, hi) of every per-sample variable (laid out as stored);
        the arrays grow to hold them (rewriting rows inside them is a repair)."""
        lo, hi = rows
        with np.errstate(over="ignore", invalid="ignore"):
            for name, raw in self.raw.items():
                if raw is not None:
                    raw.write(data[name], lo, hi)
                    continue
                array = self.arrays[name]
                axis = _sample_axis(array)
                if array.shape[axis] < hi:
                    shape = list(array.shape)
                    shape[axis] = hi
                    array.resize(tuple(shape))
                array[(slice(None),) * axis + (slice(lo, hi),)] = data[name]


def _sample_axis_on_disk(folder: Path) -> int | None:
    try:
        dims = json.loads((folder / ".zattrs").read_text()).get("_ARRAY_DIMENSIONS", [])
    except (OSError, ValueError, AttributeError):
        return None
    return dims.index(SAMPLE) if SAMPLE in dims else None


def block_checksums(data: dict[str, np.ndarray], axes: dict[str, int],
                    rows: tuple[int, int]) -> np.ndarray:
    """CRC-32 of each seed block in rows [lo, hi) over every per-sample array, in
    name order, of the bytes as stored; shape (blocks,), uint32."""
    lo, hi = rows
    starts = range(lo, hi, SEED_BLOCK_SAMPLES)
    sums = np.zeros(len(starts), np.uint32)
    for name in sorted(data):
        values, axis = data[name], axes[name]
        for i, start in enumerate(starts):
            stop = min(hi, start + SEED_BLOCK_SAMPLES)
            block = values[(slice(None),) * axis + (slice(start - lo, stop - lo),)]
            sums[i] = zlib.crc32(np.ascontiguousarray(block).data, int(sums[i]))
    return sums


# ---------------------------------------------------------------- checkpoints


def write_checkpoint(store: Path, arrays: dict) -> None:
    """Write the run's progress atomically (temporary file, then rename)."""
    with outputs.atomic_file(checkpoint_path(store)) as temp, open(temp, "wb") as file:
        np.savez(file, **arrays)
        file.flush()
        os.fsync(file.fileno())


def read_checkpoint(store: Path) -> dict | None:
    """The last checkpoint of a partial run, or None if there is none.

    Raises
    ------
    UserError
        If the checkpoint is damaged or not one of ours (never unpickled).
    """
    path = checkpoint_path(store)
    if not path.exists():
        return None
    problem = None
    try:
        with open(path, "rb") as file, np.load(file, allow_pickle=False) as data:
            checkpoint = {name: data[name] for name in data.files}
        missing = [key for key in CHECKPOINT_KEYS if key not in checkpoint]
        if missing:
            problem = f"it has no {missing[0]!r}"
        else:
            json.loads(str(checkpoint["metadata"]))
            int(checkpoint["blocks_done"])
    except Exception as error:  # zipfile, numpy and json raise many types
        problem = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    if problem is not None:
        raise ParameterError("resume", f"the checkpoint {path} is damaged or not one of "
                             f"ours ({problem}); rerun without --resume to start again")
    return checkpoint


# ---------------------------------------------------------------- resuming


def repair_store(store: Path, checkpoint: dict, samples: int) -> list[int]:
    """Bring a partial store back to its checkpoint; return the damaged blocks.

    Restores every metadata file of the snapshot that is missing or changed (the
    shape of per-sample arrays excepted), cuts the per-sample arrays to the rows
    done, and compares every block with its checksum.

    Returns
    -------
    list of int
        Seed blocks below ``blocks_done`` whose stored bytes are missing or wrong:
        they must be recomputed.
    """
    import zarr

    store = Path(store)
    snapshot = json.loads(str(checkpoint["metadata"]))
    sample_arrays = set(snapshot["sample_arrays"])
    for relative, encoded in snapshot["files"].items():
        path = store / relative
        expected = base64.b64decode(encoded)
        if _metadata_matches(path, expected, relative, sample_arrays):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(expected)
    blocks = int(checkpoint["blocks_done"])
    rows = rows_done(blocks, samples)
    group = zarr.open_group(str(store), mode="r+")
    crc = np.zeros(blocks, np.uint32)
    damaged: set[int] = set()
    for name in sorted(sample_arrays):
        array = group[name]
        axis = _sample_axis(array)
        shape = list(array.shape)
        shape[axis] = rows
        array.resize(tuple(shape))
        raw = RawArray.open(store / name)
        for b in range(blocks):
            lo, hi = b * SEED_BLOCK_SAMPLES, min(rows, (b + 1) * SEED_BLOCK_SAMPLES)
            try:
                block = (raw.read(lo, hi) if raw is not None
                         else array[(slice(None),) * axis + (slice(lo, hi),)])
            except Exception:  # a truncated or garbled chunk file
                damaged.add(b)
                continue
            crc[b] = zlib.crc32(np.ascontiguousarray(block).data, int(crc[b]))
    expected = np.asarray(checkpoint["checksums"], np.uint32)
    damaged |= set(np.flatnonzero(crc != expected[:blocks]).tolist())
    return sorted(damaged)


def _metadata_matches(path: Path, expected: bytes, relative: str,
                      sample_arrays: set[str]) -> bool:
    try:
        found = path.read_bytes()
    except OSError:
        return False
    if found == expected:
        return True
    folder, _, name = relative.rpartition("/")
    if name != ".zarray" or folder not in sample_arrays:
        return False
    try:  # a per-sample array's shape grows with every append; the rest must match
        a, b = json.loads(found), json.loads(expected)
        return {k: v for k, v in a.items() if k != "shape"} == {
            k: v for k, v in b.items() if k != "shape"}
    except ValueError:
        return False


def remove_partial(store: Path) -> None:
    """Delete a partial run's store and checkpoint (only if they are ours).

    Raises
    ------
    UserError
        If a folder with the store's name was not made by this tool.
    """
    store = Path(store)
    if store.is_symlink() or (store.exists() and outputs.read_marker(store) is None):
        raise UserError(f"{store} exists and was not written by fiscal-sim; the tool never "
                        "deletes it: move it away")
    if store.exists():
        shutil.rmtree(store)
    checkpoint_path(store).unlink(missing_ok=True)


# ---------------------------------------------------------------- finishing and publishing


def finish_store(store: Path, data_vars: dict, attrs: dict, checksums: bool) -> None:
    """Add the streaming statistics and the final attrs (which mark it complete), and
    consolidate the metadata. Idempotent: a repeat overwrites the same values.

    `checksums`: record a checksum of every array (for a store that will be the
    output; a netCDF output has its own)."""
    xr.Dataset(data_vars).to_zarr(store, mode="a", consolidated=False)
    seal(store, attrs, checksums)
    faults.point("finished")


def seal(store: Path, attrs: dict, checksums: bool = True) -> None:
    """Record the final attrs, the list of data variables and (if `checksums`) a
    checksum of every array in a complete store, then consolidate its metadata."""
    import zarr

    group = zarr.open_group(str(store), mode="r+")
    arrays = dict(group.arrays())
    coordinates = {name for array in arrays.values()
                   for name in str(array.attrs.get("coordinates", "")).split()}
    dims = {dim for array in arrays.values() for dim in array.attrs.get("_ARRAY_DIMENSIONS", [])}
    variables = sorted(set(arrays) - coordinates - dims)
    group.attrs.update({**attrs, "data_variables": json.dumps(variables)})
    if checksums:
        group.attrs["array_checksums"] = json.dumps(array_checksums(store))
    faults.point("statistics-written")
    zarr.consolidate_metadata(str(store))


def array_checksums(store: Path) -> dict[str, int]:
    """CRC-32 of the stored values of every array of a Zarr store, by name.

    Raises
    ------
    Exception
        Whatever Zarr raises for a chunk file it cannot decode.
    """
    import zarr

    group = zarr.open_group(str(store), mode="r")
    sums = {}
    for name, array in sorted(group.arrays()):
        raw = RawArray.open(Path(store) / name)
        if raw is not None and raw.length == array.shape[raw.axis]:
            sums[name] = raw.crc32()
            continue
        values = np.asarray(array[...])
        if values.dtype == object:  # variable-length strings
            data = "\x00".join(map(str, values.ravel())).encode()
        else:
            data = np.ascontiguousarray(values).data
        sums[name] = zlib.crc32(data)
    return sums


def damaged_arrays(store: Path, expected: dict[str, int]) -> list[str]:
    """Arrays of a complete store that are missing or whose values fail their checksum."""
    try:
        found = array_checksums(store)
    except Exception:  # an undecodable chunk: find which array, one at a time
        found = {}
    return sorted(name for name, crc in expected.items() if found.get(name) != crc)


def publish_store(store: Path, out: Path, run_id: str, write_netcdf) -> Path:
    """Turn a complete store into the output: rename (``.zarr``) or convert (``.nc``,
    with `write_netcdf(ds, out, run_id)`, the per-sample arrays read by `RawArray`),
    then remove the store and checkpoint."""
    store, out = Path(store), Path(out)
    if out.suffix == ".zarr":
        old = out.with_name(f".{out.name}.{run_id}.old{outputs.TEMP_TAG}")
        if out.exists():
            os.replace(out, old)
        faults.point("output-written")
        os.replace(store, out)
        faults.point("published")
        shutil.rmtree(old, ignore_errors=True)
    else:
        with xr.open_zarr(store, chunks=None, consolidated=True) as ds:
            write_netcdf(_raw_backed(ds, store), out, run_id)
        faults.point("published")
        shutil.rmtree(store)
    faults.point("store-removed")
    checkpoint_path(store).unlink(missing_ok=True)
    return out


def _raw_backed(ds: xr.Dataset, store: Path) -> xr.Dataset:
    """`ds` (opened from `store`) with its per-sample data variables read by `RawArray`
    (lazily, in whatever slabs the writer asks for) instead of through Zarr."""
    from xarray.core import indexing

    replaced = {}
    for name, variable in ds.data_vars.items():
        raw = RawArray.open(Path(store) / str(name))
        if raw is None or raw.length != variable.sizes.get(SAMPLE) or (
                raw.dtype != variable.dtype):
            continue
        data = indexing.LazilyIndexedArray(_RawBackendArray(raw))
        replaced[name] = xr.Variable(variable.dims, data, variable.attrs, variable.encoding)
    return ds.assign(replaced)


class _RawBackendArray(BackendArray):
    """A `RawArray` as an xarray backend array (basic indexing)."""

    def __init__(self, raw: RawArray):
        self.raw = raw
        shape = list(raw.chunks)
        shape[raw.axis] = raw.length
        self.shape, self.dtype = tuple(shape), raw.dtype

    def __getitem__(self, key):
        from xarray.core import indexing

        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._getitem)

    def _getitem(self, key: tuple):
        along = key[self.raw.axis]
        if isinstance(along, slice):
            lo, hi, step = along.indices(self.shape[self.raw.axis])
            rows = self.raw.read(lo, max(lo, hi)) if step == 1 else None
            if rows is not None:
                return rows[(*key[:self.raw.axis], slice(None), *key[self.raw.axis + 1:])]
        return self.raw.read(0, self.shape[self.raw.axis])[key]


def output_run_id(out: Path) -> str | None:
    """The run id of a complete output at `out`, or None."""
    out = Path(out)
    if out.suffix == ".zarr":
        marker = outputs.read_marker(out) if out.is_dir() else None
        return None if marker is None else marker.get("run_id")
    return outputs.netcdf_run_id(out) if out.is_file() else None


def clean_published(store: Path, out: Path, run_id: str) -> bool:
    """If the run `run_id` was already published at `out` (stopped while cleaning up),
    remove what remains of it and return True."""
    if output_run_id(out) != run_id:
        return False
    old = Path(out).with_name(f".{Path(out).name}.{run_id}.old{outputs.TEMP_TAG}")
    shutil.rmtree(old, ignore_errors=True)
    if Path(store).exists() and outputs.read_marker(store) is not None:
        shutil.rmtree(store)
    with contextlib.suppress(FileNotFoundError):
        checkpoint_path(store).unlink()
    return True
