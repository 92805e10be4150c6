"""Citations of the CVPR 2017 paper follow its own numbering (docs/design.md, "Conventions").

Stage 1 is unnumbered (Sec. 2.1); Eq. 1-2 are stages t >= 2; 12-14 one limb type's matching,
15 the sum over limb types (there is no Eq. 16). Fig. 1 is the teaser, Fig. 2 the pipeline
(panels a-e), Fig. 3 the network, Fig. 4 the stages. The design notes live in docs/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".git", ".venv", "node_modules", ".ipynb_checkpoints", "build", "dist"}
THIS = Path(__file__).resolve()

NETWORK = re.compile(r"network|architecture|prototxt|VGG|Caffe|caffemodel|branch|layer", re.I)
STAGE_ONE = re.compile(r"stage 1\b|\^1\b|\^\{1\}|F alone", re.I)
RULES: list[tuple[str, re.Pattern[str], re.Pattern[str] | None]] = [
    ("there is no Eq. 16 (matching is Eq. 12-15)", re.compile(r"Eqs?\.\s*(\d+\s*-\s*)?16\b"), None),
    ("the pipeline panels are Fig. 2a-e, not Fig. 1", re.compile(r"Fig(ure|\.)\s*1\s*\(?[a-e]\b"), None),
    ("the panels are Fig. 2b-e, not 'left/right'", re.compile(r"Fig(ure|\.)\s*2\s+(left|right)"), None),
    ("the network is Fig. 3, not Fig. 2", re.compile(r"Fig(ure|\.)\s*2\b(?![a-e])"), NETWORK),
    ("stage 1 is unnumbered (Sec. 2.1), not Eq. 1", re.compile(r"Eqs?\.\s*1\b(?!\s*-)"), STAGE_ONE),
    ("the stage grid is Fig. 4, not 'Fig. 3 and 4'", re.compile(r"Fig(ure|s|\.)\s*3 and 4"), None),
    (
        "the design notes are docs/design.md, docs/openpose_facts.md, docs/body25_facts.md",
        re.compile(r"DESIGN\.md|OPENPOSE_FACTS|BODY25_FACTS"),
        None,
    ),
]


def _files() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*")):
        rel = path.relative_to(ROOT)
        if any(part in SKIP_DIRS for part in rel.parts) or rel.parts[0] == "docs":
            continue
        if path.suffix in (".py", ".md", ".ipynb") and path.is_file() and path.resolve() != THIS:
            yield path


def _lines(path: Path) -> Iterator[tuple[str, str]]:
    """(place, line) of a file's text; for a notebook, its cell sources only (not outputs)."""
    rel = path.relative_to(ROOT)
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for c, cell in enumerate(cells):
            source = cell["source"]
            text = "".join(source) if isinstance(source, list) else source
            for n, line in enumerate(text.splitlines(), 1):
                yield f"{rel} cell {c} line {n}", line
    else:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            yield f"{rel}:{n}", line


def _violations() -> list[str]:
    found = []
    for path in _files():
        for place, line in _lines(path):
            for why, pattern, context in RULES:
                if pattern.search(line) and (context is None or context.search(line)):
                    found.append(f"{place}: {why}: {line.strip()[:120]}")
    return found


def test_the_rules_catch_the_wrong_forms() -> None:
    wrong = [
        "the relaxation of Eq. 12-16",
        "Eq. 16",
        "the network (paper Fig. 2, Eq. 1-2)",
        "candidate parts (paper Fig. 1b)",
        "Sec. 2.2, Fig. 2 left",
        "Stage 1 branch (rho^1 or phi^1, Eq. 1)",
        "see OPENPOSE_FACTS.md",
    ]
    right = [
        "the relaxation of Eq. 12-15",
        "the network (paper Fig. 3; stages t >= 2 Eq. 1-2)",
        "candidate parts (paper Fig. 2b)",
        "the pipeline of the paper's Figure 2",
        "stage 1 (unnumbered, Sec. 2.1)",
        "see docs/openpose_facts.md",
    ]
    for text in wrong:
        hit = [why for why, p, c in RULES if p.search(text) and (c is None or c.search(text))]
        assert hit, text
    for text in right:
        hit = [why for why, p, c in RULES if p.search(text) and (c is None or c.search(text))]
        assert not hit, (text, hit)


def test_citations_follow_the_cvpr_2017_numbering() -> None:
    found = _violations()
    if found:
        pytest.fail("wrong citations (file and line):\n" + "\n".join(found))
