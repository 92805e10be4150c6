"""TPAMI 2019 Table 5 on synthetic scenes, small: six stage orders, two seeds each, same budget.

    python experiments/refinement_2017_vs_2019/run.py data       # scenes + S*, L*, W, cached once
    python experiments/refinement_2017_vs_2019/run.py train-all  # every arm x seed, 2 at a time, resumable
    python experiments/refinement_2017_vs_2019/run.py evaluate   # AP with bootstrap CIs -> results.json

(from the repository root, ``PYTHONPATH=.``; ``OMP_NUM_THREADS=1``; ``--device cuda`` trains on a
GPU). Checkpoints go to ``runs/`` and the cache to ``cache/`` beside this script (both ignored by
git). A finished run (``runs/ARM/seedS/final.pt``) is skipped; an interrupted one resumes from its
last checkpoint. The networks are ``openpose_edu.refinement``'s; the intervals ``openpose_edu.intervals``'.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from openpose_edu import intervals
from openpose_edu.assembly import ParsingParams, parse
from openpose_edu.coco import _coco_eval, detections_coco, scenes_ground_truth
from openpose_edu.datasets import SyntheticPoseDataset
from openpose_edu.evaluate import predict
from openpose_edu.inference import Padding, resize_maps
from openpose_edu.loss import openpose_loss
from openpose_edu.macs import conv_macs
from openpose_edu.model import count_parameters
from openpose_edu.refinement import ARMS, FinalMaps, RefinementConfig, RefinementNet
from openpose_edu.synthetic import VALIDATION_SEED, SceneConfig
from openpose_edu.train import TrainConfig, init_weights, lr_at

HERE = Path(__file__).resolve().parent
CACHE, RUNS, RESULTS = HERE / "cache", HERE / "runs", HERE / "results.json"


@dataclass(frozen=True)
class Settings:
    """Every setting of the experiment, written into results.json."""

    size: int = 160  # scenes are size x size pixels; the network input is the same (stride 8: 20 x 20 maps)
    height_range: tuple[float, float] = (0.5, 1.0)  # person height / image height (stride 8 needs big people)
    max_people: int = 4
    n_train: int = 8000  # cached training scenes (data seed 0)
    n_val: int = 300  # held-out scenes (synthetic.VALIDATION_SEED, never trained on)
    crowded_iou: float = 0.2  # a held-out scene is "crowded" when two people's boxes overlap this much
    steps: int = 5000
    batch_size: int = 4
    lr: float = 1e-3
    warmup: int = 200
    seeds: tuple[int, ...] = (0, 1)
    checkpoint_every: int = 250
    n_boot: int = 2000  # bootstrap resamples of the held-out scenes
    boot_seed: int = 0
    latency_size: int = 368
    latency_repeats: int = 7

    def scene_config(self) -> SceneConfig:
        return SceneConfig(height_range=self.height_range)

    def train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(
            steps=self.steps, batch_size=self.batch_size, lr=self.lr, warmup=self.warmup, seed=seed
        )


SETTINGS = Settings()


def max_box_iou(keypoints: np.ndarray) -> float:
    """The largest IoU between two people's keypoint boxes (P, 18, 3) in a scene (0 for P < 2)."""
    boxes = []
    for kp in keypoints:
        seen = kp[:, 2] > 0
        if seen.sum() >= 2:
            boxes.append(np.concatenate([kp[seen, :2].min(0), kp[seen, :2].max(0)]))
    best = 0.0
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i], boxes[j]
            w, h = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
            inter = max(w, 0.0) * max(h, 0.0)
            union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter
            best = max(best, float(inter / union) if union > 0 else 0.0)
    return best


def slug(arm: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in arm).strip("_").replace("__", "_")


# ------------------------------------------------------------------------------------ data


def build_data(s: Settings = SETTINGS) -> None:
    """Render the training and held-out scenes once; their S*, L*, W (float16) beside them (.npy)."""
    CACHE.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    for name, seed, n in [("train", 0, s.n_train), ("val", VALIDATION_SEED, s.n_val)]:
        ds = SyntheticPoseDataset(
            n, seed=seed, size=(s.size, s.size), max_people=s.max_people, config=s.scene_config()
        )
        items = [ds[i] for i in range(n)]
        np.save(CACHE / f"{name}_image.npy", np.stack([it["image"].numpy() for it in items]))
        for key in ("S", "L", "W"):
            np.save(
                CACHE / f"{name}_{key}.npy", np.stack([it[key].numpy() for it in items]).astype(np.float16)
            )
        print(f"{name}: {n} scenes in {time.perf_counter() - t0:.0f} s", flush=True)
    val = ds  # the held-out scenes: keypoints for COCO ground truth, and the crowded subset
    scenes = [val.scene(i) for i in range(s.n_val)]
    gt = scenes_ground_truth(scenes)
    crowded = [i for i, sc in enumerate(scenes) if max_box_iou(sc.keypoints) >= s.crowded_iou]
    (CACHE / "val_gt.json").write_text(json.dumps({"gt": gt, "crowded": crowded, "settings": asdict(s)}))
    print(f"held-out: {s.n_val} scenes, {len(crowded)} crowded", flush=True)


