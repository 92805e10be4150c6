"""A picture of a prototxt's layer graph (what netscope draws, CVPR 2017 Fig. 3 as Caffe sees it).

    parse_prototxt(text)      -> list[ProtoLayer]   every ``layer { ... }`` block: name, type, bottoms, tops
    collapse(layers)          -> (blocks, edges)    runs of layers joined into one block per chain
    draw_graph(blocks, edges) -> Figure             blocks placed top to bottom by depth, arrows between

The text may be ``formats.caffe.to_prototxt()`` (this package's COCO network, written from
the torch model), ``body25.to_prototxt()`` or CMU's own file. A chain is a run of layers where
each feeds only the next (conv, ReLU, conv, ...); a Concat always stands alone, so the
picture shows exactly where the stages read [L^{t-1}, S^{t-1}, F]. Shown in notebook 12.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProtoLayer:
    """One ``layer { ... }`` of a prototxt."""

    name: str
    type: str
    bottoms: tuple[str, ...]
    tops: tuple[str, ...]
    num_output: int = 0  # Convolution only
    kernel: int = 0  # Convolution / Pooling


@dataclass
class Block:
    """A chain of layers drawn as one box."""

    layers: list[ProtoLayer] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.layers[0].name

    @property
    def kind(self) -> str:
        types = {layer.type for layer in self.layers}
        if "Concat" in types:
            return "Concat"
        if "Convolution" in types:
            return "Convolution"
        return "Pooling" if "Pooling" in types else self.layers[0].type

    @property
    def title(self) -> str:
        """ "stage t L1" / "stage t L2" for a branch of a stage (stage 1: the ``_CPM_L`` layers), else
        the first and last layer names."""
        first, last = self.layers[0].name, self.layers[-1].name
        m = re.search(r"stage(\d+)_L(\d)", first) or re.search(r"CPM_L(\d)", first)
        if m and self.kind == "Convolution":
            stage, branch = (m.group(1), m.group(2)) if m.lastindex == 2 else ("1", m.group(1))
            return f"stage {stage} L{branch}"
        return first if first == last else f"{first} .. {last}"

    @property
    def label(self) -> str:
        """Two lines: the title, then the conv count, kernel sizes and output channels."""
        convs = [layer for layer in self.layers if layer.type == "Convolution"]
        head = self.title
        if not convs:
            return head
        kernels = "/".join(sorted({f"{c.kernel}x{c.kernel}" for c in convs}, reverse=True))
        return f"{head}\n{len(convs)} conv {kernels}, out {convs[-1].num_output}"


def _blocks_of(text: str) -> list[str]:
    """The body of every top-level ``layer { ... }`` (braces balanced)."""
    bodies, i = [], 0
    for m in re.finditer(r"\blayer\s*\{", text):
        if m.start() < i:
            continue
        depth, j = 1, m.end()
        while depth and j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        bodies.append(text[m.end() : j - 1])
        i = j
    return bodies


def parse_prototxt(text: str) -> list[ProtoLayer]:
    """Every layer of a prototxt text, in file order (comments removed)."""
    text = re.sub(r"#[^\n]*", "", text)
    layers = []
    for body in _blocks_of(text):

        def one(key: str, default: Any = "", body: str = body) -> str:
            m = re.search(rf'\b{key}\s*:\s*"?([\w./-]+)"?', body)
            return m.group(1) if m else default

        layers.append(
            ProtoLayer(
                name=one("name"),
                type=one("type"),
                bottoms=tuple(re.findall(r'\bbottom\s*:\s*"([^"]+)"', body)),
                tops=tuple(re.findall(r'\btop\s*:\s*"([^"]+)"', body)),
                num_output=int(one("num_output", 0)),
                kernel=int(one("kernel_size", 0)),
            )
        )
    return layers


def collapse(layers: list[ProtoLayer]) -> tuple[list[Block], list[tuple[int, int]]]:
    """Join chains into blocks; return the blocks and the edges (i, j): block i feeds block j.

    A layer joins the block of its single bottom's producer when that block ends with the
    producer, the producer feeds nothing else, and neither of them is a Concat. In-place
    layers (ReLU with top == bottom) always join their producer.
    """
    producer: dict[str, int] = {}  # blob -> block index that wrote it last
    consumers: dict[str, int] = {}
    for layer in layers:
        for b in layer.bottoms:
            if b not in layer.tops:
                consumers[b] = consumers.get(b, 0) + 1
    blocks: list[Block] = []
    edges: set[tuple[int, int]] = set()
    for layer in layers:
        src = [producer[b] for b in layer.bottoms if b in producer]
        inplace = bool(layer.bottoms) and layer.bottoms[0] in layer.tops
        chain = (
            len(layer.bottoms) == 1
            and len(src) == 1
            and layer.type != "Concat"
            and blocks[src[0]].kind != "Concat"
            and (inplace or consumers.get(layer.bottoms[0], 0) == 1)
        )
        if chain:
            k = src[0]
            blocks[k].layers.append(layer)
        else:
            blocks.append(Block([layer]))
            k = len(blocks) - 1
            edges.update((s, k) for s in src)
        for t in layer.tops:
            producer[t] = k
    return blocks, sorted(edges)


def depths(n: int, edges: list[tuple[int, int]]) -> list[int]:
    """Longest-path depth of each of n blocks (edges go from earlier to later blocks)."""
    d = [0] * n
    for i, j in sorted(edges, key=lambda e: e[1]):
        d[j] = max(d[j], d[i] + 1)
    return d


COLORS = {"Convolution": "#cfe2f3", "Concat": "#f4cccc", "Pooling": "#d9ead3"}


def draw_graph(blocks: list[Block], edges: list[tuple[int, int]], title: str = "", width: float = 8.0) -> Any:
    """Blocks top to bottom by depth (one row per depth), side by side within a row; arrows for edges.

    Colours: convolution chains blue, Concat red (where a stage reads its inputs); the edges that
    skip rows (F read again by a later stage) are green paths on the right. Returns a matplotlib Figure.
    """
    from matplotlib.figure import Figure

    d = depths(len(blocks), edges)
    rows: dict[int, list[int]] = {}
    for i, depth in enumerate(d):
        rows.setdefault(depth, []).append(i)
    n_cols = max(len(v) for v in rows.values())
    pos = {i: (c - (len(v) - 1) / 2, -depth) for depth, v in rows.items() for c, i in enumerate(v)}
    fig = Figure(figsize=(width, 0.55 * (max(d) + 1) + 0.6))
    ax = fig.add_subplot()
    for i, j in edges:
        arm = 190 + 5 * (d[j] - d[i])  # points: past the right-hand column
        skip = d[j] - d[i] > 1  # F read again by a later stage: a path to the right of the chain
        ax.annotate(
            "",
            xy=pos[j],
            xytext=pos[i],
            arrowprops=dict(
                arrowstyle="->",
                color="tab:green" if skip else "0.45",
                lw=0.8,
                shrinkA=9,
                shrinkB=9,
                connectionstyle=(
                    f"arc,angleA=0,angleB=0,armA={arm},armB={arm},rad=6" if skip else "arc3,rad=0"
                ),
            ),
        )
    for i, block in enumerate(blocks):
        x, y = pos[i]
        ax.text(
            x,
            y,
            block.label.replace("\n", ": "),
            ha="center",
            va="center",
            fontsize=7.5,
            bbox=dict(boxstyle="round,pad=0.25", fc=COLORS.get(block.kind, "0.9"), ec="0.4", lw=0.6),
        )
    ax.set_xlim(-n_cols / 2 - 0.4, n_cols / 2 + 0.8)
    ax.set_ylim(-max(d) - 0.5, 0.5)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
