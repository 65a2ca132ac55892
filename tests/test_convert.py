"""`synth models convert`: chumpy pickles -> npz without chumpy, and its errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from body_models import BodyModelSource, SynthError, create
from body_models.convert import convert_model_file, load_model_pickle
from smpl_fixture import smpl_arrays, write_chumpy_pickle
from synth.cli import main


def test_chumpy_pickle_converts_to_npz_with_same_vertices(tmp_path, smpl_model, anny_source):
    src = write_chumpy_pickle(tmp_path / "basicmodel.pkl", smpl_arrays())
    dst = tmp_path / "out" / "smpl" / "SMPL_NEUTRAL.npz"
    result = CliRunner().invoke(main, ["models", "convert", str(src), str(dst)])
    assert result.exit_code == 0, result.output
    converted = create("smpl", BodyModelSource(anny_cache=anny_source.anny_cache, model_path=tmp_path / "out"))
    assert converted.model_file == dst
    shapes = torch.from_numpy(np.random.default_rng(0).normal(0, 1, (4, 10)).astype(np.float32))
    poses = torch.from_numpy(np.random.default_rng(1).normal(0, 0.3, (4, 72)).astype(np.float32))
    expected = smpl_model.forward(shapes, poses).vertices
    assert torch.allclose(converted.forward(shapes, poses).vertices, expected, atol=1e-6, rtol=0)


def test_chumpy_arrays_are_recovered_exactly(tmp_path):
    arrays = smpl_arrays()
    loaded = load_model_pickle(write_chumpy_pickle(tmp_path / "m.pkl", arrays))
    for key in ("v_template", "shapedirs", "J_regressor", "weights"):
        assert np.array_equal(loaded[key], arrays[key])


@pytest.mark.parametrize("content, expected", [
    (b"\x89PNG\r\n\x1a\n not a pickle", "not a readable model pickle"),
    (None, "not a readable model pickle"),  # truncated
])
def test_bad_pickles_get_one_clear_line(tmp_path, content, expected):
    src = tmp_path / "bad.pkl"
    if content is None:
        good = write_chumpy_pickle(tmp_path / "good.pkl", smpl_arrays())
        content = good.read_bytes()[:5000]
    src.write_bytes(content)
    result = CliRunner().invoke(main, ["models", "convert", str(src), str(tmp_path / "x.npz")])
    assert result.exit_code == 1
    assert expected in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.npz").exists()


def test_wrong_file_types_are_refused(tmp_path):
    text = tmp_path / "model.txt"
    text.write_text("hello")
    with pytest.raises(SynthError, match="unknown model file type"):
        convert_model_file(text, tmp_path / "x.npz")
    with pytest.raises(SynthError, match="not found"):
        convert_model_file(tmp_path / "absent.pkl", tmp_path / "x.npz")
    with pytest.raises(SynthError, match="lacks"):
        np.savez(tmp_path / "partial.npz", v_template=np.zeros((3, 3)))
        convert_model_file(tmp_path / "partial.npz", tmp_path / "x.npz")
