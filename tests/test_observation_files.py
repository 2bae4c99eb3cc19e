"""The shipped observation files (configs/observations/*.toml): each loads against the
horizon of configs/calibration_2024.toml, all load together, and every figure cites a
section of docs/sources.md (the repository stands alone)."""

from __future__ import annotations

import re
import tomllib

import pytest

import sim
from sim.config.observations import load_observation_files, load_observations

from .conftest import CONFIGS, REPO

OBSERVATIONS = CONFIGS / "observations"
FILES = sorted(OBSERVATIONS.glob("*.toml"))
SOURCES = (REPO / "docs" / "sources.md").read_text()
SECTIONS = set(re.findall(r"^#+ ([A-D]\d*)\.", SOURCES, flags=re.M))
EXPECTED = {
    "gs_monthly_2024_2025.toml", "recruits_medvedev_2024_2025.toml",
    "recruits_independent_2024_2025.toml", "force_2024_2025.toml",
    "bonus_spend_kluge_2025.toml", "spend_by_item_h1_2025.toml",
    "regional_bonus_2024_2025.toml", "casualties_western_2025.toml",
}


@pytest.fixture(scope="module")
def grid():
    return sim.load_scenario(CONFIGS / "calibration_2024.toml").grid


def test_the_files_are_shipped():
    assert {path.name for path in FILES} >= EXPECTED


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_file_loads_against_the_calibration_horizon(path, grid):
    loaded = load_observations(path, grid)
    assert loaded.observations, f"{path.name} holds no observation"
    used = {o.reporter for o in loaded.observations if o.reporter}
    assert used <= set(loaded.bias), f"{path.name}: a reporter without a [bias] prior"
    assert set(loaded.bias) <= used, f"{path.name}: a [bias] prior no observation uses"


def test_all_files_load_together(grid):
    merged = load_observation_files(FILES, grid)
    labels = [o.claim.label for o in merged.observations]
    assert len(labels) == len(set(labels))
    assert len(merged.observations) == sum(
        len(load_observations(path, grid).observations) for path in FILES)
    assert all(o.reporter in merged.bias for o in merged.observations if o.reporter)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_source_cites_a_section_of_docs_sources(path):
    raw = tomllib.loads(path.read_text())
    for i, entry in enumerate(raw["observations"]):
        source = entry.get("source", "")
        cited = re.findall(r"docs/sources\.md (?:section )?([A-D]\d*)\b", source)
        assert cited, f"{path.name} observations[{i}]: source cites no docs/sources.md section"
        tokens = set(cited) | set(re.findall(r"\b([AD]\d{1,2})\b", source))
        missing = tokens - SECTIONS
        assert not missing, f"{path.name} observations[{i}]: {missing} not in docs/sources.md"
        for row in re.findall(r"\b[AD]\d{1,2} ([a-z][a-z0-9]*_[a-z0-9_]+)", source):
            assert row in SOURCES, f"{path.name} observations[{i}]: row {row} not in sources"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_bias_prior_says_where_it_comes_from(path):
    raw = tomllib.loads(path.read_text())
    for name, prior in raw.get("bias", {}).items():
        assert isinstance(prior, dict) and prior.get("source"), (
            f"{path.name}: bias {name} has no source")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_file_points_outside_the_repository(path):
    """A user who clones the repository has only its own files: every document an
    observation file names is docs/sources.md, and no path climbs out of the tree."""
    text = path.read_text()
    assert "../" not in text
    assert set(re.findall(r"[\w./-]+\.md\b", text)) <= {"docs/sources.md"}