def load(name: str, key: str) -> np.ndarray:
    return np.load(CACHE / f"{name}_{key}.npy", mmap_mode="r")


# ----------------------------------------------------------------------------------- training


def make_net(arm: str) -> RefinementNet:
    return RefinementNet(
        RefinementConfig(**ARMS[arm], input=replace(RefinementConfig().input, box_size=SETTINGS.size))
    )


def train_one(arm: str, seed: int, device: str = "cpu", s: Settings = SETTINGS) -> None:
    """Train one arm with one seed for ``s.steps`` steps; resumes from runs/ARM/seedS/last.pt."""
    out = RUNS / slug(arm) / f"seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    if (out / "final.pt").is_file():
        print(f"{arm} seed {seed}: done already", flush=True)
        return
    cfg = s.train_config(seed)
    net = init_weights(make_net(arm), seed).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    order = np.random.default_rng([seed, 7]).permutation(  # the data order: fixed per seed
        np.resize(np.arange(s.n_train), s.steps * s.batch_size + s.n_train)
    )
    start, seconds = 0, 0.0
    if (out / "last.pt").is_file():
        ck = torch.load(out / "last.pt", map_location=device, weights_only=False)
        net.load_state_dict(ck["net"])
        opt.load_state_dict(ck["opt"])
        start, seconds = ck["step"], ck["seconds"]
        print(f"{arm} seed {seed}: resuming at step {start}", flush=True)
    images, S_all, L_all, W_all = (load("train", k) for k in ("image", "S", "L", "W"))
    log = (out / "log.jsonl").open("a")
    t0 = time.perf_counter() - seconds
    for step in range(start, s.steps):
        idx = np.sort(order[step * s.batch_size : (step + 1) * s.batch_size])
        x = net.input_spec.normalize(torch.from_numpy(images[idx]).to(device), color="RGB")
        S, L, W = (torch.from_numpy(a[idx].astype(np.float32)).to(device) for a in (S_all, L_all, W_all))
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        terms = openpose_loss(net(x), S, L, W)
        opt.zero_grad(set_to_none=True)
        terms.total.backward()
        opt.step()
        done = step + 1
        if done % 20 == 0:
            rec = {
                "step": done,
                "loss": round(float(terms.total.detach()), 3),
                "seconds": round(time.perf_counter() - t0, 1),
            }
            log.write(json.dumps(rec) + "\n")
            log.flush()
        if done % s.checkpoint_every == 0 or done == s.steps:
            ck = {
                "net": net.state_dict(),
                "opt": opt.state_dict(),
                "step": done,
                "seconds": time.perf_counter() - t0,
            }
            torch.save(ck, out / "last.tmp")
            os.replace(out / "last.tmp", out / "last.pt")
    elapsed = time.perf_counter() - t0
    meta = {"arm": arm, "seed": seed, "steps": s.steps, "seconds": round(elapsed, 1), "device": device}
    torch.save({"net": net.state_dict(), "meta": meta}, out / "final.pt")
    print(f"{arm} seed {seed}: {s.steps} steps in {elapsed:.0f} s", flush=True)


def train_all(parallel: int, device: str, s: Settings = SETTINGS) -> None:
    """Every arm x seed, ``parallel`` processes at a time (one thread each); finished runs skipped."""
    todo = [
        (arm, seed)
        for seed in s.seeds
        for arm in ARMS
        if not (RUNS / slug(arm) / f"seed{seed}" / "final.pt").is_file()
    ]
    running: list[subprocess.Popen] = []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    while todo or running:
        while todo and len(running) < parallel:
            arm, seed = todo.pop(0)
            cmd = [sys.executable, __file__, "train", arm, str(seed), "--device", device]
            running.append(subprocess.Popen(cmd, env=env))
        time.sleep(5)
        for p in [p for p in running if p.poll() is not None]:
            running.remove(p)
            if p.returncode:
                print(f"failed ({p.returncode}): {p.args}", flush=True)
    print(f"all runs finished in {time.perf_counter() - t0:.0f} s", flush=True)


# --------------------------------------------------------------------------------- evaluation


