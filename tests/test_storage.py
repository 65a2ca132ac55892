"""Builds into object storage: a real S3 API (moto's server on loopback), per-worker
commits, a worker killed mid-upload, the lease, verify, reports and training from s3://."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from body_models import SynthError
from synth.build import BuildOptions, run_build
from synth.cli import main
from synth.config import load_spec
from synth.dataset.verify import verify_dataset
from synth.storage import LOCK, Store, exclusive
from synth.train.config import config_from_dict
from synth.train.loop import train
from s3_server import s3_hashes, s3_uri
from test_build import shard_hashes

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "jobs" / "smoke.toml"
SPEC = ["job.subjects=16", "job.shard_size=2"]


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory, anny_source) -> Path:
    out = tmp_path_factory.mktemp("reference") / "data"
    run_build(load_spec(SMOKE, SPEC), BuildOptions(out=out, source=anny_source, workers=0, progress=False))
    return out


@pytest.mark.slow
def test_ray_workers_write_to_s3_the_same_dataset(s3, local_reference, anny_source, tmp_path):
    uri = s3_uri(s3, "ray")
    summary = run_build(load_spec(SMOKE, SPEC), BuildOptions(out=uri, source=anny_source, workers=2, progress=False))
    assert s3_hashes(uri) == shard_hashes(local_reference)
    store = Store.open(uri)
    assert not [n for n in store.names() if n.endswith(".tmp")] and not store.exists(LOCK)
    # The driver got manifest entries only: a few hundred bytes a shard, not the shards.
    assert summary.driver_bytes < 1000 * summary.shards < summary.bytes
    result = CliRunner().invoke(main, ["verify", uri])
    assert result.exit_code == 0 and "ok: 8 shards verified" in result.output, result.output
    result = CliRunner().invoke(main, ["preview", uri, "--out", str(tmp_path / "sheet.png")])
    assert result.exit_code == 0 and (tmp_path / "sheet.png").stat().st_size > 0, result.output
    result = CliRunner().invoke(main, ["population", uri, "--out", str(tmp_path / "population")])
    assert result.exit_code == 0 and (tmp_path / "population" / "population.png").exists(), result.output
    # a short training run streams from the bucket
    config = config_from_dict({
        "data": {"uri": uri, "val_split": "test", "views": ["front", "left"], "input_size": 32, "num_workers": 0,
                 "shuffle_buffer": 4, "augment": False},
        "model": {"width": 4}, "optim": {"batch_size": 4, "steps": 3},
        "run": {"out": str(tmp_path / "run"), "device": "cpu", "eval_every": 3, "val_batches": 1, "stats_rows": 8}})
    result = train(config, anny_source, progress=False)
    assert result.steps == 3 and (tmp_path / "run" / "last.pt").exists()


_KILLER = textwrap.dedent("""
    import os, signal, sys
    from synth.storage import Store
    from synth.cli import main

    commit = Store.write_atomic
    shards = []

    def write_atomic(self, name, data):
        if name.endswith(".parquet"):
            shards.append(name)
            if len(shards) == 4:  # die mid-upload: half the object streamed, never committed
                handle = self.filesystem.open_output_stream(self.path(f".{name}.killed.tmp"))
                handle.write(data[: len(data) // 2])
                handle.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        commit(self, name, data)

    Store.write_atomic = write_atomic
    main(sys.argv[1:])
""")


def test_worker_killed_mid_upload_leaves_no_partial_object_and_resumes(s3, local_reference, tmp_path):
    uri = s3_uri(s3, "killed")
    build = ["build", str(SMOKE), "--out", uri, "--workers", "0", "--no-progress", *[f"--set={o}" for o in SPEC]]
    killed = subprocess.run([sys.executable, "-c", _KILLER, *build], capture_output=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    store = Store.open(uri)
    listed = s3_hashes(uri)
    assert len(listed) == 3
    on_store = [n for n in store.names() if n.endswith(".parquet")]
    # every object under a final shard name is a whole, listed shard
    assert sorted(on_store) == sorted(listed) and all(store.sha256(n) == listed[n] for n in on_store)
    problems, _ = verify_dataset(uri)
    assert problems and all("planned but not built" in p for p in problems)
    # the dead build's lease blocks a second build until it expires or is removed
    result = CliRunner().invoke(main, build)
    assert result.exit_code == 1 and "holds" in result.output and LOCK in result.output
    store.delete(LOCK)
    result = CliRunner().invoke(main, build)
    assert result.exit_code == 0 and "(3 already done)" in result.output, result.output
    assert s3_hashes(uri) == shard_hashes(local_reference)
    assert verify_dataset(uri)[0] == [] and not [n for n in store.names() if n.endswith(".tmp")]


def test_lease_refuses_a_live_build_and_takes_an_expired_one(s3):
    store = Store.open(s3_uri(s3, "lease"))
    with exclusive(store):
        with pytest.raises(SynthError, match="another synth build"):
            with exclusive(store):
                pass
    assert not store.exists(LOCK)
    store.write_atomic(LOCK, json.dumps({"holder": "dead:1", "token": "x", "renewed_at": time.time() - 3600}).encode())
    with exclusive(store):
        assert json.loads(store.read_bytes(LOCK))["holder"] != "dead:1"
    assert not store.exists(LOCK)


def test_failed_upload_leaves_nothing_under_either_name(s3, monkeypatch):
    store = Store.open(s3_uri(s3, "failed"))

    def broken_move(src: str, dst: str) -> None:
        raise OSError("connection reset")

    # pyarrow's S3FileSystem is a C++ object: wrap it to fail the commit step.
    class Failing:
        def __getattr__(self, name):
            return broken_move if name == "move" else getattr(store.filesystem, name)

    failing = Store(store.location, Failing(), store.root)
    with pytest.raises(OSError, match="connection reset"):
        failing.write_atomic("train-00000.parquet", b"x" * 1000)
    assert store.names() == []


def test_unusable_uris_are_one_line(tmp_path):
    result = CliRunner().invoke(main, ["build", str(SMOKE), "--out", "nosuch://bucket/x"])
    assert result.exit_code == 1 and "cannot open nosuch://bucket/x" in result.output
    assert "Traceback" not in result.output
