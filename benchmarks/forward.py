"""Forward time of the paper network (Fig. 3): our PyTorch OpenPoseNet beside OpenCV dnn.

Both run the SAME network (our prototxt = CMU's pose_deploy_linevec.prototxt) with the SAME
weights, in the same process, interleaved round by round so that a busy machine slows both
alike. Printed per input size: median and min wall time of each variant, its ratio to
OpenCV (< 1: torch is faster), and the max abs difference of all F, S^t, L^t from the torch
fp32 result; then the time of every stage (torch and OpenCV's per-layer profile).

    python benchmarks/forward.py                      # CPU, 2 threads, 368x368 and 368x656
    python benchmarks/forward.py --repeats 5 --jit    # also torch.jit.freeze + optimize_for_inference
    python benchmarks/forward.py --device cuda        # CUDA: fp32/fp16/bf16, batch 1 and 16

Weights are He-normal random by default (speed does not depend on the values); pass
``--weights cmu-coco-pth`` to use a registered file instead.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext

import cv2
import numpy as np
import torch
from torch import nn

from openpose_edu.formats.caffe import caffemodel_bytes, model_blobs, opencv_net, output_blobs
from openpose_edu.model import NetworkOutput, OpenPoseConfig, OpenPoseNet, he_normal_


def flat(out: NetworkOutput | tuple | list) -> list[torch.Tensor]:
    if isinstance(out, NetworkOutput):
        return [out.F, *out.S, *out.L]
    return [torch.as_tensor(np.asarray(o)) if not isinstance(o, torch.Tensor) else o for o in out]


def max_diff(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max((x.float().cpu() - y.float().cpu()).abs().max().item() for x, y in zip(a, b))


class _Flat(nn.Module):
    """NetworkOutput -> tuple, so torch.jit.trace can follow the network."""

    def __init__(self, net: OpenPoseNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.net(x)
        return (out.F, *out.S, *out.L)


def bf16_supported() -> bool:
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def run_rounds(
    variants: dict[str, Callable[[], object]], repeats: int, sync: Callable[[], None]
) -> tuple[dict[str, list[float]], dict[str, object]]:
    """One warm-up call each (its output is returned), then ``repeats`` rounds of one call each.

    Round-robin order: a machine that gets busier mid-run slows every variant alike.
    """
    outputs = {}
    for k, f in variants.items():
        outputs[k] = f()
        sync()
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for k, f in variants.items():
            sync()
            t = time.perf_counter()
            f()
            sync()
            times[k].append(time.perf_counter() - t)
    return times, outputs


def torch_stage_times(
    net: OpenPoseNet, x: torch.Tensor, repeats: int, sync: Callable[[], None]
) -> list[float]:
    """Median seconds of F (VGG + CPM) and of each stage 1..T (the forward loop, timed piece by piece)."""
    rounds: list[list[float]] = []
    with torch.inference_mode():
        for _ in range(repeats):  # run after run_rounds: already warm
            sync()
            t0 = time.perf_counter()
            F = net.features(x)
            sync()
            row = [time.perf_counter() - t0]
            s, paf = net.stages[0](F)
            sync()
            row.append(time.perf_counter() - t0 - sum(row))
            for stage in net.stages[1:]:
                s, paf = stage(torch.cat([paf, s, F], dim=1))
                sync()
                row.append(time.perf_counter() - t0 - sum(row))
            rounds.append(row)
    return [statistics.median(col) for col in zip(*rounds)]


def _part_of(layer: str, n_stages: int) -> int:
    """0 for F (VGG + CPM), t for stage t; concat_stage{t} is stage t's input, the last one its output."""
    if layer.startswith("concat_stage"):
        return min(int(layer[len("concat_stage") :]), n_stages)
    if layer.startswith(("Mconv", "Mrelu")):
        return int(layer.split("_stage")[1].split("_")[0])
    return 1 if "_CPM_L" in layer else 0


def opencv_stage_times(cv_net: cv2.dnn.Net, n_stages: int) -> list[float]:
    """Seconds per part from OpenCV's per-layer profile of its last forward (fused layers count 0)."""
    _, layer_ticks = cv_net.getPerfProfile()
    parts = [0.0] * (n_stages + 1)
    for name, ticks in zip(cv_net.getLayerNames(), np.asarray(layer_ticks).ravel()):
        parts[_part_of(name, n_stages)] += float(ticks)
    return [p / cv2.getTickFrequency() for p in parts]


