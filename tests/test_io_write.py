"""Writing results: netCDF slabs and encodings, the partial store's direct chunk files."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import xarray as xr
import zarr

import sim
from sim.errors import UserError
from sim.io import read_results, write_netcdf, write_results
from sim.io.files import NETCDF_ENGINE
from sim.io.store import RawArray, StoreAppender, create_store
from sim.priors.sampling import SEED_BLOCK_SAMPLES
from sim.run.streamed import run_to_file

from .conftest import CONFIGS


@pytest.fixture(scope="module")
def scenario():
    return sim.load_scenario(CONFIGS / "baseline.toml").with_run(samples=9000, seed=5)


@pytest.fixture(scope="module")
def in_memory(scenario):
    return sim.simulate(scenario)


def _identical_values(a: xr.Dataset, b: xr.Dataset) -> None:
    assert set(a.variables) == set(b.variables)
    for name in a.variables:
        x, y = a[name].values, b[name].values
        assert x.dtype == y.dtype and x.shape == y.shape, name
        if x.dtype.kind in "fc":  # bit for bit, NaNs included
            assert x.tobytes() == y.tobytes(), name
        else:
            np.testing.assert_array_equal(x, y, err_msg=name)


def test_netcdf_compressed_or_not_holds_the_same_bits(in_memory, tmp_path):
    plain = write_netcdf(in_memory, tmp_path / "plain.nc")
    packed = write_netcdf(in_memory, tmp_path / "packed.nc", compress=True)
    a, b = read_results(plain), read_results(packed)
    _identical_values(a, b)
    _identical_values(a.drop_attrs(deep=False), in_memory.drop_attrs(deep=False))
    with h5py.File(plain, "r") as f, h5py.File(packed, "r") as g:
        for name in ("force_persons", "param_fx_drift", "claim_value", "sample"):
            assert f[name].fletcher32 and g[name].fletcher32, name
            assert f[name].compression is None and g[name].compression == "gzip", name
            assert g[name].shuffle
            axis = in_memory[name].dims.index("sample")
            assert f[name].chunks[axis] == SEED_BLOCK_SAMPLES == g[name].chunks[axis]
    assert packed.stat().st_size < plain.stat().st_size


def test_netcdf_slabs_are_xarrays_file(in_memory, tmp_path, monkeypatch):
    """The slab writer gives the same variables, attrs and encodings as `to_netcdf`."""
    import sim.io.files as files

    monkeypatch.setattr(files, "SLAB_BYTES", 1)  # one seed block per slab
    ours = write_netcdf(in_memory, tmp_path / "ours.nc", "run-1")
    theirs = tmp_path / "theirs.nc"
    stamped = files._stamped(in_memory, "run-1")
    stamped.to_netcdf(theirs, engine=NETCDF_ENGINE, encoding=files._storage_encoding(stamped))
    with xr.open_dataset(ours, engine=NETCDF_ENGINE) as a, \
            xr.open_dataset(theirs, engine=NETCDF_ENGINE) as b:
        xr.testing.assert_identical(a, b)
        for name in a.variables:
            keys = ("dtype", "chunksizes", "fletcher32", "zlib", "shuffle", "_FillValue")
            assert {k: repr(a[name].encoding.get(k)) for k in keys} == {
                k: repr(b[name].encoding.get(k)) for k in keys}, name  # NaN == NaN


def _flip_chunk_byte(path, name: str) -> None:
    with h5py.File(path, "r") as f:
        info = f[name].id.get_chunk_info(1)
    with open(path, "r+b") as file:
        file.seek(info.byte_offset + info.size // 2)
        byte = file.read(1)
        file.seek(-1, 1)
        file.write(bytes([byte[0] ^ 0x10]))


@pytest.mark.parametrize("compress", [False, True])
def test_flipped_byte_in_netcdf_is_detected(in_memory, tmp_path, compress):
    path = write_netcdf(in_memory, tmp_path / "r.nc", compress=compress)
    _flip_chunk_byte(path, "casualties_persons")
    with pytest.raises(UserError, match="damaged"):
        read_results(path)


def test_streamed_store_is_uncompressed_one_chunk_per_append(scenario, in_memory, tmp_path):
    out = run_to_file(scenario, tmp_path / "r.zarr", chunk_samples=2 * SEED_BLOCK_SAMPLES)
    meta = json.loads((out / "force_persons" / ".zarray").read_text())
    assert meta["compressor"] is None and meta["chunks"] == [2 * SEED_BLOCK_SAMPLES, 25]
    assert meta["shape"] == [9000, 25]
    assert sorted(p.name for p in (out / "force_persons").iterdir()
                  if not p.name.startswith(".")) == ["0.0", "1.0"]
    result = read_results(out)
    names = list(in_memory.data_vars)
    _identical_values(result[names].drop_attrs(deep=False),
                      in_memory[names].drop_attrs(deep=False))
    path = out / "claim_value" / "0.1"  # (claim, sample): sample is not the first axis
    data = bytearray(path.read_bytes())
    data[(2 * SEED_BLOCK_SAMPLES + 100) * 8 + 3] ^= 0x01  # claim 1, sample 8292
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match="damaged: claim_value"):
        read_results(out)


def _store(tmp_path, compress: bool, rows: int = 4):
    """A partial store made from a first chunk of `rows` samples: a (sample, step) float32
    array and a (claim, sample) float64 array."""
    rng = np.random.default_rng(1)
    first = {"x": (("sample", "step"), rng.standard_normal((rows, 3)).astype(np.float32)),
             "c": (("claim", "sample"), rng.standard_normal((2, rows)))}
    store = tmp_path / "s.zarr"
    create_store(store, first, {"sample": np.arange(rows)}, {"title": "t"}, "run-1",
                 compress=compress)
    return store, {k: v for k, (_, v) in first.items()} | {"sample": np.arange(rows)}


@pytest.mark.parametrize("compress", [False, True])
def test_appends_in_any_order_read_back_through_zarr(tmp_path, compress):
    store, first = _store(tmp_path, compress)
    assert (RawArray.open(store / "x") is None) == compress
    rng = np.random.default_rng(2)
    x = np.concatenate([first["x"], rng.standard_normal((7, 3)).astype(np.float32)])
    c = np.concatenate([first["c"], rng.standard_normal((2, 7))], axis=1)
    appender = StoreAppender(store)
    for lo, hi in ((4, 6), (6, 11), (5, 9)):  # across chunk edges; a rewrite inside
        appender.append({"x": x[lo:hi], "c": c[:, lo:hi], "sample": np.arange(lo, hi)},
                        (lo, hi))
    group = zarr.open_group(str(store), mode="r")
    assert group["x"].shape == (11, 3) and group["c"].shape == (2, 11)
    np.testing.assert_array_equal(group["x"][...], x)
    np.testing.assert_array_equal(group["c"][...], c)
    np.testing.assert_array_equal(group["sample"][...], np.arange(11))
    meta = json.loads((store / "x" / ".zarray").read_text())
    assert (meta["compressor"] is None) != compress and meta["chunks"] == [4, 3]


def test_raw_chunks_missing_or_truncated(tmp_path):
    store, first = _store(tmp_path, compress=False)
    StoreAppender(store).append({"x": first["x"], "c": first["c"] + 1, "sample": first["sample"]},
                                (4, 8))
    raw = RawArray.open(store / "c")
    np.testing.assert_array_equal(raw.read(2, 6), np.concatenate(
        [first["c"][:, 2:], first["c"][:, :2] + 1], axis=1))
    (store / "c" / "0.1").unlink()
    assert np.isnan(raw.read(4, 8)).all()  # Zarr's fill value, as Zarr reads it
    path = store / "x" / "0.0"
    path.write_bytes(path.read_bytes()[:10])
    with pytest.raises(ValueError, match="not one chunk"):
        RawArray.open(store / "x").read(0, 4)


@pytest.mark.parametrize("compress", [False, True])
def test_write_results_zarr_compression_is_optional(in_memory, tmp_path, compress):
    out = write_results(in_memory, tmp_path / "r.zarr", compress=compress)
    meta = json.loads((out / "force_persons" / ".zarray").read_text())
    assert (meta["compressor"] is None) != compress
    _identical_values(read_results(out).drop_attrs(deep=False),
                      in_memory.drop_attrs(deep=False))
