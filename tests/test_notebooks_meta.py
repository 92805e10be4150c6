"""Checks on the committed notebooks themselves: names, stored outputs, tags, size.

nbval re-runs the notebooks and compares their text outputs; these checks catch what nbval
cannot: a notebook committed without outputs (it would pass nbval trivially), a widget cell
without the ``nbval-ignore-output`` tag, stored errors, and notebooks that grow too big.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET_CALL = re.compile(r"\.widget\(\)|widgets\.workshop\(")


def test_notebooks_are_numbered_in_order():
    names = [p.name for p in NOTEBOOKS]
    assert names, "no notebooks found"
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", n) for n in names), names
    numbers = [int(n[:2]) for n in names]
    assert numbers == list(range(1, len(numbers) + 1)), (
        f"notebooks must be numbered 01, 02, ... without gaps: {names}"
    )
    assert "01_pipeline.ipynb" in names  # README's main command opens it


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_executed_and_tagged(path: Path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and nb.cells[0].cell_type == "markdown", (
        "start with a markdown cell saying what the notebook shows"
    )
    counts = [c.execution_count for c in code]
    assert all(counts), f"{path.name}: cells without an execution count: execute it top to bottom"
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: not executed top to bottom in one kernel"
    assert sum(bool(c.outputs) for c in code) >= len(code) // 2, f"{path.name}: too few stored outputs"
    for c in code:
        for out in c.outputs:
            assert out.output_type != "error", f"{path.name}: a stored error in cell {c.source[:60]!r}"
        tags = c.metadata.get("tags", [])
        if WIDGET_CALL.search(c.source):
            assert "nbval-ignore-output" in tags, f"{path.name}: widget cell without nbval-ignore-output"
        assert "/tmp/" not in c.source, f"{path.name}: a temporary path in the source"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_small(path: Path):
    size = path.stat().st_size
    assert size < 2_000_000, f"{path.name} is {size // 1000} kB: lower the figure dpi or use JPEG figures"
    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata, (
        f"{path.name}: stored widget state (execute with store_widget_state=False)"
    )
