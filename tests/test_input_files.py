"""Input files are opened only if they are regular files, and read with a size cap."""

from __future__ import annotations

import os
import threading

import pytest

from sim.io import MAX_TEXT_BYTES

from .conftest import minimal, run_cli, to_toml


def _one_line_error(status: int, err: str) -> None:
    assert status == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_device_is_refused_without_reading_it(capsys):
    status, _, err = run_cli("validate", "/dev/zero", capsys=capsys)
    _one_line_error(status, err)
    assert "/dev/zero" in err and "regular file" in err


def test_fifo_is_refused_without_opening_it(tmp_path, capsys):
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    result = {}
    worker = threading.Thread(target=lambda: result.update(
        status=run_cli("validate", fifo, capsys=capsys)))
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock the reader so the test run can end, then fail
        with open(fifo, "w"):
            pass
        worker.join()
        pytest.fail("reading a FIFO as a config hung")
    status, _, err = result["status"]
    _one_line_error(status, err)
    assert "FIFO" in err


def test_symlink_loop_is_one_line(tmp_path, capsys):
    loop = tmp_path / "loop.toml"
    loop.symlink_to(tmp_path / "loop.toml")
    status, _, err = run_cli("validate", loop, capsys=capsys)
    _one_line_error(status, err)
    assert "loop.toml" in err


def test_oversized_config_is_refused_by_its_size(tmp_path, capsys):
    big = tmp_path / "big.toml"
    text = to_toml(minimal())
    big.write_text(text + "#" * (MAX_TEXT_BYTES + 1 - len(text)) + "\n")
    status, _, err = run_cli("validate", big, capsys=capsys)
    _one_line_error(status, err)
    assert "MiB" in err


def test_directory_and_missing_file_say_what_they_are(tmp_path, capsys):
    status, _, err = run_cli("validate", tmp_path, capsys=capsys)
    _one_line_error(status, err)
    assert "directory" in err
    status, _, err = run_cli("validate", tmp_path / "nope.toml", capsys=capsys)
    _one_line_error(status, err)
    assert "not found" in err


def test_results_file_that_is_a_device_is_refused(tmp_path, capsys):
    status, _, err = run_cli("report", "/dev/zero", "--out", tmp_path / "r", capsys=capsys)
    _one_line_error(status, err)
