"""Where a dataset lives: a local folder or any pyarrow filesystem URI (s3://, gs://, hdfs://).

A `Store` names files relative to the dataset root and gives every writer the same two
guarantees on every backend:
- atomic commits: a file appears under its final name whole or not at all (local:
  temporary name, fsync, rename; object stores: upload under a temporary key, then a
  server-side move, so a killed uploader leaves only a `*.tmp` key, never a partial
  object under a final name);
- one writer at a time: `exclusive` holds flock on a local folder, and a lease object on
  a store without locks (renewed in the background, taken over only once it has expired).

Credentials and endpoints come from the URI's query (`?endpoint_override=host:port&
scheme=http`) and the usual environment (AWS_ACCESS_KEY_ID, ...), as pyarrow reads them.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from body_models import SynthError
from synth.dataset.atomic import TMP_SUFFIX, atomic_write_bytes

LOCK = ".synth.lock"
LEASE_SECONDS = 300.0
"""An object-store lease not renewed for this long belongs to a dead build and may be taken."""
RENEW_SECONDS = 30.0


def is_uri(location: str | Path) -> bool:
    return "://" in str(location)


@dataclass(frozen=True)
class Store:
    """location: what the user gave (a path or URI), for messages; filesystem and root:
    the pyarrow filesystem and the dataset's path in it."""

    location: str
    filesystem: pafs.FileSystem
    root: str

    @classmethod
    def open(cls, location: str | Path) -> Store:
        """The store at a local path or filesystem URI; SynthError for a URI pyarrow cannot open."""
        text = str(location)
        if not is_uri(text):
            return cls(text, pafs.LocalFileSystem(), str(Path(text).absolute()))
        try:
            filesystem, root = pafs.FileSystem.from_uri(text)
        except (OSError, pa.ArrowException, ValueError) as err:
            raise SynthError(f"cannot open {text}: {err}. Use a local path or a URI pyarrow knows "
                             "(s3://bucket/prefix, gs://bucket/prefix, hdfs://host/path)") from err
        return cls(text, filesystem, root.rstrip("/"))

    @property
    def is_local(self) -> bool:
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    def path(self, name: str) -> str:
        """The filesystem path of `name` (relative to the root)."""
        return f"{self.root}/{name}" if name else self.root

    def describe(self, name: str = "") -> str:
        """`name` as a user would write it (for messages)."""
        base = self.location.split("?", 1)[0].rstrip("/")
        return f"{base}/{name}" if name else base

    def make_root(self) -> None:
        self.filesystem.create_dir(self.root, recursive=True)

    def exists(self, name: str) -> bool:
        return self.filesystem.get_file_info(self.path(name)).type == pafs.FileType.File

    def names(self, folder: str = "") -> list[str]:
        """Names (relative to the root) of the files and folders directly in `folder`."""
        selector = pafs.FileSelector(self.path(folder), allow_not_found=True)
        prefix = f"{folder}/" if folder else ""
        return sorted(prefix + info.base_name for info in self.filesystem.get_file_info(selector))

    def is_dir(self, name: str) -> bool:
        return self.filesystem.get_file_info(self.path(name)).type == pafs.FileType.Directory

    def read_bytes(self, name: str) -> bytes:
        with self.filesystem.open_input_stream(self.path(name)) as handle:
            return handle.read()

    def sha256(self, name: str) -> str | None:
        """Hex sha256 of `name`, streamed; None if it does not exist."""
        if not self.exists(name):
            return None
        digest = hashlib.sha256()
        with self.filesystem.open_input_stream(self.path(name)) as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()

    def write_atomic(self, name: str, data: bytes) -> None:
        """Commit `data` under `name`: whole or not at all (see the module docstring)."""
        if self.is_local:
            path = Path(self.path(name))
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)
            return
        final = self.path(name)
        head, _, base = final.rpartition("/")
        tmp = f"{head}/.{base}.{uuid.uuid4().hex[:12]}{TMP_SUFFIX}"
        try:
            with self.filesystem.open_output_stream(tmp) as handle:
                handle.write(data)
            self.filesystem.move(tmp, final)
        except BaseException:
            try:
                self.filesystem.delete_file(tmp)
            except OSError:
                pass
            raise

    def delete(self, name: str) -> None:
        if self.is_dir(name):
            self.filesystem.delete_dir(self.path(name))
        elif self.exists(name):
            self.filesystem.delete_file(self.path(name))


@contextmanager
def exclusive(store: Store) -> Iterator[None]:
    """Hold the dataset for one build; SynthError if another build holds it."""
    if store.is_local:
        with _flock(store):
            yield
        return
    with _lease(store):
        yield


@contextmanager
def _flock(store: Store) -> Iterator[None]:
    handle = Path(store.path(LOCK)).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as err:
        handle.close()
        raise SynthError(f"another synth build is writing to {store.describe()}; wait for it to finish") from err
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _read_lease(store: Store) -> dict | None:
    try:
        lease = json.loads(store.read_bytes(LOCK))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError):
        return {"holder": "unreadable lease", "token": "", "renewed_at": 0.0}
    return lease if isinstance(lease, dict) else None


@contextmanager
def _lease(store: Store) -> Iterator[None]:
    """A lease object: {holder, token, renewed_at}. Object stores reached through pyarrow
    have no conditional put, so after writing its lease a build reads it back once a
    moment later and backs off if another build's token is there."""
    current = _read_lease(store)
    if current is not None and time.time() - float(current.get("renewed_at", 0.0)) < LEASE_SECONDS:
        age = time.time() - float(current["renewed_at"])
        raise SynthError(f"another synth build ({current.get('holder')}) holds {store.describe(LOCK)}, renewed "
                         f"{age:.0f} s ago; wait for it to finish, or delete that object if that build is dead")
    token = uuid.uuid4().hex
    holder = f"{socket.gethostname()}:{os.getpid()}"

    def renew() -> None:
        store.write_atomic(LOCK, json.dumps({"holder": holder, "token": token, "renewed_at": time.time()}).encode())

    renew()
    time.sleep(0.2)
    if (_read_lease(store) or {}).get("token") != token:
        raise SynthError(f"another synth build took {store.describe(LOCK)} at the same moment; wait for it to finish")
    stop = threading.Event()

    def keep_renewing() -> None:
        while not stop.wait(RENEW_SECONDS):
            try:
                renew()
            except OSError:
                continue  # retried on the next tick; the lease lasts LEASE_SECONDS

    thread = threading.Thread(target=keep_renewing, daemon=True, name="synth-lease")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if (_read_lease(store) or {}).get("token") == token:
            store.delete(LOCK)