def opencv_call(cv_net: cv2.dnn.Net, x: np.ndarray, names: list[str]) -> Callable[[], object]:
    def f() -> object:
        cv_net.setInput(x)
        return cv_net.forward(names)

    return f


def torch_call(model: nn.Module, x: torch.Tensor, amp: torch.dtype | None = None) -> Callable[[], object]:
    """model(x) under inference_mode, optionally under autocast to ``amp`` on x's device."""

    def f() -> object:
        cast = torch.autocast(x.device.type, dtype=amp) if amp else nullcontext()
        with torch.inference_mode(), cast:
            return model(x)

    return f


def no_grad_call(model: nn.Module, x: torch.Tensor) -> Callable[[], object]:
    def f() -> object:
        with torch.no_grad():
            return model(x)

    return f


def print_rows(title: str, times: dict[str, list[float]], diffs: dict[str, float], base: str) -> None:
    ref = statistics.median(times[base])
    print(f"\n== {title} ==")
    head = f"{'variant':48s} {'median ms':>10s} {'min ms':>9s} {'ratio':>6s} {'max|diff| vs torch fp32':>24s}"
    print(head)
    for k, v in times.items():
        med = statistics.median(v)
        print(f"{k:48s} {med * 1e3:10.1f} {min(v) * 1e3:9.1f} {med / ref:6.2f} {diffs[k]:24.2e}")


def cpu_benchmark(net: OpenPoseNet, sizes: list[tuple[int, int]], repeats: int, use_jit: bool) -> None:
    cfg = net.config
    cv_net = opencv_net(cfg, caffemodel_bytes(model_blobs(net)))
    F_name, S_names, L_names = output_blobs(cfg)
    names = [F_name, *S_names, *L_names]
    net_cl = OpenPoseNet(cfg).eval()
    net_cl.load_state_dict(net.state_dict())
    net_cl = net_cl.to(memory_format=torch.channels_last)
    bf16 = bf16_supported()

    for H, W in sizes:
        x = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(0)) - 0.5
        x_cl = x.contiguous(memory_format=torch.channels_last)
        variants: dict[str, Callable[[], object]] = {
            "opencv dnn fp32 (baseline)": opencv_call(cv_net, x.numpy(), names),
            "torch fp32 no_grad": no_grad_call(net, x),
            "torch fp32 inference_mode": torch_call(net, x),
            "torch fp32 inference_mode + channels_last": torch_call(net_cl, x_cl),
        }
        if use_jit:
            t = time.perf_counter()
            with torch.inference_mode():
                traced = torch.jit.trace(_Flat(net).eval(), x)
                frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            print(f"(torch.jit.freeze + optimize_for_inference built in {time.perf_counter() - t:.1f} s)")
            variants["torch fp32 jit.freeze + optimize_for_inference"] = torch_call(frozen, x)
        if bf16:
            variants["torch bf16 autocast"] = torch_call(net, x, torch.bfloat16)
            variants["torch bf16 autocast + channels_last"] = torch_call(net_cl, x_cl, torch.bfloat16)

        times, outputs = run_rounds(variants, repeats, lambda: None)
        reference = flat(outputs["torch fp32 no_grad"])
        diffs = {k: max_diff(flat(out), reference) for k, out in outputs.items()}
        threads = torch.get_num_threads()
        title = f"paper network, input 1x3x{H}x{W}, CPU, {threads} threads, median of {repeats} rounds"
        print_rows(title, times, diffs, "opencv dnn fp32 (baseline)")

        variants["opencv dnn fp32 (baseline)"]()  # profile one more OpenCV forward
        cv_parts = opencv_stage_times(cv_net, cfg.n_stages)
        torch_parts = torch_stage_times(net, x, repeats, lambda: None)
        print(f"\n{'part':12s} {'torch fp32 ms':>14s} {'opencv ms':>10s}")
        labels = ["F (VGG+CPM)"] + [f"stage {t}" for t in range(1, cfg.n_stages + 1)]
        for label, a, b in zip(labels, torch_parts, cv_parts):
            print(f"{label:12s} {a * 1e3:14.1f} {b * 1e3:10.1f}")


