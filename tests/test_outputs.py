"""sim.io.outputs: which outputs are refused and why, atomic writes, the lock file and
stale temporary siblings, at the level of the module.

Already covered elsewhere, and not repeated here: every command's ``--out`` refusing
foreign files, ``.``, ``..``, the working and home directories and inputs with exit 2
and an unchanged tree (test_faults.test_foreign_files_survive_every_commands_out); a
name too long (test_cli_fuzz); a second `OutputLock` in one process and a dead writer's
lock taken over by the CLI (test_faults). Here: the reason each refusal gives, what
is accepted, and the helpers' own guarantees.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sim.errors import OutputError
from sim.io.outputs import (
    MARKER,
    TEMP_TAG,
    TEXT_MARK,
    OutputLock,
    atomic_directory,
    atomic_file,
    check_output,
    lock_path,
    new_run_id,
    remove_stale_temps,
    replace_directory,
    temp_sibling,
    write_marker,
)


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def place(tmp_path, monkeypatch):
    """A working directory `work` inside tmp_path with an input, foreign files and
    outputs of ours."""
    work = tmp_path / "work"
    (work / "inputs").mkdir(parents=True)
    (work / "inputs" / "scenario.toml").write_text("[run]\n")
    (work / "foreign.nc").write_text("not netCDF")
    (work / "foreign.toml").write_text("title = 'mine'\n")
    (work / "foreign_dir").mkdir()
    (work / "file.zarr").write_text("a file")
    (work / "ours.toml").write_text(f"{TEXT_MARK} observations\n[x]\n")
    (work / "ours_dir").mkdir()
    write_marker(work / "ours_dir", new_run_id(), "report")
    monkeypatch.chdir(work)
    return work


# ---------------------------------------------------------------- check_output


REFUSALS = {
    # name: (path relative to the working directory, kind, words in the message)
    "dot": (".", "directory", "expected a new name"),
    "dot-dot": ("..", "directory", "expected a new name, not .."),
    "dot as a file": (".", "results", "is a directory"),
    "working directory": ("{work}", "directory", "is the working directory"),
    "folder holding the working directory": ("{parent}", "directory",
                                             "holds the working directory"),
    "home": ("{home}", "directory", "is the home directory"),
    "root": ("/", "directory", "expected a new name"),
    "input file": ("inputs/scenario.toml", "toml", "is input"),
    "folder holding an input": ("inputs", "directory", "holds input"),
    "wrong ending": ("results.csv", "results", "expected a name ending in .nc or .zarr"),
    "no ending": ("results", "netcdf", "expected a name ending in .nc"),
    "toml for results": ("results.toml", "results", "ending in .nc or .zarr"),
    "foreign .nc file": ("foreign.nc", "results", "was not written by fiscal-sim"),
    "foreign .toml file": ("foreign.toml", "toml", "was not written by fiscal-sim"),
    "foreign folder": ("foreign_dir", "directory", "was not written by fiscal-sim"),
    "a .zarr that is a file": ("file.zarr", "results", "is a file"),
    "a file where a folder is wanted": ("ours.toml", "directory", "is an existing file"),
    "folder where a file is wanted": ("foreign_dir", "netcdf", "is a directory"),
    "missing parent": ("nowhere/r.nc", "results", "does not exist"),
    "empty": ("  ", "results", "expected a file name"),
    "control character": ("new\nline.nc", "results", "control characters"),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_check_output_refuses_with_the_reason(place, name):
    text, kind, words = REFUSALS[name]
    text = text.format(work=place, parent=place.parent, home=Path.home())
    before = _listing(place)
    with pytest.raises(OutputError) as info:
        check_output(text, kind, inputs=[place / "inputs" / "scenario.toml"], flag="--out")
    message = str(info.value)
    assert message.startswith("--out: ") and words in message, message
    assert "\n" not in message
    assert _listing(place) == before  # refused before touching anything


def test_check_output_names_the_flag(place):
    with pytest.raises(OutputError, match=r"^--report: "):
        check_output("x.csv", "netcdf", flag="--report")


def test_a_symlink_to_our_own_file_is_refused(place):
    (place / "link.toml").symlink_to(place / "ours.toml")
    with pytest.raises(OutputError, match="not written by fiscal-sim"):
        check_output("link.toml", "toml")


@pytest.mark.parametrize(("text", "kind"), [
    ("new.nc", "results"), ("new.zarr", "results"), ("new.nc", "netcdf"),
    ("new.toml", "toml"), ("report", "directory"),
    ("ours.toml", "toml"),  # a text file we wrote (TEXT_MARK)
    ("ours_dir", "directory"),  # a folder we wrote (marker file)
    ("inputs/new.toml", "toml"),  # beside an input, not over it
])
def test_check_output_accepts_new_names_and_our_own_outputs(place, text, kind):
    before = _listing(place)
    assert check_output(text, kind, inputs=[place / "inputs" / "scenario.toml"]) == Path(text)
    assert _listing(place) == before


# ---------------------------------------------------------------- atomic writes


class Boom(Exception):
    pass


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_atomic_file_leaves_nothing_on_an_exception(tmp_path, error):
    target = tmp_path / "out.toml"
    target.write_text("old")
    with pytest.raises(error), atomic_file(target) as temp:
        temp.write_text("half written")
        assert temp.parent == tmp_path and temp.name.endswith(TEMP_TAG)
        raise error
    assert _listing(tmp_path) == ["out.toml"]
    assert target.read_text() == "old"


def test_atomic_file_replaces_the_target_with_the_usual_mode(tmp_path):
    target = tmp_path / "out.toml"
    target.write_text("old")
    target.chmod(0o600)
    with atomic_file(target, "0123456789abcdef") as temp:
        assert temp == temp_sibling(target, "0123456789abcdef")
        assert target.read_text() == "old"  # untouched until the block succeeds
        temp.write_text("new")
    assert _listing(tmp_path) == ["out.toml"] and target.read_text() == "new"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_atomic_directory_leaves_nothing_and_keeps_the_old_output_on_an_exception(tmp_path):
    target = tmp_path / "report"
    target.mkdir()
    write_marker(target, "1" * 16, "report")
    (target / "index.html").write_text("old")
    before = _listing(tmp_path)
    with pytest.raises(Boom), atomic_directory(target, "report") as temp:
        (temp / "index.html").write_text("half")
        raise Boom
    assert _listing(tmp_path) == before
    assert (target / "index.html").read_text() == "old"


def test_atomic_directory_replaces_our_folder_and_marks_the_new_one(tmp_path):
    target = tmp_path / "report"
    target.mkdir()
    write_marker(target, "1" * 16, "report")
    (target / "stale.txt").write_text("old")
    with atomic_directory(target, "report", "2" * 16) as temp:
        (temp / "index.html").write_text("new")
    assert _listing(tmp_path) == ["report", f"report/{MARKER}", "report/index.html"]
    assert json.loads((target / MARKER).read_text())["run_id"] == "2" * 16


def test_replace_directory_refuses_a_foreign_folder_that_appeared_meanwhile(tmp_path):
    new, target = tmp_path / "new", tmp_path / "report"
    new.mkdir()
    (new / "index.html").write_text("ours")
    target.mkdir()
    (target / "notes.md").write_text("someone else's")
    with pytest.raises(OutputError, match="appeared during the run") as info:
        replace_directory(new, target, "3" * 16)
    assert str(new) in str(info.value)
    assert (target / "notes.md").read_text() == "someone else's"
    assert (new / "index.html").read_text() == "ours"


# ---------------------------------------------------------------- OutputLock


def test_lock_records_its_holder_and_is_removed_on_release(tmp_path):
    target = tmp_path / "r.nc"
    with OutputLock(target) as lock:
        info = json.loads(lock_path(target).read_text())
        assert info["pid"] == os.getpid() and lock.path == lock_path(target)
    assert not lock_path(target).exists()


def test_lock_is_released_when_the_body_raises(tmp_path):
    target = tmp_path / "r.nc"
    with pytest.raises(Boom), OutputLock(target):
        raise Boom
    assert not lock_path(target).exists()
    with OutputLock(target):
        pass


def test_a_stale_lock_file_nobody_holds_is_taken_over(tmp_path):
    target = tmp_path / "r.nc"
    lock_path(target).write_text(json.dumps({"tool": "fiscal-strain-sim", "pid": 1,
                                             "host": "elsewhere", "since": "then"}))
    with OutputLock(target):
        assert json.loads(lock_path(target).read_text())["pid"] == os.getpid()
    assert not lock_path(target).exists()


@pytest.mark.parametrize("kind", ["directory", "symlink"])
def test_a_lock_path_that_is_not_a_file_is_refused_and_left_alone(tmp_path, kind):
    target = tmp_path / "r.nc"
    other = tmp_path / "other"
    other.write_text("keep")
    if kind == "directory":
        lock_path(target).mkdir()
    else:
        lock_path(target).symlink_to(other)
    with pytest.raises(OutputError, match="not a lock file"), OutputLock(target):
        pass
    assert other.read_text() == "keep" and os.path.lexists(lock_path(target))


# ---------------------------------------------------------------- stale temporary siblings


def test_remove_stale_temps_removes_only_our_temp_names(tmp_path):
    target = tmp_path / "r.nc"
    run_id = new_run_id()
    ours = [temp_sibling(target, new_run_id()),  # a file
            temp_sibling(target, run_id),  # a folder
            tmp_path / f".r.nc.{run_id}.old{TEMP_TAG}"]  # a replaced folder moved aside
    ours[0].write_text("x")
    for folder in ours[1:]:
        folder.mkdir()
        (folder / "inside").write_text("x")
    foreign_dir = tmp_path / "precious"
    foreign_dir.mkdir()
    (foreign_dir / "data").write_text("keep")
    link = temp_sibling(target, "f" * 16)  # our name, but a link to a foreign folder
    link.symlink_to(foreign_dir)
    others = ["r.nc", "r.nc.lock", f"r.nc.{run_id}{TEMP_TAG}",  # no leading dot
              f".r.nc.{run_id[:15]}{TEMP_TAG}",  # run id too short
              f".r.nc.{run_id.upper().replace('0', 'A')}X{TEMP_TAG}",
              f".r.nc.{'g' * 16}{TEMP_TAG}",  # not hex
              f".r.nc.{run_id}{TEMP_TAG}.bak", f".r.nc.{run_id}.new{TEMP_TAG}",
              f".other.nc.{run_id}{TEMP_TAG}", f".r.nc2.{run_id}{TEMP_TAG}",
              f".xr.nc.{run_id}{TEMP_TAG}"]
    for name in others:
        (tmp_path / name).write_text("keep")
    remove_stale_temps(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*others, "precious"])
    assert (foreign_dir / "data").read_text() == "keep"  # the link went, not its target


NAME_CHARS = st.characters(codec="ascii", categories=["L", "N", "P", "S"],
                           exclude_characters="/\\")


@given(st.text(NAME_CHARS, min_size=1, max_size=12), st.text(NAME_CHARS, min_size=1,
                                                             max_size=12))
@example("a.nc", "aXnc")  # "." would match any character
@example("x+", "xx")
@example("[ab]", "a")
@example("r.nc", "r.nc.old")
def test_remove_stale_temps_never_touches_another_outputs_temps(tmp_path_factory, a, b):
    """Names are matched literally: a target named with regex characters (``a.nc``,
    ``x+`` ...) removes its own temps, never those of a name the pattern would match."""
    if a == b or {a, b} & {".", ".."}:
        return
    folder = tmp_path_factory.mktemp("temps")
    run_id = new_run_id()
    mine, theirs = temp_sibling(folder / a, run_id), temp_sibling(folder / b, run_id)
    mine.write_text("stale")
    theirs.write_text("live")
    remove_stale_temps(folder / a)
    assert not mine.exists()
    assert theirs.read_text() == "live"
