"""Which example photos show stage refinement: every photo of ``media.EXAMPLE_PHOTOS`` parsed at
stage 1 and at the last stage of the small real COCO network (``stage_changes.compare_stages``).

    python experiments/example_photos_stages/measure.py   # writes results.json beside this file

Needs the example photos (``$OPENPOSE_EDU_EXAMPLES`` or a download) and the weights. The
notebooks read results.json to choose their refinement cases (most changed first) and then
recompute the chosen photos themselves, so a stale table shows up as a mismatch there.
"""

from __future__ import annotations

import json
from pathlib import Path

from openpose_edu import load_model, media
from openpose_edu.stage_changes import compare_stages, rank_by_change

MODEL = "tfpose-mobilenet-v2-small"


def main() -> None:
    model = load_model(MODEL)
    comparisons = [compare_stages(model, media.load_example(n), n) for n in media.EXAMPLE_PHOTOS]
    rows = []
    for c in rank_by_change(comparisons):
        print(c.summary())
        rows.append(
            {
                "photo": c.name,
                "people": list(c.people),
                "parts": list(c.parts),
                "added": len(c.changes.added),
                "dropped": len(c.changes.removed),
                "peak": [round(p, 3) for p in c.peaks],
            }
        )
    out = Path(__file__).with_name("results.json")
    out.write_text(
        json.dumps({"model": MODEL, "stages": [1, comparisons[0].last.stage], "photos": rows}, indent=1)
        + "\n"
    )
    print("written", out)


if __name__ == "__main__":
    main()
