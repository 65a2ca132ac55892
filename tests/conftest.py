"""Shared fixtures: body model sources, a generated SMPL model, a built smoke dataset and a net trained on it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from body_models import BodyModelSource
from s3_server import moto_s3
from smpl_fixture import smpl_arrays, write_plain_pickle

ROOT = Path(__file__).resolve().parents[1]
# In-process Ray (ray.data tests) stays on 127.0.0.1 instead of the machine's address.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


@pytest.fixture(scope="session")
def anny_source() -> BodyModelSource:
    cache = os.environ.get("ANNY_CACHE_DIR") or Path.home() / ".cache" / "anny"
    return BodyModelSource(anny_cache=Path(cache))


@pytest.fixture(scope="session")
def anny_model(anny_source):
    from body_models import create

    return create("anny", anny_source)


@pytest.fixture(scope="session")
def smpl_dir(tmp_path_factory) -> Path:
    """A folder laid out like smplx expects: smpl/SMPL_{NEUTRAL,FEMALE,MALE}.pkl (generated;
    the female stand-in is 0.92x, the male 1.06x the neutral size)."""
    folder = tmp_path_factory.mktemp("models")
    for gender, scale in (("NEUTRAL", 1.0), ("FEMALE", 0.92), ("MALE", 1.06)):
        write_plain_pickle(folder / "smpl" / f"SMPL_{gender}.pkl", smpl_arrays(scale=scale))
    return folder


@pytest.fixture(scope="session")
def smpl_model(smpl_dir, anny_source):
    from body_models import create

    return create("smpl", BodyModelSource(anny_cache=anny_source.anny_cache, model_path=smpl_dir))


@pytest.fixture(scope="session")
def smoke_spec():
    from synth.config import load_spec

    return load_spec(ROOT / "jobs" / "smoke.toml")


@pytest.fixture(scope="session")
def smoke_dataset(tmp_path_factory, smoke_spec, anny_source) -> Path:
    """The smoke job built in-process (no Ray)."""
    from synth.build import BuildOptions, run_build

    out = tmp_path_factory.mktemp("smoke") / "data"
    run_build(smoke_spec, BuildOptions(out=out, source=anny_source, workers=0, progress=False))
    return out


@pytest.fixture(scope="session")
def trained(smoke_dataset, tmp_path_factory, anny_source):
    """A small net trained on the smoke dataset's front and left views (80 steps)."""
    from synth.train.config import config_from_dict
    from synth.train.loop import train

    out = tmp_path_factory.mktemp("run")
    config = config_from_dict({
        "data": {"uri": str(smoke_dataset), "val_split": "test", "views": ["front", "left"], "input_size": 64,
                 "num_workers": 0, "shuffle_buffer": 8, "augment": False},
        "model": {"width": 8},
        "optim": {"batch_size": 8, "steps": 80, "lr": 3e-3},
        "run": {"out": str(out), "device": "cpu", "eval_every": 40, "val_batches": 1, "stats_rows": 24},
    })
    return config, train(config, anny_source, progress=False)


@pytest.fixture(scope="session")
def s3():
    """(endpoint host:port) of a moto S3 server on loopback (`s3_server.moto_s3`)."""
    with moto_s3() as endpoint:
        yield endpoint
