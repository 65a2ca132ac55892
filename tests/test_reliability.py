"""Reliability: a real two-node Ray cluster losing a node, storage faults, locking, fuzzed input."""
from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from body_models import SynthError
from synth.build import BuildOptions, run_build
from synth.cli import main
from synth.config import load_spec, spec_from_dict
from synth.dataset import atomic
from synth.dataset.verify import verify_dataset
from synth.ray_runner import RETRIES
from processes import ray_processes
from test_build import shard_hashes

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "jobs" / "smoke.toml"
RAY = str(Path(sys.executable).parent / "ray")
CLUSTER_SPEC = ["job.subjects=24", "job.shard_size=2", "job.splits={train=1.0}"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.2", 0))
        return s.getsockname()[1]


def _kill(pids: set[int]) -> None:
    for pid in pids:
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            continue


def _start(args: list[str], env: dict[str, str]) -> set[int]:
    """Run `ray start ...` and return the PIDs it left running."""
    before = ray_processes()
    subprocess.run([RAY, "start", *args], check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=120)
    time.sleep(2)
    return ray_processes() - before


# Two nodes on two loopback addresses (Ray replaces 127.0.0.1 itself by the machine's
# address); token auth off for this throw-away local cluster.
CLUSTER_ENV = {"PYOPENGL_PLATFORM": "egl", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
               "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"}


@pytest.fixture()
def two_node_cluster(tmp_path):
    """A head node (127.0.0.2) and a second node (127.0.0.3), 2 CPUs each; torn down by PID."""
    env = {**os.environ, **CLUSTER_ENV}
    port = _free_port()
    head = _start(["--head", f"--port={port}", "--node-ip-address=127.0.0.2", "--num-cpus=2",
                   "--include-dashboard=false", "--disable-usage-stats"], env)
    try:
        worker = _start([f"--address=127.0.0.2:{port}", "--node-ip-address=127.0.0.3", "--num-cpus=2"], env)
        yield f"127.0.0.2:{port}", head, worker
    finally:
        _kill(ray_processes() & (_descendants(head) | _descendants(worker) | head | worker))
        _kill(head | worker)


def _descendants(pids: set[int]) -> set[int]:
    found = set(pids)
    for pid in pids:
        try:
            found |= {child.pid for child in psutil.Process(pid).children(recursive=True)}
        except psutil.Error:
            continue
    return found


def test_every_execution_mode_writes_the_same_bytes(two_node_cluster, tmp_path, anny_source):
    """In-process (this process's own thread count), 1 and 2 local Ray actors (2 and 1
    threads each on 2 cores), and a 2-node cluster that loses a node mid-build: byte-identical
    shards. Each mode used to compute with its own thread count, which changes MKL's sums on
    AVX-512 Xeons (joints differed by ~1e-23 m)."""
    address, _, worker_node = two_node_cluster
    spec = load_spec(SMOKE, CLUSTER_SPEC)
    reference = tmp_path / "reference"
    run_build(spec, BuildOptions(out=reference, source=anny_source, workers=0, progress=False))
    for workers in (1, 2):
        run_build(spec, BuildOptions(out=tmp_path / f"actors{workers}", source=anny_source, workers=workers,
                                     progress=False))
        assert shard_hashes(tmp_path / f"actors{workers}") == shard_hashes(reference), f"{workers} actor(s)"
    out = tmp_path / "cluster"
    build = subprocess.Popen([sys.executable, "-m", "synth.cli", "build", str(SMOKE), "--out", str(out),
                              "--workers", "2", "--address", address, "--no-progress"]
                             + [f"--set={o}" for o in CLUSTER_SPEC], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             env={**os.environ, **CLUSTER_ENV})
    deadline = time.time() + 180
    while time.time() < deadline and build.poll() is None:
        if (out / "dataset.json").exists() and len(shard_hashes(out)) >= 2:
            break
        time.sleep(0.05)
    assert build.poll() is None, "the build ended before the node could be killed"
    victims = _descendants(worker_node)
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    output, _ = build.communicate(timeout=300)
    assert build.returncode == 0, output.decode()[-2000:]
    assert shard_hashes(out) == shard_hashes(reference)
    assert verify_dataset(out)[0] == []


def test_a_worker_lost_more_often_than_its_retries_still_finishes(tmp_path, anny_source):
    """A long build can lose its actor many times (a preempted node, a rare fault in a native
    library): each loss costs the shard in flight a retry, never the actor its life. One worker
    killed RETRIES + 2 times, after a different shard each time: the build finishes with the
    in-process build's bytes."""
    reference = tmp_path / "reference"
    run_build(load_spec(SMOKE, CLUSTER_SPEC), BuildOptions(out=reference, source=anny_source, workers=0,
                                                           progress=False))
    out = tmp_path / "killed"
    build = subprocess.Popen([sys.executable, "-m", "synth.cli", "build", str(SMOKE), "--out", str(out),
                              "--workers", "1", "--no-progress"] + [f"--set={o}" for o in CLUSTER_SPEC],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **CLUSTER_ENV})
    kills, killed_at, deadline = 0, 0, time.time() + 300
    while kills < RETRIES + 2 and build.poll() is None and time.time() < deadline:
        done = len(shard_hashes(out)) if (out / "dataset.json").exists() else 0
        actors = [pid for pid in _descendants({build.pid}) if "ShardActor" in " ".join(_cmdline(pid))]
        if done > killed_at and actors:
            _kill(set(actors))
            kills, killed_at = kills + 1, done
        time.sleep(0.05)
    output, _ = build.communicate(timeout=300)
    assert build.returncode == 0, output.decode()[-2000:]
    assert kills == RETRIES + 2, f"the build ended after {kills} kills"
    assert shard_hashes(out) == shard_hashes(reference)


