"""What a network's outputs mean: its skeleton, its stride, and what "stage t" is.

Every model of the package carries one frozen ``OutputSpec`` (``model.output_spec``), the way
it carries an ``InputSpec`` for its input. Everything downstream of the network (inference,
the loss, evaluation, drawing, the widgets, video, camera, the command line, the JSON writer)
reads the skeleton and the stage layout from here instead of assuming COCO-18 and six aligned
stages.

Two stage layouts exist:

* **aligned** (CVPR 2017, Fig. 3, Eq. 1-2): stage t computes S^t and L^t together from
  [L^{t-1}, S^{t-1}, F]; stage t is (S^t, L^t), t = 1..T.
* **PAF-first** (TPAMI 2019, Fig. 3 there, Eq. 1-3 there): P PAF stages run first
  (L^1..L^P, each from [F, L^{p-1}]), then H confidence-map stages (S^1..S^H, from
  [F, S^{h-1}, L^P]). Stage t is numbered in running order, t = 1..P+H:

  - t <= P: the PAF stage t, L^t, with the confidence maps the H map stages give when they
    read L^t: what the network would output if its PAF refinement stopped after t stages.
    Stage P is the network's output.
  - t = P + h: the map stage h, S^h, with L^P (the PAFs it read). Stage P + H is the
    network's output again (the same maps as stage P).

``StageSource`` says, for one stage t, which entry of ``NetworkOutput.S`` and ``.L`` make it and
what the S was computed from; ``OutputSpec.describe(t)`` prints it. docs/design.md explains
the choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from .skeleton import SKELETONS, Skeleton


@dataclass(frozen=True)
class StageSource:
    """Where the maps of one stage t come from.

    L: which PAF stage's output is L (1-based index into ``NetworkOutput.L``).
    S: which confidence-map stage's output is S (1-based index into ``NetworkOutput.S``).
    S_reads: for a PAF-first network, the PAF stage whose L the map stages read to make this S
    (P for the trained path; t < P re-runs the map stages on an earlier L); None for an aligned
    network (S^t and L^t come from the same input).
    """

    t: int
    L: int
    S: int
    S_reads: int | None = None


@dataclass(frozen=True)
class OutputSpec:
    """A network's outputs, described: skeleton, stride and stage layout (frozen, hashable).

    skeleton: what the channels of S (n_parts + 1, the background last) and L (2 per limb) mean.
    stride: map cells per input pixel. n_paf, n_heat: lengths of ``NetworkOutput.L`` and ``.S``
    when every stage runs. paf_first: the TPAMI 2019 layout (module docstring), else aligned.
    """

    skeleton: Skeleton
    stride: int
    n_paf: int
    n_heat: int
    paf_first: bool = False

    def __post_init__(self) -> None:
        if self.n_paf < 1 or self.n_heat < 1:
            raise ValueError(f"a network needs >= 1 PAF and >= 1 map stage, got {self.n_paf}, {self.n_heat}")
        if not self.paf_first and self.n_paf != self.n_heat:
            raise ValueError(f"an aligned network has as many S as L stages, got {self.n_heat}, {self.n_paf}")

    @classmethod
    def aligned(cls, skeleton: Skeleton, stride: int, n_stages: int) -> OutputSpec:
        """The CVPR 2017 layout: T stages, each (S^t, L^t)."""
        return cls(skeleton, stride, n_stages, n_stages, paf_first=False)

    @classmethod
    def paf_first_layout(cls, skeleton: Skeleton, stride: int, n_paf: int, n_heat: int) -> OutputSpec:
        """The TPAMI 2019 layout: P PAF stages, then H confidence-map stages."""
        return cls(skeleton, stride, n_paf, n_heat, paf_first=True)

    @property
    def n_stages(self) -> int:
        """T: stages numbered 1..T in running order (P + H for a PAF-first network)."""
        return self.n_paf + self.n_heat if self.paf_first else self.n_paf

    @property
    def n_heatmaps(self) -> int:
        return self.skeleton.n_heatmaps

    @property
    def n_pafs(self) -> int:
        return self.skeleton.n_pafs

    def check_stage(self, t: int) -> int:
        """t itself if it is a stage of this network (1..T), else a ValueError naming the range."""
        if isinstance(t, bool) or not 1 <= int(t) <= self.n_stages:
            raise ValueError(f"stage must be in 1..{self.n_stages}, got {t}")
        return int(t)

    def source(self, t: int) -> StageSource:
        """Which S and which L make up stage t, and what that S was computed from."""
        t = self.check_stage(t)
        if not self.paf_first:
            return StageSource(t=t, L=t, S=t)
        P, H = self.n_paf, self.n_heat
        if t <= P:
            return StageSource(t=t, L=t, S=H, S_reads=t)
        return StageSource(t=t, L=P, S=t - P, S_reads=P)

    @property
    def stages(self) -> tuple[StageSource, ...]:
        """``source(t)`` for t = 1..T."""
        return tuple(self.source(t) for t in range(1, self.n_stages + 1))

    def describe(self, t: int) -> str:
        """One line saying what stage t is, e.g. 'stage 2: S^2 and L^2 from [L^1, S^1, F]'."""
        src = self.source(t)
        if not self.paf_first:
            came = "F" if t == 1 else f"[L^{t - 1}, S^{t - 1}, F]"
            return f"stage {t}: S^{t} and L^{t} from {came}"
        P, H = self.n_paf, self.n_heat
        paf_in = "F" if src.L == 1 else f"[F, L^{src.L - 1}]"
        if t <= P:
            extra = " (the network's output)" if t == P else f" (map stages re-run on L^{t})"
            return f"stage {t}: PAF stage {t}, L^{t} from {paf_in}; S^{H} of the map stages on L^{t}{extra}"
        h = src.S
        s_in = f"[F, L^{P}]" if h == 1 else f"[F, S^{h - 1}, L^{P}]"
        extra = " (the network's output)" if t == self.n_stages else ""
        return f"stage {t}: map stage {h}, S^{h} from {s_in}; with L^{P}{extra}"


def skeleton_of(n_heatmaps: int, n_pafs: int) -> Skeleton:
    """The skeleton (skeleton.SKELETONS) whose channel counts are (n_heatmaps, n_pafs)."""
    for s in SKELETONS.values():
        if (s.n_heatmaps, s.n_pafs) == (n_heatmaps, n_pafs):
            return s
    known = {name: (s.n_heatmaps, s.n_pafs) for name, s in SKELETONS.items()}
    raise ValueError(f"no skeleton has {n_heatmaps} heatmaps and {n_pafs} PAF channels; known: {known}")
