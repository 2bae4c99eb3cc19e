"""Execute the notebooks in place, so the stored files show their outputs.

The notebooks in ``notebooks/`` are stored executed (text, tables and PNG figures), so
GitHub and JupyterLab show them without running anything. After a change to the model, a
text format or a figure, refresh them with::

    .venv/bin/python tests/execute_notebooks.py              # all four
    .venv/bin/python tests/execute_notebooks.py notebooks/01_quickstart.ipynb

Each notebook runs top to bottom in a fresh ``python3`` kernel (the one of the Python that
runs this script) with ``notebooks/`` as working directory. Volatile metadata (execution
timestamps, the Python version) is not stored, so running the script twice gives the same
file. ``tests/test_notebooks.py`` executes every notebook again and fails, naming this
script, when the stored text outputs differ from the fresh ones.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"
KERNEL_NAME = "python3"
TIMEOUT_SECONDS = 300
REFRESH_COMMAND = "python tests/execute_notebooks.py"

TEXT_MIME_TYPES = ("text/plain", "text/html")
"""The outputs compared with the stored ones (images are not: their bytes depend on the
font and library versions)."""

VOLATILE_TEXT = (
    # the repository's location on this machine
    (re.compile(re.escape(str(REPO))), "<repo>"),
    # wall-clock times and rates: "3.83 s", "120ms", "1.2 min", "00:03", "2.5 it/s"
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:s|ms|µs|us|ns|min|sec|seconds?)\b"), "<time>"),
    (re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b"), "<time>"),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:it|samples?)/s\b"), "<rate>"),
    # memory addresses in reprs: "<object at 0x7f3a...>"
    (re.compile(r"\b0x[0-9a-fA-F]+"), "0x<address>"),
    # element ids of HTML reprs: xarray's UUIDs, pandas Styler's "T_1a2b3"
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\bT_[0-9a-f]{5}(?=[_\W])"), "T_<uuid>"),
)
"""Text that differs between two runs of the same notebook: replaced before comparing."""


def normalise(text: str) -> str:
    """``text`` with the volatile parts (`VOLATILE_TEXT`) replaced by placeholders.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
    """
    for pattern, placeholder in VOLATILE_TEXT:
        text = pattern.sub(placeholder, text)
    return text


def _joined(value) -> str:
    """Notebook text fields are a string or a list of lines."""
    return "".join(value) if isinstance(value, list) else str(value)


def text_outputs(book: nbformat.NotebookNode) -> list[list[str]]:
    """The normalised text outputs of each code cell: streams (``"stdout: ..."``), the
    ``text/plain`` and ``text/html`` of results and displays, and errors.

    Parameters
    ----------
    book : nbformat.NotebookNode

    Returns
    -------
    list of list of str
        One list per code cell, in order.
    """
    cells = []
    for cell in book.cells:
        if cell.cell_type != "code":
            continue
        texts = []
        for output in cell.get("outputs", []):
            kind = output.output_type
            if kind == "stream":
                texts.append(f"{output.name}: {normalise(_joined(output.text))}")
            elif kind in ("execute_result", "display_data"):
                data = output.get("data", {})
                texts.extend(f"{mime}: {normalise(_joined(data[mime]))}"
                             for mime in TEXT_MIME_TYPES if mime in data)
            elif kind == "error":
                texts.append(f"error: {output.ename}: {normalise(output.evalue)}")
        cells.append(texts)
    return cells


STYLER_ID = re.compile(r"\bT_([0-9a-f]{5})(?=[_\"'\s])")
"""The random id pandas gives each styled table (``<table id="T_1a2b3">``)."""


def _stable_table_ids(book: nbformat.NotebookNode) -> None:
    """Replace the random ids of styled tables by their position in the notebook, so the
    stored HTML is the same on every run."""
    count = 0
    for cell in book.cells:
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html")
            if html is None:
                continue
            text = _joined(html)
            for uuid in dict.fromkeys(STYLER_ID.findall(text)):
                count += 1
                text = re.sub(rf"\bT_{uuid}(?![0-9a-zA-Z])", f"T_table{count}", text)
            output.data["text/html"] = text


DEFAULT_REPR = re.compile(r"<[\w.]+ (?:object )?at 0x[0-9a-fA-F]+>")
"""Python's default repr, ``<pandas.io.formats.style.Styler at 0x7f5f3d32c4d0>``: it says
nothing and its address changes on every run."""


def _drop_default_reprs(book: nbformat.NotebookNode) -> None:
    """Drop a ``text/plain`` that is only a default repr when the output has another form
    (a styled table's HTML)."""
    for cell in book.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if (len(data) > 1 and "text/plain" in data
                    and DEFAULT_REPR.fullmatch(_joined(data["text/plain"]).strip())):
                del data["text/plain"]


def strip_volatile_metadata(book: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove what changes from run to run without the outputs changing: execution
    timestamps, the Python version, the random ids of styled tables and default reprs
    with memory addresses.

    Parameters
    ----------
    book : nbformat.NotebookNode
        Changed in place.

    Returns
    -------
    nbformat.NotebookNode
        ``book``.
    """
    book.metadata.get("language_info", {}).pop("version", None)
    book.metadata.pop("widgets", None)
    for cell in book.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop("scrolled", None)
    _stable_table_ids(book)
    _drop_default_reprs(book)
    return book


def execute(path: Path) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in a fresh kernel, with its directory as working
    directory; the file is not changed.

    Parameters
    ----------
    path : pathlib.Path

    Returns
    -------
    nbformat.NotebookNode
        The executed notebook, volatile metadata removed. A cell that raises stops the run
        with ``nbclient.exceptions.CellExecutionError``.
    """
    book = nbformat.read(path, as_version=4)
    client = NotebookClient(book, timeout=TIMEOUT_SECONDS, kernel_name=KERNEL_NAME,
                            record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return strip_volatile_metadata(book)


def main(argv: list[str] | None = None) -> int:
    """Execute the given notebooks (all of ``notebooks/`` by default) and store them with
    their outputs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path,
                        help="notebooks to execute (default: notebooks/*.ipynb)")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    for path in paths:
        if not path.is_file():
            print(f"{path}: no such notebook", file=sys.stderr)
            return 2
    for path in paths:
        start = time.perf_counter()
        book = execute(path)
        nbformat.write(book, path)
        print(f"{path.name}: executed in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