def _cmdline(pid: int) -> list[str]:
    try:
        return psutil.Process(pid).cmdline()
    except psutil.Error:
        return []


def _fail_on_write(monkeypatch, error: OSError, after: int) -> None:
    """Make the `after`-th and later atomic writes of a shard fail with `error`."""
    real = atomic.os.fsync
    calls = {"n": 0}

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] > after:
            raise error
        return real(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   PermissionError(errno.EACCES, "Permission denied")])
def test_failed_write_is_reported_leaves_no_shard_and_resumes(tmp_path, anny_source, monkeypatch, error):
    spec = load_spec(SMOKE, ["job.subjects=8", "job.shard_size=2", "job.splits={train=1.0}"])
    out = tmp_path / "data"
    _fail_on_write(monkeypatch, error, after=4)  # manifest + a shard or two succeed, then the disk "fills"
    with pytest.raises(SynthError, match=error.strerror):
        run_build(spec, BuildOptions(out=out, source=anny_source, workers=0, progress=False))
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))
    listed = set(shard_hashes(out))
    assert all(p.name in listed for p in out.glob("*.parquet")) or verify_dataset(out)[0]
    monkeypatch.undo()
    run_build(spec, BuildOptions(out=out, source=anny_source, workers=0, progress=False))
    assert verify_dataset(out)[0] == [] and len(shard_hashes(out)) == 4


def test_output_path_that_is_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    result = CliRunner().invoke(main, ["build", str(SMOKE), "--out", str(target / "sub")])
    assert result.exit_code == 1 and "cannot create the output" in result.output
    assert "Traceback" not in result.output