def detections(arm: str, seed: int, s: Settings = SETTINGS) -> tuple[list, list, float]:
    """Final-stage people in every held-out image (same parser, its default thresholds).

    Cached in runs/ARM/seedS/detections.json (keypoints, scores, seconds) once computed.
    """
    run = RUNS / slug(arm) / f"seed{seed}"
    cache = run / "detections.json"
    if cache.is_file() and cache.stat().st_mtime > (run / "final.pt").stat().st_mtime:
        d = json.loads(cache.read_text())
        return (
            [np.asarray(k, np.float32).reshape(-1, 18, 3) for k in d["keypoints"]],
            d["scores"],
            d["seconds"],
        )
    net = make_net(arm)
    net.load_state_dict(torch.load(run / "final.pt", map_location="cpu", weights_only=False)["net"])
    images = load("val", "image").transpose(0, 2, 3, 1)
    t = time.perf_counter()
    kps, scores = predict(FinalMaps(net).eval(), list(images), [1], color="RGB", params=ParsingParams())[1]
    seconds = round(time.perf_counter() - t, 1)
    d = {"keypoints": [k.tolist() for k in kps], "scores": [np.asarray(x).tolist() for x in scores]}
    cache.write_text(json.dumps({**d, "seconds": seconds}))
    return kps, d["scores"], seconds


def detect_all(s: Settings = SETTINGS) -> None:
    """Detections of every finished run not yet detected (``evaluate`` then only scores them)."""
    torch.set_num_threads(1)
    for seed in s.seeds:
        for arm in ARMS:
            if (RUNS / slug(arm) / f"seed{seed}" / "final.pt").is_file():
                print(arm, seed, f"{detections(arm, seed)[2]} s", flush=True)


def perfect_detections(s: Settings = SETTINGS) -> tuple[list, list]:
    """People parsed from the ground-truth maps S*, L* themselves: the ceiling of this set-up."""
    S, L = load("val", "S"), load("val", "L")
    pad = Padding((s.size, s.size), (s.size, s.size), (s.size, s.size), 1.0)
    kps, scores = [], []
    for i in range(s.n_val):
        maps = torch.from_numpy(np.concatenate([S[i], L[i]]).astype(np.float32))[None]
        m = resize_maps(maps, pad, 8)[0].numpy()
        people = parse(m[:19], m[19:], ParsingParams())
        kps.append(np.asarray(people.keypoints))
        scores.append(np.asarray(people.scores))
    return kps, scores


def latency_ms(s: Settings = SETTINGS) -> dict[str, float]:
    """Median CPU time of one forward pass at latency_size^2, one thread, per arm (ms).

    The arms take turns in every repeat, so that a busier moment of a shared machine does not
    fall on one arm only.
    """
    nets = {arm: make_net(arm).eval() for arm in ARMS}
    x = torch.randn(1, 3, s.latency_size, s.latency_size)
    times: dict[str, list[float]] = {arm: [] for arm in ARMS}
    with torch.inference_mode():
        for _ in range(s.latency_repeats + 1):
            for arm, net in nets.items():
                t = time.perf_counter()
                net(x)
                times[arm].append(time.perf_counter() - t)
    return {arm: 1000 * float(np.median(t[1:])) for arm, t in times.items()}  # the first is a warm-up


