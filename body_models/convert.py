"""Read SMPL-family model pickles without chumpy, and write them as plain `.npz`.

Official SMPL `.pkl` files were written by Python 2 and hold chumpy `Ch` objects
(plus a scipy sparse `J_regressor`). chumpy does not import on numpy 2, so we
unpickle with stand-in classes for every chumpy type and keep the arrays they carry.
"""
from __future__ import annotations

import hashlib
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from body_models.errors import SynthError

SMPL_REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
"""Arrays every SMPL-family file must hold."""

_MODEL_SITES = "https://smpl.is.tue.mpg.de, https://mano.is.tue.mpg.de or https://smpl-x.is.tue.mpg.de"


class _ChumpyStandIn:
    """Takes the pickled state of any chumpy object; `array` recovers its value."""

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def array(self) -> np.ndarray:
        state = self.state if isinstance(self.state, dict) else {}
        if "x" in state:
            return np.asarray(_plain(state["x"]))
        if "a" in state:  # chumpy.reordering ops keep their operand in 'a'
            return np.asarray(_plain(state["a"]))
        raise SynthError("A chumpy object in this pickle holds no array ('x'); the file is not a "
                         "SMPL-family model this converter understands.")


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] == "chumpy":
            return _ChumpyStandIn
        return super().find_class(module, name)


def _plain(value: Any) -> Any:
    """Turn chumpy stand-ins and scipy sparse matrices into numpy arrays."""
    if isinstance(value, _ChumpyStandIn):
        return value.array()
    if hasattr(value, "toarray"):
        return value.toarray()
    return value


def load_model_pickle(path: Path) -> dict[str, np.ndarray]:
    """Arrays of a SMPL-family `.pkl` (chumpy or plain), as a dict of numpy arrays.

    Raises SynthError naming the file for a missing file, a file that is not a
    pickle, a truncated or corrupt pickle, or one that lacks SMPL_REQUIRED_KEYS.
    """
    path = Path(path)
    if not path.is_file():
        raise SynthError(f"Model file not found: {path}")
    try:
        with path.open("rb") as handle:
            raw = _Unpickler(handle, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            ImportError, IndexError, KeyError) as err:
        raise SynthError(f"{path} is not a readable model pickle ({type(err).__name__}: {err}). "
                         f"Download the file again from {_MODEL_SITES}.") from err
    if not isinstance(raw, dict):
        raise SynthError(f"{path} holds a {type(raw).__name__}, not the dict of arrays a SMPL-family "
                         "model file holds.")
    return _check_arrays({k: _plain(v) for k, v in raw.items()}, path)


def load_model_npz(path: Path) -> dict[str, np.ndarray]:
    """Arrays of a SMPL-family `.npz`; SynthError for a missing, corrupt or incomplete file."""
    path = Path(path)
    if not path.is_file():
        raise SynthError(f"Model file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if _loads_without_pickle(data, k)}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise SynthError(f"{path} is not a readable .npz model file ({err}). "
                         "Convert an official .pkl with `synth models convert SRC.pkl DST.npz`.") from err
    return _check_arrays(arrays, path)


def _loads_without_pickle(data: Any, key: str) -> bool:
    """Whether `key` of an open npz holds a plain array (object arrays are skipped)."""
    try:
        data[key]
    except ValueError:
        return False
    return True


def load_model_file(path: Path) -> dict[str, np.ndarray]:
    """Arrays of a `.pkl` or `.npz` SMPL-family model file."""
    path = Path(path)
    if path.suffix == ".npz":
        return load_model_npz(path)
    if path.suffix == ".pkl":
        return load_model_pickle(path)
    raise SynthError(f"{path}: unknown model file type '{path.suffix}'; expected .pkl or .npz.")


def _check_arrays(arrays: dict[str, Any], path: Path) -> dict[str, np.ndarray]:
    missing = [k for k in SMPL_REQUIRED_KEYS if k not in arrays]
    if missing:
        raise SynthError(f"{path} lacks {', '.join(missing)}: it is not a SMPL/SMPL-H/SMPL-X model file.")
    return {k: v for k, v in arrays.items() if isinstance(v, np.ndarray) or np.isscalar(v)}


def convert_model_file(src: Path, dst: Path) -> str:
    """Write the arrays of `src` (.pkl or .npz) to `dst` (.npz), atomically.

    Returns the sha256 of the written file. Float arrays are stored as float64 so
    the converted model reproduces the original's vertices exactly.
    """
    dst = Path(dst)
    if dst.suffix != ".npz":
        raise SynthError(f"Destination {dst} must end in .npz.")
    arrays = load_model_file(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    with tmp.open("wb") as handle:
        np.savez(handle, **arrays)
    tmp.replace(dst)
    return hashlib.sha256(dst.read_bytes()).hexdigest()
