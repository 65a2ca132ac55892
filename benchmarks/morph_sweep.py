"""Body-fat morph sweep: achieved body fat, kept height and time per level over dataset subjects.

    python benchmarks/morph_sweep.py DATASET [--subjects 20] [--body-fat=-10,-5,+5,+10] [--out benchmarks/results]

Morphs the first N subjects of DATASET (built with Anny's body shape space, measurements
on) and writes `<out>/morph_sweep.{json,md}`: per subject and level the target and the
achieved body fat, the height change and the seconds per level; targets out of a body's
reach are counted, not failed.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pyarrow.dataset as pads

from body_models import SynthError, source_from_env
from synth.morph.solve import BodyFatMorpher, parse_changes
from synth.train.bodies import dataset_body_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--body-fat", default="-10,-5,+5,+10")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    source = source_from_env()
    model, manifest = dataset_body_model(str(args.dataset), source)
    files = [str(args.dataset / e["file"]) for e in manifest["shards"]]
    rows = pads.dataset(files, format="parquet").head(args.subjects, columns=["subject_id", "shape"]).to_pylist()
    morpher, values = BodyFatMorpher(model), parse_changes(args.body_fat)
    results = []
    for row in rows:
        started = time.perf_counter()
        try:
            levels = morpher.morph(np.asarray(row["shape"], np.float32), values)
        except SynthError as err:
            results.append({"subject_id": row["subject_id"], "refused": str(err)})
            continue
        seconds = (time.perf_counter() - started) / len(values)
        source_m = levels[0].measurements
        results.append({"subject_id": row["subject_id"], "source_body_fat_pct": source_m.body_fat_pct,
                        "seconds_per_level": seconds,
                        "levels": [{"label": lv.label, "target": lv.target_body_fat_pct,
                                    "achieved": lv.measurements.body_fat_pct,
                                    "height_change_mm": 1000 * (lv.measurements.height_m - source_m.height_m)}
                                   for lv in levels[1:]]})
    done = [r for r in results if "levels" in r]
    errors = np.array([abs(lv["achieved"] - lv["target"]) for r in done for lv in r["levels"]])
    heights = np.array([abs(lv["height_change_mm"]) for r in done for lv in r["levels"]])
    summary = {"subjects": len(rows), "morphed": len(done), "refused": len(rows) - len(done),
               "levels": int(errors.size), "max_body_fat_error_pct": float(errors.max()) if errors.size else None,
               "max_height_change_mm": float(heights.max()) if heights.size else None,
               "mean_seconds_per_level": float(np.mean([r["seconds_per_level"] for r in done])) if done else None}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "morph_sweep.json").write_text(json.dumps({"summary": summary, "results": results}, indent=2))
    lines = [f"# Morph sweep: {args.dataset}, body fat {args.body_fat}", "", json.dumps(summary), "",
             "| subject | source %BF | " + " | ".join(f"{v:+g}" for v in values) + " | s/level |",
             "|---|---|" + "---|" * len(values) + "---|"]
    for r in results:
        if "refused" in r:
            lines.append(f"| {r['subject_id']} | refused: {r['refused']} |")
            continue
        cells = " | ".join(f"{lv['achieved']:.1f} ({lv['height_change_mm']:+.1f} mm)" for lv in r["levels"])
        lines.append(f"| {r['subject_id']} | {r['source_body_fat_pct']:.1f} | {cells} | {r['seconds_per_level']:.1f} |")
    (args.out / "morph_sweep.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
