"""Ray's processes on this machine, found by their command lines (orphans included)."""
from __future__ import annotations

import psutil


def ray_processes() -> set[int]:
    """PIDs of every Ray process running here: raylet, GCS, the autoscaler monitor, log
    monitor, dashboard and agents (all run from the ray package) and workers ("ray::...")."""
    found = set()
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "/ray/" in cmd or cmd.startswith("ray::"):
            found.add(proc.pid)
    return found