def test_two_builds_into_one_folder_do_not_corrupt_it(tmp_path, anny_source):
    out = tmp_path / "shared"
    command = [sys.executable, "-m", "synth.cli", "build", str(SMOKE), "--out", str(out), "--workers", "0",
               "--no-progress", "--set=job.subjects=4000", "--set=job.shard_size=2"]
    # the first build outlasts the second's start-up on any machine; it is interrupted once the second is refused.
    # The second starts once the first has committed a shard, so there is finished work to survive the interrupt
    # (started on the manifest alone, the second was sometimes refused before the first shard was done).
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while not ((out / "dataset.json").exists() and shard_hashes(out)) and time.time() < deadline:
        time.sleep(0.05)
    second = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert first.poll() is None, "the first build ended before the second started"
    first.send_signal(signal.SIGINT)
    output = first.communicate(timeout=120)[0]
    assert first.returncode == 130 and "Traceback" not in output, output
    assert second.returncode == 1 and "another synth build is writing" in second.stderr
    problems, built = verify_dataset(out)
    # the interrupt may land between a shard's write and its listing: that file is named as left for the resume
    assert built > 0 and all(p.endswith("(resume the build)") for p in problems), problems


_CTRL_C_IN_A_FINALISER = """
import os, signal, sys, time
import synth.shard
from synth.cli import main

build, calls = synth.shard.ShardBuilder.build, []


class Finalised:
    def __del__(self):  # Ctrl-C lands in a finaliser, where a KeyboardInterrupt is printed and lost
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)


def build_with_ctrl_c(self, plan):
    calls.append(plan)
    if len(calls) == 2:
        Finalised()
    return build(self, plan)


synth.shard.ShardBuilder.build = build_with_ctrl_c
main(sys.argv[1:])
"""


def test_ctrl_c_inside_a_finaliser_stops_the_build_after_the_shard_in_hand(tmp_path):
    out = tmp_path / "out"
    command = ["build", str(SMOKE), "--out", str(out), "--workers", "0", "--no-progress", "--set=job.subjects=24",
               "--set=job.shard_size=2"]
    result = subprocess.run([sys.executable, "-c", _CTRL_C_IN_A_FINALISER, *command], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 130 and "interrupted:" in result.stderr and "Traceback" not in result.stderr, \
        result.stderr[-2000:]
    assert len(shard_hashes(out)) == 2  # the shard in hand is finished and listed, then the build stops
    problems, built = verify_dataset(out)
    assert built == 2 and len(problems) == 10 and all(p.endswith("(resume the build)") for p in problems)


_values = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=8), st.lists(st.floats(-1e3, 1e3), max_size=3))
_sections = st.sampled_from(["job", "body_model", "shape", "pose", "camera", "views", "labels", "render", "bogus"])
_keys = st.sampled_from(["seed", "subjects", "shard_size", "splits", "name", "width", "height", "distance_m",
                         "vertical_fov_deg", "names", "yaw_deg", "age_years", "knee_flexion_deg", "num_betas",
                         "measurements", "batch_size", "unknown"])
FUZZ_CASES = 300


@settings(max_examples=FUZZ_CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_sections, st.dictionaries(_keys, _values, max_size=4), max_size=4))
def test_fuzzed_job_specs_either_validate_or_raise_one_clear_error(raw):
    try:
        spec_from_dict(json.loads(json.dumps(raw, default=str)))
    except SynthError as err:
        assert str(err).startswith("invalid job spec")


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300))
def test_fuzzed_manifests_and_shards_give_clear_errors(tmp_path_factory, blob):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "dataset.json").write_bytes(blob)
    result = CliRunner().invoke(main, ["verify", str(folder)])
    assert result.exit_code == 1 and "Traceback" not in result.output and result.output.startswith("error:")


@pytest.mark.parametrize("command", [
    ["verify", "{missing}"],
    ["preview", "{missing}"],
    ["eval", "--checkpoint", "{bad}", "--data", "{missing}"],
    ["predict", "--checkpoint", "{bad}", "{bad}"],
    ["train", "{bad}"],
    ["build", "{bad}"],
    ["models", "convert", "{bad}", "{out}/x.npz"],
])
def test_bad_files_to_every_command_give_one_line(tmp_path, command):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\x00\x01garbage[[")
    args = [a.format(missing=tmp_path / "nope", bad=bad, out=tmp_path) for a in command]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert result.output.strip().startswith(("error:", "Usage:")), result.output
