"""A picture of a prototxt's layer graph (what netscope draws, CVPR 2017 Fig. 3 as Caffe sees it).

    parse_prototxt(text)      -> list[ProtoLayer]   every ``layer { ... }`` block: name, type, bottoms, tops
    collapse(layers)          -> (blocks, edges)    runs of layers joined into one block per chain
    draw_graph(blocks, edges) -> Figure             blocks placed left to right by depth, arrows between

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
    def label(self) -> str:
        """Two lines: first and last layer names, then the conv count, kernel sizes, widths."""
        first, last = self.layers[0].name, self.layers[-1].name
        convs = [layer for layer in self.layers if layer.type == "Convolution"]
        head = first if first == last else f"{first} .. {last}"
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


def draw_graph(
    blocks: list[Block], edges: list[tuple[int, int]], title: str = "", width: float = 13.0
) -> Any:
    """Blocks left to right by depth (one column per depth), rows within a column; arrows for edges.

    Colours: convolution chains blue, Concat red (where a stage reads [L, S, F]). Returns a
    matplotlib Figure.
    """
    from matplotlib.figure import Figure

    d = depths(len(blocks), edges)
    cols: dict[int, list[int]] = {}
    for i, depth in enumerate(d):
        cols.setdefault(depth, []).append(i)
    n_rows = max(len(v) for v in cols.values())
    pos = {i: (depth, (len(v) - 1) / 2 - r) for depth, v in cols.items() for r, i in enumerate(v)}
    fig = Figure(figsize=(width, 1.1 + 0.9 * n_rows))
    ax = fig.add_subplot()
    for i, j in edges:
        skip = d[j] - d[i] > 1  # F read again by a later stage: an arc above the chain
        ax.annotate(
            "",
            xy=pos[j],
            xytext=pos[i],
            arrowprops=dict(
                arrowstyle="->",
                color="tab:green" if skip else "0.45",
                lw=0.8,
                shrinkA=14,
                shrinkB=14,
                connectionstyle=f"arc3,rad={-0.5 / (d[j] - d[i]) if skip else 0}",
            ),
        )
    for i, block in enumerate(blocks):
        x, y = pos[i]
        ax.text(
            x,
            y,
            block.label,
            ha="center",
            va="center",
            fontsize=6,
            bbox=dict(boxstyle="round,pad=0.3", fc=COLORS.get(block.kind, "0.9"), ec="0.4", lw=0.6),
        )
    ax.set_xlim(-0.6, max(d) + 0.6)
    ax.set_ylim(-n_rows / 2 - 0.1, n_rows / 2 + 0.1)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
