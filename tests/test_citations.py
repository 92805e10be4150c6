"""Citations of the CVPR 2017 paper follow its own numbering (docs/design.md, "Conventions").

Stage 1 is unnumbered (Sec. 2.1); Eq. 1-2 are stages t >= 2; 12-14 one limb type's matching,
15 the sum over limb types (there is no Eq. 16). Fig. 1 is the teaser, Fig. 2 the pipeline
(panels a-e), Fig. 3 the network, Fig. 4 the stages. The design notes live in docs/.

The TPAMI 2019 paper (arXiv 1812.08008) numbers differently (it has an Eq. 16; its matching is
Sec. 3.5), so a line that names it, or follows a line that does, is not held to CVPR's numbering.
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
# A citation of the 2019 paper: the CVPR numbering rules do not apply to it.
TPAMI = re.compile(r"TPAMI|1812\.08008|2019 paper|\(2019\)|OpenPose 2019", re.I)
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


def _hits(line: str, previous: str = "") -> list[str]:
    """The rules a line breaks; none when it (or the line before it) cites the 2019 paper."""
    if TPAMI.search(line) or TPAMI.search(previous):
        return [why for why, p, c in RULES if why.startswith("the design notes") and p.search(line)]
    return [why for why, p, c in RULES if p.search(line) and (c is None or c.search(line))]


def _violations() -> list[str]:
    found = []
    for path in _files():
        previous = ""
        for place, line in _lines(path):
            found += [f"{place}: {why}: {line.strip()[:120]}" for why in _hits(line, previous)]
            previous = line
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
        assert _hits(text), text
    for text in right:
        assert not _hits(text), (text, _hits(text))


def test_the_rules_know_which_paper_a_citation_refers_to() -> None:
    assert _hits("the loss, Eq. 16")  # CVPR has no Eq. 16
    assert not _hits("the loss, TPAMI 2019 Eq. 16")  # the 2019 paper has one
    assert not _hits("Eq. 16 of the 2019 paper")
    assert not _hits("Eq. 16 (the refined confidence maps)", previous="the 2019 paper (arXiv 1812.08008):")
    assert _hits("Eq. 16 (the refined confidence maps)", previous="the CVPR 2017 paper:")
    assert _hits("TPAMI 2019: see OPENPOSE_FACTS.md")  # a wrong file name stays wrong


def test_citations_follow_the_cvpr_2017_numbering() -> None:
    found = _violations()
    if found:
        pytest.fail("wrong citations (file and line):\n" + "\n".join(found))
