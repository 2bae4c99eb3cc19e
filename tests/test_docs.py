"""The docs list every config key (with unit and default) and every output variable."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from sim.cli import build_parser
from sim.core.schema import REQUIRED, SCHEMA
from sim.core.variables import VARIABLES

from .conftest import REPO

CONFIG_DOC = (REPO / "docs" / "config.md").read_text()
OUTPUT_DOC = (REPO / "docs" / "outputs.md").read_text()
README = (REPO / "README.md").read_text()


def test_every_config_key_is_documented_with_unit_and_default():
    rows = {line.split("|")[1].strip(" `"): line for line in CONFIG_DOC.splitlines()
            if line.startswith("| `")}
    for section, keys in SCHEMA.items():
        for name, key in keys.items():
            row = rows.get(f"{section}.{name}")
            assert row, f"{section}.{name} missing from docs/config.md"
            assert f"| {key.unit} |" in row
            default = "required" if key.default is REQUIRED else repr(key.default).replace(
                "'", '"')
            assert default in row


def test_every_output_variable_is_documented_with_units():
    for name, variable in VARIABLES.items():
        row = next((line for line in OUTPUT_DOC.splitlines() if line.startswith(f"| `{name}`")),
                   None)
        assert row, f"{name} missing from docs/outputs.md"
        assert f"| {variable.units} |" in row


def test_readme_first_screen_has_the_two_commands():
    first_screen = "\n".join(README.splitlines()[:30])
    assert "make demo" in first_screen and "make test" in first_screen


def test_every_source_a_config_cites_is_in_docs_sources():
    """Configs cite figures as ``docs/sources.md A4 monthly_pay_contract``: the section
    and the row must exist there (the repository stands alone)."""
    import re

    sources = (REPO / "docs" / "sources.md").read_text()
    texts = [p.read_text() for p in (REPO / "configs").rglob("*.toml")]
    cited = {m for t in texts for m in re.findall(r"docs/sources\.md (A\d) ([a-z][a-z_0-9]+)", t)}
    assert len(cited) >= 15
    sections = set(re.findall(r"^#+ (A\d+|B)\b", sources, flags=re.M))
    for section, row in sorted(cited):
        assert section in sections, f"section {section} missing from docs/sources.md"
        assert re.search(rf"\b{row}\w*", sources), f"{section} {row} missing from docs/sources.md"
    assert "B" in sections


def _markdown_files():
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_every_image_the_docs_show_exists():
    shown = [(doc, target) for doc in _markdown_files()
             for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", doc.read_text())]
    assert any(doc.name == "tutorial.md" for doc, _ in shown)  # the tutorial has figures
    missing = [f"{doc.name}: {target}" for doc, target in shown
               if not (doc.parent / target).is_file()]
    assert not missing


def test_the_tutorial_commands_parse_and_name_real_outputs():
    """Every fiscal-sim command in the tutorial is accepted by the parser, and every
    --outcome it asks for is an output variable."""
    text = (REPO / "docs" / "tutorial.md").read_text().replace("\\\n", " ")
    commands = [shlex.split(line.split("fiscal-sim", 1)[1])
                for line in text.splitlines() if line.startswith(".venv/bin/fiscal-sim ")]
    assert len(commands) >= 4
    parser = build_parser()
    for argv in commands:
        args = parser.parse_args(argv)
        assert Path(REPO / args.config if hasattr(args, "config") else REPO).exists()
        if getattr(args, "outcome", None):
            assert args.outcome in VARIABLES, args.outcome
