"""The notebooks: stored executed and current, public API only, numbers as people read them.

The notebooks are stored with their outputs (docs/notebooks.md); ``tests/execute_notebooks.py``
refreshes them. Here each one is executed again and its text outputs compared with the
stored ones, so a change to the model or a text format that is not reflected in the
notebooks fails with the command that fixes it.
"""

from __future__ import annotations

import ast
import difflib
import re

import nbformat
import pytest

import sim

from .conftest import REPO
from .execute_notebooks import (
    REFRESH_COMMAND,
    execute,
    normalise,
    strip_volatile_metadata,
    text_outputs,
)

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))

PUBLIC_MODULES = {"plots": "sim.plots", "numbers": "sim.numbers"}
"""The submodules a notebook may use after ``import sim`` (their public names only)."""

PRIVATE_PATTERNS = (
    (re.compile(r"^\s*from\s+sim\.", re.MULTILINE), "import from a sim subpackage"),
    (re.compile(r"^\s*import\s+sim\.", re.MULTILINE), "import of a sim subpackage"),
    (re.compile(r"^\s*from\s+sim\s+import\b", re.MULTILINE), "`from sim import` (use sim.X)"),
    (re.compile(r"\.\s*_\w*"), "attribute starting with _"),
    (re.compile(r"__class__"), "__class__"),
)
"""What a notebook must not contain: it shows the public API, which is ``import sim`` and
``sim.X`` (``sim.__all__``), ``sim.plots.X`` and ``sim.numbers.X``."""

SCIENTIFIC = re.compile(r"\b\d(?:\.\d+)?e[+-]\d+\b", re.IGNORECASE)
"""Scientific notation (``2.370065e+05``, ``1e+06``): no output shows numbers this way."""


def code_cells(book: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in book.cells if cell.cell_type == "code"]


