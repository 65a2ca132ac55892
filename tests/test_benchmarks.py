"""The benchmark harness runs end to end and writes every figure it promises."""
from __future__ import annotations

import json
import math
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = [sys.executable, "-X", "faulthandler"]  # a crash in a native library prints the Python stack


def test_smoke_benchmark_writes_json_and_table(tmp_path):
    done = subprocess.run([*PYTHON, str(ROOT / "benchmarks" / "run.py"), "--size", "smoke",
                           "--max-workers", "1", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / f"{platform.node()}.json").read_text())
    for key in ("speedup_vs_naive", "floor_ms_per_view"):
        assert math.isfinite(results[key]) and results[key] > 0, key
    assert results["gl_renderer"]
    for job in ("default", "labels_off"):  # the default job as shipped, and the same with labels off
        assert math.isfinite(results[job]["ratio_to_floor"]) and results[job]["ms_per_view"] > 0
        cost = results[job]["cost_ms_per_subject"]
        assert {"sample", "pose", "measure", "render", "encode", "write"} <= set(cost)
        assert cost["render"] > 0 and cost["write"] > 0
    measure = {job: results[job]["cost_ms_per_subject"]["measure"] for job in ("default", "labels_off")}
    assert measure["labels_off"] < 0.01 * measure["default"], measure  # labels off measures nothing
    # the driver handles shard entries, far smaller than the shards the actors write
    assert 0 < results["entry_bytes_per_shard"] < 1000 < results["table_bytes_per_shard"]
    (scaling,) = results["scaling"]
    assert scaling["workers"] == 1 and scaling["efficiency"] == 1.0 and scaling["steady_silhouettes_per_s"] > 0
    assert 0 < scaling["driver_bytes_per_shard"] < 1000
    memory = results["memory"]
    assert set(memory["driver_rss_mb"]) == {"25%", "50%", "100%"} and memory["worker_peak_mb"]
    assert results["trainer"]["loader_headroom"] > 0
    table = (tmp_path / f"{platform.node()}.md").read_text()
    for row in ("default job / naive loop", "the floor", "labels off", "cost split, default job",
                "driver bytes per shard", "efficiency", "driver RSS", "loader / training"):
        assert row in table, row


def test_render_stage_runs_on_exported_bodies(smoke_dataset, tmp_path):
    script = str(ROOT / "benchmarks" / "render_stage.py")
    bodies = tmp_path / "bodies.npz"
    exported = subprocess.run([*PYTHON, script, "export", str(smoke_dataset), str(bodies), "--rows", "4"],
                              capture_output=True, text=True, timeout=600, check=False)
    assert exported.returncode == 0, exported.stderr[-3000:]
    for extra, what in (([], "silhouettes/s"), (["--photos"], "photo-like pictures/s")):
        done = subprocess.run([*PYTHON, script, "run", str(bodies), "--procs", "1", "--seconds", "0.5", *extra],
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        (line,) = done.stdout.strip().splitlines()
        assert line.startswith("1 processes: ") and what in line and float(line.split()[2]) > 0, line
