"""Stream dataset shards into torch: row groups split across ranks and workers.

Works on a local folder or any URI pyarrow understands (s3://, gs://, hdfs://...).
Only the columns training needs are read, one row group at a time; PNGs are decoded
and framed on the fly; a bounded shuffle buffer mixes rows. Memory is bounded by the
buffer, never by the dataset.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import torch
from torch.utils.data import IterableDataset, get_worker_info

from body_models import SynthError
from synth.images import decode_silhouette
from synth.measurements import MEASUREMENT_NAMES
from synth.storage import Store
from synth.train.augment import AugmentConfig, corrupt, framing_jitter, reported_height, reported_weight
from synth.train.framing import Framing, frame_silhouette, frame_views

COLUMNS = ["subject_index", "view_names", "silhouettes", "shape", "capture_pose_rad", "pose", "R", "t",
           *MEASUREMENT_NAMES]


def list_shards(uri: str, split: str) -> tuple[pafs.FileSystem, list[str]]:
    """(filesystem, sorted shard paths) of `split` under a folder path or URI."""
    try:
        store = Store.open(uri)
        files = [store.path(name) for name in store.names()
                 if name.startswith(f"{split}-") and name.endswith(".parquet")]
    except (OSError, ValueError) as err:
        raise SynthError(f"cannot list dataset {uri}: {err}") from err
    if not files:
        raise SynthError(f"no '{split}' shards ({split}-*.parquet) in {uri}; build one with `synth build`")
    return store.filesystem, files


@contextmanager
def _readable(path: str) -> Iterator[None]:
    """A shard that cannot be read becomes one SynthError naming it."""
    try:
        yield
    except (pa.ArrowException, OSError) as err:
        raise SynthError(f"shard {path} is unreadable ({err}); run `synth verify` on the dataset") from err


def camera_targets(R: list[list[float]], t: list[list[float]]) -> np.ndarray:
    """(V, 3) per view: horizontal distance (m), height (m), downward pitch (rad) of the camera."""
    out = []
    for r, tt in zip(R, t):
        rot = np.asarray(r, np.float64).reshape(3, 3)
        center = -rot.T @ np.asarray(tt, np.float64)
        out.append([np.hypot(center[0], center[2]), center[1], np.arcsin(np.clip(-rot[2, 1], -1, 1))])
    return np.asarray(out, np.float32)


def view_cameras(row: dict[str, Any], views: tuple[str, ...]) -> np.ndarray:
    """Camera targets (V, 3) of a dataset row for the named views, in that order."""
    picked = [row["view_names"].index(name) for name in views]
    return camera_targets([row["R"][i] for i in picked], [row["t"][i] for i in picked])


@dataclass(frozen=True)
class StreamConfig:
    """uri + split: where; views: view names fed to the net, in order; input_size: pixels;
    max_rows: read only the split's first row groups holding at least this many rows
    (0 = all; whole row groups of `synth.dataset.writer.ROW_GROUP_SIZE` rows); framings:
    each view is also framed these fixed ways (`synth.train.framing.inference_framings`), for
    nets that average over framings at test time."""

    uri: str
    split: str
    views: tuple[str, ...]
    input_size: int
    augment: AugmentConfig
    shuffle_buffer: int = 256
    seed: int = 0
    repeat: bool = True
    max_rows: int = 0
    framings: tuple[Framing, ...] = ()


class SilhouetteStream(IterableDataset):
    """Yields dicts: silhouettes (V, S, S) float32, shape, capture_pose, pose (native), camera (V, 3),
    measurements (M,) (NaN where absent), height_input_m and weight_input_kg (the height and
    weight as a user would type them: noisy when augmenting; NaN without measurements),
    subject_index; with `framings`, also reframed (K, V, S, S): the same (corrupted) masks
    framed each of those ways."""

    def __init__(self, config: StreamConfig) -> None:
        self.config = config
        self.filesystem, self.files = list_shards(config.uri, config.split)
        self.epoch = 0

    def _units(self) -> list[tuple[str, int]]:
        """(shard path, row group) pairs, in shard order; the first ones holding at least
        `max_rows` rows when that is set."""
        units, rows = [], 0
        for path in self.files:
            with _readable(path):
                with self.filesystem.open_input_file(path) as handle:
                    metadata = pq.ParquetFile(handle).metadata
            for group in range(metadata.num_row_groups):
                if self.config.max_rows and rows >= self.config.max_rows:
                    return units
                units.append((path, group))
                rows += metadata.row_group(group).num_rows
        return units

    def _consumer(self) -> tuple[int, int]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        else:
            rank, world = 0, 1
        return rank * workers + worker, world * workers

    def sample(self, row: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """One training example from one dataset row."""
        cfg = self.config
        frames, masks = [], []
        for name in cfg.views:
            if name not in row["view_names"]:
                raise SynthError(f"view '{name}' is not in the dataset (it has {', '.join(row['view_names'])})")
            mask = decode_silhouette(row["silhouettes"][row["view_names"].index(name)]["bytes"])
            scale, shift = framing_jitter(rng, cfg.augment)
            masks.append(corrupt(mask, rng, cfg.augment))
            frames.append(frame_silhouette(masks[-1], cfg.input_size, scale, shift))
        cameras = view_cameras(row, cfg.views)
        measurements = [np.nan if row[m] is None else row[m] for m in MEASUREMENT_NAMES]
        height = np.nan if row["height_m"] is None else reported_height(row["height_m"], rng, cfg.augment)
        weight = np.nan if row["mass_kg"] is None else reported_weight(row["mass_kg"], rng, cfg.augment)
        return {
            "silhouettes": torch.from_numpy(np.stack(frames)),
            "shape": torch.tensor(row["shape"], dtype=torch.float32),
            "capture_pose": torch.tensor(row["capture_pose_rad"], dtype=torch.float32),
            "pose": torch.tensor(row["pose"], dtype=torch.float32),
            "camera": torch.from_numpy(cameras),
            "measurements": torch.tensor(measurements, dtype=torch.float32),
            "height_input_m": torch.tensor(height, dtype=torch.float32),
            "weight_input_kg": torch.tensor(weight, dtype=torch.float32),
            "subject_index": row["subject_index"],
            **({"reframed": torch.from_numpy(frame_views(masks, cfg.input_size, cfg.framings))}
               if cfg.framings else {}),
        }

    def rows(self) -> Iterator[dict[str, Any]]:
        """This consumer's rows, one pass, in shuffled row-group order when repeating."""
        me, consumers = self._consumer()
        units = self._units()
        rng = np.random.default_rng([self.config.seed, self.epoch])
        if self.config.repeat:
            rng.shuffle(units)
        for path, group in units[me::consumers]:
            with _readable(path), self.filesystem.open_input_file(path) as handle:
                table = pq.ParquetFile(handle).read_row_group(group, columns=COLUMNS)
            yield from table.to_pylist()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        me, consumers = self._consumer()
        if me >= len(self._units()):
            return  # more consumers than row groups: this one has nothing to read
        while True:
            rng = np.random.default_rng([self.config.seed, self.epoch, me, 1])
            buffer: list[dict[str, Any]] = []
            for row in self.rows():
                buffer.append(self.sample(row, rng))
                if len(buffer) >= self.config.shuffle_buffer:
                    yield buffer.pop(int(rng.integers(len(buffer))) if self.config.repeat else 0)
            if self.config.repeat:
                rng.shuffle(buffer)
            yield from buffer
            self.epoch += 1
            if not self.config.repeat:
                return