def read(path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _python(source: str) -> str:
    """A cell's source without IPython magics and shell lines, which are not Python."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _public_names(module_name: str) -> set[str]:
    module = getattr(sim, module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return set(names)


def private_uses(source: str) -> list[str]:
    """What in a code cell's ``source`` is not the public API: private imports and
    attributes, and ``sim.X`` / ``sim.plots.X`` / ``sim.numbers.X`` names that are not
    exported.

    Returns
    -------
    list of str
        One ``"what: the text"`` line per problem; empty when the cell is clean.
    """
    problems = [f"{what}: {match.group(0).strip()!r}" for pattern, what in PRIVATE_PATTERNS
                for match in pattern.finditer(source)]
    tree = ast.parse(_python(source))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "sim"):
            continue
        if node.attr in PUBLIC_MODULES:
            continue
        if node.attr not in sim.__all__:
            problems.append(f"not in sim.__all__: sim.{node.attr}")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                and isinstance(node.value.value, ast.Name) and node.value.value.id == "sim"
                and node.value.attr in PUBLIC_MODULES
                and node.attr not in _public_names(node.value.attr)):
            problems.append(f"not public in sim.{node.value.attr}: "
                            f"sim.{node.value.attr}.{node.attr}")
    return problems


def scientific_notation(book: nbformat.NotebookNode) -> list[str]:
    """The numbers in scientific notation in a notebook's text outputs."""
    return [match.group(0) for cell in text_outputs(book) for text in cell
            for match in SCIENTIFIC.finditer(text)]


def test_there_are_four_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["01_quickstart.ipynb", "02_sensitivity.ipynb",
                                           "03_scenarios.ipynb", "04_questions.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_notebook_is_executed_without_errors(path):
    book = read(path)
    cells = code_cells(book)
    unexecuted = [i for i, cell in enumerate(cells) if cell.execution_count is None]
    assert not unexecuted, (f"{path.name}: code cells {unexecuted} were not executed; "
                            f"run {REFRESH_COMMAND}")
    assert [cell.execution_count for cell in cells] == list(range(1, len(cells) + 1)), (
        f"{path.name}: cells were run out of order; run {REFRESH_COMMAND}")
    errors = [o.get("ename") for cell in cells for o in cell.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: stored error outputs {errors}"
    figures = [o for cell in cells for o in cell.outputs if "image/png" in o.get("data", {})]
    assert figures, f"{path.name}: each notebook shows at least one figure (stored as PNG)"
    for cell in book.cells:
        assert "execution" not in cell.metadata, f"{path.name}: execution timestamps stored"
    assert "version" not in book.metadata.get("language_info", {}), (
        f"{path.name}: the Python version is stored (volatile)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_uses_the_public_api_only(path):
    problems = [f"cell {i}: {problem}" for i, cell in enumerate(code_cells(read(path)))
                for problem in private_uses(cell.source)]
    assert not problems, f"{path.name} uses private names:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_outputs_have_no_scientific_notation(path):
    found = scientific_notation(read(path))
    assert not found, f"{path.name} shows numbers in scientific notation: {found[:5]}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_are_current(path):
    stored = text_outputs(read(path))
    fresh = text_outputs(execute(path))  # raises CellExecutionError if a cell fails
    assert len(fresh) == len(stored)
    for i, (old, new) in enumerate(zip(stored, fresh, strict=True)):
        if old != new:
            diff = "\n".join(difflib.unified_diff(
                "\n".join(old).splitlines(), "\n".join(new).splitlines(),
                "stored", "fresh", lineterm="", n=1))
            pytest.fail(f"{path.name}: the stored outputs of code cell {i} are out of date; "
                        f"run {REFRESH_COMMAND}\n{diff[:3000]}")


# The checks themselves must be able to fail.

@pytest.mark.parametrize("source", [
    "from sim.report import plots",
    "from sim.analysis.experiments import load_sweep",
    "import sim.analysis.summary",
    "from sim import summarize",
    "e.__class__(e.label, e.factors, e.scenario)",
    "x = ds._private",
    "sim.not_a_public_name(1)",
    "sim.plots.not_a_figure(ds)",
    "sim.numbers._significant(1.0, 3)",
])
def test_private_uses_are_found(source):
    assert private_uses(source)


def test_public_api_is_accepted():
    source = ("%matplotlib inline\nimport sim\nimport dataclasses\n"
              "s = sim.load_scenario('x.toml')\nax = sim.plots.fan_chart(ds)\n"
              "t = sim.numbers.human(2.0)\n_ = ds.sizes\n")
    assert private_uses(source) == []


def test_scientific_notation_is_found_and_readable_numbers_are_not():
    def book(text):
        out = nbformat.v4.new_output("stream", name="stdout", text=text)
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[out])])
    assert scientific_notation(book("claim 2.370065e+05 and 1e+06")) == ["2.370065e+05",
                                                                          "1e+06"]
    assert scientific_notation(book("611k, 1.03trn, 8.1%, 2025-06-19, sample_3e4")) == []


def test_volatile_text_is_normalised():
    one = normalise(f"took 3.83 s in {REPO}/notebooks, <Figure at 0x7f3a2b>, id T_1a2b3_row0")
    two = normalise(f"took 12 s in {REPO}/notebooks, <Figure at 0x55aa01>, id T_ffe01_row0")
    assert one == two
    assert normalise("611k persons, 20.8M, 3.0 months") == "611k persons, 20.8M, 3.0 months"


def test_stored_notebooks_do_not_change_from_run_to_run():
    html = ('<style>#T_1a2b3_row0_col0 {color: red}</style><table id="T_1a2b3">'
            '<td id="T_1a2b3_row0_col0">611k</td></table>')
    result = nbformat.v4.new_output(
        "execute_result", execution_count=1,
        data={"text/html": html, "text/plain": "<pandas.io.formats.style.Styler at 0x7f5f3d>"})
    figure = nbformat.v4.new_output("display_data", data={"text/plain": "<Figure size 800x450>",
                                                          "image/png": "iVBORw0KGgo="})
    cell = nbformat.v4.new_code_cell(outputs=[result, figure], execution_count=1)
    cell.metadata["execution"] = {"iopub.execute_input": "2025-06-19T10:00:00.000Z"}
    book = nbformat.v4.new_notebook(cells=[cell], metadata={
        "language_info": {"name": "python", "version": "3.11.7"}})
    strip_volatile_metadata(book)
    assert "execution" not in cell.metadata
    assert book.metadata.language_info == {"name": "python"}
    assert cell.outputs[0].data == {"text/html": html.replace("T_1a2b3", "T_table1")}
    assert cell.outputs[1].data["text/plain"] == "<Figure size 800x450>"
