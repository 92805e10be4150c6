"""Per-stage AP of the two runs at the same step (same parser, same held-out scenes).

    python experiments/refinement_2017_vs_2019/evaluate_runs.py RUNS_DIR STEP N_SCENES
writes results.json beside this script: {"2017": {stage: AP}, "2019": {stage: AP}, ...}.
The 2019 network is parsed through body25.StageView (stage t <= 4: heatmap stages run on L^t).
"""

import json
import sys
import time
from pathlib import Path

import torch

from openpose_edu.body25 import Body25Net, StageView
from openpose_edu.evaluate import evaluate_synthetic
from openpose_edu.weights import load_checkpoint

torch.set_num_threads(1)
runs, step, n = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
out = {"step": step, "n_scenes": n, "AP": {}, "AR": {}, "seconds": {}}
for name in ("2017", "2019"):
    net, _ = load_checkpoint(runs / name / f"step_{step:06d}.pt")
    model = StageView(net) if isinstance(net, Body25Net) else net
    t0 = time.perf_counter()
    stats = evaluate_synthetic(model, n=n, stages="all")
    out["seconds"][name] = round(time.perf_counter() - t0, 1)
    out["AP"][name] = {t: round(s["AP"], 4) for t, s in stats.items()}
    out["AR"][name] = {t: round(s["AR"], 4) for t, s in stats.items()}
    print(name, out["AP"][name], flush=True)
Path(__file__).with_name("results.json").write_text(json.dumps(out, indent=1))
