"""The measurement stack and the ridge it is fitted with."""
import numpy as np

from synth.train.ridge import RIDGES, Ridge, fit_ridge
from synth.train.stacking import MeasurementStack, fit_stack, stack_features


def _readings(rows: int, seed: int = 0):
    """Labels (N, 3) and two readings of them whose errors are independent and unlike in size."""
    rng = np.random.default_rng(seed)
    labels = rng.normal([0.9, 0.8, 1.0], 0.1, (rows, 3))
    heads = labels + rng.normal(0, 0.012, labels.shape)
    mesh = labels + rng.normal(0, 0.016, labels.shape) + 0.01  # biased too
    return heads, mesh, labels


def test_the_stack_beats_either_reading_on_new_rows():
    scale = np.full(3, 0.1)
    stack = fit_stack(*_readings(2000), scale)
    heads, mesh, labels = _readings(500, seed=1)
    errors = {name: np.abs(values - labels).mean() for name, values in
              (("heads", heads), ("mesh", mesh), ("stack", stack(heads, mesh)))}
    assert errors["stack"] < 0.9 * min(errors["heads"], errors["mesh"]), errors
    assert stack.rows == 2000 and stack.fit.strength in RIDGES


def test_a_missing_mesh_value_takes_the_heads_and_a_row_missing_a_label_is_left_out():
    heads, mesh, labels = _readings(400)
    mesh[::7, 2] = np.nan  # body fat outside the Navy equations' range
    labels[::5, 1] = np.nan
    stack = fit_stack(heads, mesh, labels, np.full(3, 0.1))
    features = stack_features(heads, mesh, np.full(3, 0.1))
    assert np.isfinite(features).all() and np.allclose(features[::7, 5], heads[::7, 2] / 0.1)
    assert np.isfinite(stack(heads, mesh)).all() and stack.rows == 320  # 80 rows lack a label


def test_a_stack_survives_its_dict_round_trip():
    stack = fit_stack(*_readings(300), np.full(3, 0.1))
    heads, mesh, _ = _readings(20, seed=2)
    again = MeasurementStack.from_dict(stack.to_dict())
    assert np.array_equal(again(heads, mesh), stack(heads, mesh)) and again.rows == stack.rows


def test_ridge_recovers_a_linear_map_and_picks_a_small_strength_for_it():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (1000, 4))
    y = x @ np.array([[1.0], [-2.0], [0.5], [0.0]]) + 3.0
    fit = fit_ridge(x, y)
    assert fit.strength == RIDGES[0] and np.allclose(fit(x), y, atol=0.01)
    assert isinstance(Ridge.from_dict(fit.to_dict()), Ridge)
