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

from sim.errors import UserError
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


def create_store(store: Path, data_vars: dict, coords: dict, attrs: dict, run_id: str
                 ) -> str:
    """Create the partial store from the first chunk, chunked by seed block along
    ``sample``, in a temporary folder renamed into place.

    Returns
    -------
    str
        The metadata snapshot (JSON): every file of the new store except the
        per-sample arrays' chunks, for `repair_store`.
    """
    store = Path(store)
    ds = xr.Dataset(data_vars, coords, {**attrs, "complete": 0, "run_id": run_id})
    encoding = {name: {"chunks": tuple(SEED_BLOCK_SAMPLES if d == SAMPLE else ds.sizes[d]
                                       for d in ds[name].dims),
                       "compressors": None}  # floats barely compress; speed matters more
                for name in ds.variables if SAMPLE in ds[name].dims}
    temp = outputs.temp_sibling(store, run_id)
    temp.mkdir()
    ds.to_zarr(temp, mode="w", consolidated=False, zarr_format=ZARR_FORMAT, encoding=encoding)
    sample_arrays = {name for name in ds.variables if SAMPLE in ds[name].dims}
    snapshot = {}
    for path in sorted(temp.rglob("*")):
        relative = path.relative_to(temp).as_posix()
        if path.is_file() and not _is_sample_chunk(relative, sample_arrays):
            snapshot[relative] = base64.b64encode(path.read_bytes()).decode()
    os.replace(temp, store)
    return json.dumps({"sample_arrays": sorted(sample_arrays), "files": snapshot})


class StoreAppender:
    """Appends chunks along ``sample`` to a partial store.

    The store is created by `create_store` (xarray writes the metadata that makes
    it readable as a Dataset); appends then go straight to the Zarr arrays, which
    is several times faster than xarray's append for many small variables.
    """

    def __init__(self, store: Path):
        import zarr

        self.group = zarr.open_group(str(store), mode="r+")
        self.arrays = {name: array for name, array in self.group.arrays()
                       if _sample_axis(array) is not None}

    def append(self, data: dict[str, np.ndarray], rows: tuple[int, int]) -> None:
        """Write sample rows [lo, hi) of every per-sample variable (laid out as stored);
        the arrays grow to hold them (rewriting rows inside them is a repair)."""
        lo, hi = rows
        for name, array in self.arrays.items():
            axis = _sample_axis(array)
            if array.shape[axis] < hi:
                shape = list(array.shape)
                shape[axis] = hi
                array.resize(tuple(shape))
            array[(slice(None),) * axis + (slice(lo, hi),)] = data[name]


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
        raise UserError(f"--resume: the checkpoint {path} is damaged or not one of ours "
                        f"({problem}); rerun without --resume to start again")
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
        for b in range(blocks):
            lo, hi = b * SEED_BLOCK_SAMPLES, min(rows, (b + 1) * SEED_BLOCK_SAMPLES)
            try:
                block = array[(slice(None),) * axis + (slice(lo, hi),)]
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
    with `write_netcdf(ds, out, run_id)`), then remove the store and checkpoint."""
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
            write_netcdf(ds, out, run_id)
        faults.point("published")
        shutil.rmtree(store)
    faults.point("store-removed")
    checkpoint_path(store).unlink(missing_ok=True)
    return out


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