def evaluate_all(s: Settings = SETTINGS) -> dict:
    """results.json: every run's AP, AP50, AP75; every arm's with bootstrap CIs; paired differences."""
    torch.set_num_threads(1)
    meta = json.loads((CACHE / "val_gt.json").read_text())
    gt, crowded = meta["gt"], meta["crowded"]
    ids = list(range(1, s.n_val + 1))
    subsets = {"all": np.arange(s.n_val), "crowded": np.asarray(crowded)}
    rng = np.random.default_rng(s.boot_seed)
    resamples = {k: intervals.resample_counts(rng, len(v), s.n_boot) for k, v in subsets.items()}

    def score(kps: list, scores: list) -> tuple[dict, dict]:
        found = detections_coco(ids, kps, scores)
        if not found:  # nobody found (an untrained network): AP 0 on every resample
            zero = dict.fromkeys(intervals.METRICS, 0.0)
            boot = {k: {m: np.zeros(s.n_boot) for m in intervals.METRICS} for k in subsets}
            return {k: zero for k in subsets}, {k: {"point": zero, "boot": boot[k]} for k in subsets}
        ev = _coco_eval(gt, found, ids)
        m = intervals.image_matches(ev)
        point = {k: intervals.average_precision(m, v) for k, v in subsets.items()}
        boot = {k: intervals.bootstrap_ap(m, v, resamples[k]) for k, v in subsets.items()}
        return point, boot

    ceiling, _ = score(*perfect_detections(s))
    untrained_arm = "4 PAF -> 2 CM"
    net = init_weights(make_net(untrained_arm), s.seeds[0]).eval()
    images = load("val", "image").transpose(0, 2, 3, 1)
    found = predict(FinalMaps(net), list(images), [1], color="RGB", params=ParsingParams())[1]
    untrained, _ = score(*found)
    runs, boots, arms = [], {}, {}
    latency = latency_ms(s)
    for arm in ARMS:
        net = make_net(arm).eval()
        arms[arm] = {
            "order": ARMS[arm]["order"],
            "block": ARMS[arm]["block"],
            "parameters": count_parameters(net),
            "GMACs_368": round(sum(conv_macs(net, (368, 368)).values()) / 1e9, 3),
            "GMACs_train": round(sum(conv_macs(net, (s.size, s.size)).values()) / 1e9, 3),
            "cpu_ms_368": round(latency[arm], 1),
        }
        for seed in s.seeds:
            path = RUNS / slug(arm) / f"seed{seed}" / "final.pt"
            if not path.is_file():
                continue
            ck = torch.load(path, map_location="cpu", weights_only=False)
            kps, scores, eval_seconds = detections(arm, seed, s)
            point, boot = score(kps, scores)
            boots[(arm, seed)] = boot
            runs.append(
                {
                    "arm": arm,
                    "seed": seed,
                    **ck["meta"],
                    "detect_seconds": eval_seconds,
                    "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime)),
                    **{k: {m: round(v, 4) for m, v in p.items()} for k, p in point.items()},
                }
            )
            print(arm, seed, {k: round(v["AP"], 3) for k, v in point.items()}, flush=True)
    seed_rng = np.random.default_rng(s.boot_seed + 1)
    for sub in subsets:
        for arm in ARMS:
            reps = [boots[(arm, seed)][sub] for seed in s.seeds if (arm, seed) in boots]
            if not reps:
                continue
            mean = {k: float(np.mean([r["point"][k] for r in reps])) for k in intervals.METRICS}
            # scenes and seeds resampled (two levels): the same scene resamples for every arm
            dist = {
                k: intervals.over_seeds([r["boot"][k] for r in reps], seed_rng) for k in intervals.METRICS
            }
            arms[arm].setdefault("AP", {})[sub] = {
                k: {
                    "mean": round(mean[k], 4),
                    "ci": [round(q, 4) for q in intervals.interval(dist[k])],
                }
                for k in intervals.METRICS
            }
            arms[arm].setdefault("_dist", {})[sub] = dist
    differences = {}
    for sub in subsets:
        names = [a for a in ARMS if "_dist" in arms[a]]
        differences[sub] = intervals.paired_differences(
            {a: arms[a]["_dist"][sub] for a in names},
            {a: {k: arms[a]["AP"][sub][k]["mean"] for k in intervals.METRICS} for a in names},
        )
    for a in arms.values():
        a.pop("_dist", None)
    ends = [(RUNS / slug(r["arm"]) / f"seed{r['seed']}" / "final.pt").stat().st_mtime for r in runs]
    starts = [e - r["seconds"] for e, r in zip(ends, runs)]
    training = {
        "runs": len(runs),
        "parallel": 2,
        "cpu_seconds_per_run": [r["seconds"] for r in runs],
        "wall_minutes": round((max(ends) - min(starts)) / 60, 1) if starts else None,
    }
    return {
        "experiment": "TPAMI 2019 Table 5 (stage order), small, synthetic scenes",
        "settings": {
            **asdict(s),
            "n_crowded": len(crowded),
            "arms": ARMS,
            "network": {k: v for k, v in RefinementConfig().to_dict().items() if k not in ("order", "block")},
        },
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "threads": 1,
        },
        "training": training,
        "missing": [
            {"arm": a, "seed": seed}
            for seed in s.seeds
            for a in ARMS
            if not any(r["arm"] == a and r["seed"] == seed for r in runs)
        ],
        "untrained": {
            "arm": untrained_arm,
            **{k: {m: round(v[m], 4) for m in intervals.METRICS} for k, v in untrained.items()},
        },
        "ceiling": {k: {m: round(v[m], 4) for m in intervals.METRICS} for k, v in ceiling.items()},
        "arms": arms,
        "runs": runs,
        "differences": differences,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["data", "train", "train-all", "detect", "evaluate"])
    p.add_argument("arm", nargs="?")
    p.add_argument("seed", nargs="?", type=int)
    p.add_argument("--device", default="cpu")
    p.add_argument("--parallel", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    if a.command == "data":
        build_data()
    elif a.command == "train":
        train_one(a.arm, a.seed, a.device)
    elif a.command == "train-all":
        train_all(a.parallel, a.device)
    elif a.command == "detect":
        detect_all()
    else:
        out = evaluate_all()
        RESULTS.write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