def cuda_benchmark(net: OpenPoseNet, sizes: list[tuple[int, int]], repeats: int) -> None:
    """fp32 / fp16 / bf16 autocast at batch 1 and 16 on the current CUDA device (no OpenCV row)."""
    dev = torch.device("cuda")
    net = net.to(dev)
    for H, W in sizes:
        for batch in (1, 16):
            x = torch.rand(batch, 3, H, W, device=dev) - 0.5
            variants = {
                "torch fp32": torch_call(net, x),
                "torch fp16 autocast": torch_call(net, x, torch.float16),
                "torch bf16 autocast": torch_call(net, x, torch.bfloat16),
            }
            times, outputs = run_rounds(variants, repeats, torch.cuda.synchronize)
            reference = flat(outputs["torch fp32"])
            diffs = {k: max_diff(flat(out), reference) for k, out in outputs.items()}
            name = torch.cuda.get_device_name(dev)
            print_rows(f"paper network, {batch}x3x{H}x{W}, {name}", times, diffs, "torch fp32")
            best = min(statistics.median(v) for v in times.values())
            print(f"best: {batch / best:.1f} images/s")


def two_papers_benchmark(sizes: list[tuple[int, int]], repeats: int) -> None:
    """COCO network (2017) beside BODY_25 (2019): torch and OpenCV dnn, same weights, same rounds."""
    from openpose_edu.body25 import Body25Config, Body25Net
    from openpose_edu.formats.caffe import opencv_forward
    from openpose_edu.macs import conv_macs

    nets = {
        "coco-2017": (OpenPoseConfig.paper(), he_normal_(OpenPoseNet(OpenPoseConfig.paper())).eval()),
        "body25-2019": (Body25Config.paper(), he_normal_(Body25Net(Body25Config.paper())).eval()),
    }
    print(
        "network        size        GMACs   torch med (min) s   OpenCV med (min) s   torch/OpenCV   max|diff|"
    )
    for H, W in sizes:
        x = torch.randn(1, 3, H, W, generator=torch.Generator().manual_seed(0))
        variants: dict[str, Callable[[], object]] = {}
        cvs = {}
        for name, (cfg, net) in nets.items():
            cvs[name] = opencv_net(cfg, caffemodel_bytes(model_blobs(net)))

            def run_torch(net: nn.Module = net, x: torch.Tensor = x) -> object:
                with torch.inference_mode():
                    return net(x)

            def run_cv(cv: cv2.dnn.Net = cvs[name], cfg: object = cfg, x: torch.Tensor = x) -> object:
                return opencv_forward(cv, x, cfg)

            variants[f"{name}/torch"], variants[f"{name}/opencv"] = run_torch, run_cv
        times, outs = run_rounds(variants, repeats, lambda: None)
        for name, (_, net) in nets.items():
            with torch.device("meta"):
                macs = sum(conv_macs(type(net)(net.config), (H, W)).values()) / 1e9
            t, c = times[f"{name}/torch"], times[f"{name}/opencv"]
            d = max_diff(flat(outs[f"{name}/torch"]), flat(outs[f"{name}/opencv"]))
            print(
                f"{name:<14} {H}x{W:<8} {macs:6.1f}   {statistics.median(t):6.3f} ({min(t):6.3f})     "
                f"{statistics.median(c):6.3f} ({min(c):6.3f})       "
                f"{statistics.median(t) / statistics.median(c):5.2f}"
                f"        {d:.1e}"
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", nargs="+", default=["368x368", "368x656"], help="HxW input sizes")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds (median reported)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch and OpenCV")
    p.add_argument("--weights", default=None, help="registered weights name (default: random He-normal)")
    p.add_argument("--jit", action="store_true", help="add a torch.jit.freeze + optimize_for_inference row")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--two-papers", action="store_true", help="COCO (2017) beside BODY_25 (2019) rows only")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]
    if args.weights:
        from openpose_edu.weights import load_model

        net = load_model(args.weights)
        if not isinstance(net, OpenPoseNet) or net.config != OpenPoseConfig.paper():
            raise SystemExit(f"--weights {args.weights} is not the paper network")
    else:
        net = he_normal_(OpenPoseNet(OpenPoseConfig.paper())).eval()
    cap = torch.backends.cpu.get_cpu_capability()
    print(
        f"torch {torch.__version__}, OpenCV {cv2.__version__}, CPU capability {cap}, bf16 {bf16_supported()}"
    )
    if args.two_papers:
        two_papers_benchmark(sizes, args.repeats)
        return
    if args.device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device available")
        cuda_benchmark(net, sizes, args.repeats)
    else:
        cpu_benchmark(net, sizes, args.repeats, args.jit)


if __name__ == "__main__":
    main()
