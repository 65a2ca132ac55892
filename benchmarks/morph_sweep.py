"""Body-fat morph sweep: per subject and level, the achieved body fat, kept height and time.

    python benchmarks/morph_sweep.py DATASET [--subjects 20] [--body-fat=-10,-5,+5,+10] [--band 5,55] [--out DIR]

Morphs the first N subjects of DATASET (built with Anny's body shape space, measurements
on) to each level on its own and writes `<out>/morph_sweep.{json,md}`: the target and the
achieved body fat, the height change, the seconds per level, whether the level is solved on
the extension past the body model's range (`synth.morph.solve`) and how creased its surface
got (crease_deg: the 99.9th percentile, over the mesh's edges, of how much the angle between
an edge's two faces grew from the source body; a fold shows as a sharp crease). A target out
of a body's reach is counted, not failed, separately for targets inside the band (the range
real adults span, 5-55 %) and outside it.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import trimesh

from body_models import SynthError, source_from_env
from synth.dataset.manifest import read_shards
from synth.morph.solve import BodyFatMorpher, parse_changes
from synth.storage import Store
from synth.train.bodies import dataset_body_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--body-fat", default="-10,-5,+5,+10")
    parser.add_argument("--band", default="5,55", help="body-fat range (%%) whose targets must be reached")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    low, high = (float(x) for x in args.band.split(","))
    model, manifest = dataset_body_model(str(args.dataset), source_from_env())
    rows = read_shards(Store.open(args.dataset), manifest, ["subject_id", "shape", "body_fat_pct"],
                       head=args.subjects).to_pylist()
    morpher, values = BodyFatMorpher(model), parse_changes(args.body_fat)
    faces = np.asarray(model.faces)

    def angles(vertices: np.ndarray) -> np.ndarray:
        return np.degrees(trimesh.Trimesh(vertices, faces, process=False).face_adjacency_angles)

    results = []
    for row in rows:
        levels = []
        for value in values:
            target = row["body_fat_pct"] + value
            started = time.perf_counter()
            try:
                source, level = morpher.morph(np.asarray(row["shape"], np.float32), [value])
            except SynthError as err:
                levels.append({"change": value, "target": target, "in_band": low <= target <= high,
                               "refused": str(err)})
                continue
            levels.append({"change": value, "target": target, "in_band": low <= target <= high,
                           "achieved": level.measurements.body_fat_pct, "seconds": time.perf_counter() - started,
                           "extrapolated": level.extrapolated, "bmi": level.measurements.bmi_kg_m2,
                           "crease_deg": float(np.percentile(angles(level.vertices) - angles(source.vertices), 99.9)),
                           "height_change_mm": 1000 * (level.measurements.height_m - source.measurements.height_m)})
        results.append({"subject_id": row["subject_id"], "source_body_fat_pct": row["body_fat_pct"], "levels": levels})
    every = [lv for r in results for lv in r["levels"]]
    reached = [lv for lv in every if "achieved" in lv]
    summary = {"subjects": len(rows), "targets": len(every), "band_pct": [low, high],
               "in_band": sum(lv["in_band"] for lv in every),
               "in_band_reached": sum(lv["in_band"] and "achieved" in lv for lv in every),
               "reached_extrapolated": sum(lv.get("extrapolated", False) for lv in every),
               "out_of_band_refused": sum(not lv["in_band"] and "refused" in lv for lv in every),
               "max_body_fat_error_pct": max((abs(lv["achieved"] - lv["target"]) for lv in reached), default=None),
               "max_height_change_mm": max((abs(lv["height_change_mm"]) for lv in reached), default=None),
               "max_crease_deg_in_range": max((lv["crease_deg"] for lv in reached if not lv["extrapolated"]),
                                              default=None),
               "max_crease_deg_extrapolated": max((lv["crease_deg"] for lv in reached if lv["extrapolated"]),
                                                  default=None),
               "mean_seconds_per_level": float(np.mean([lv["seconds"] for lv in reached])) if reached else None}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "morph_sweep.json").write_text(json.dumps({"summary": summary, "results": results}, indent=2))
    lines = [f"# Morph sweep: {args.dataset}, body fat {args.body_fat}", "", json.dumps(summary), "",
             "| subject | source %BF | " + " | ".join(f"{v:+g}" for v in values) + " |",
             "|---|---|" + "---|" * len(values)]
    for r in results:
        cells = [f"{lv['achieved']:.1f} ({lv['height_change_mm']:+.1f} mm)" + (" *" if lv["extrapolated"] else "")
                 if "achieved" in lv
                 else f"{lv['target']:.1f}: out of reach" + ("" if lv["in_band"] else " (outside the band)")
                 for lv in r["levels"]]
        lines.append(f"| {r['subject_id']} | {r['source_body_fat_pct']:.1f} | " + " | ".join(cells) + " |")
    lines += ["", "\\* the level is solved on the extension past the body model's range (`synth.morph.solve`)"]
    (args.out / "morph_sweep.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
