"""Synthetic plate characters: determinism, skew, balance, shapes."""

from __future__ import annotations

import numpy as np
import pytest

from dqfl.data import (
    DataConfig,
    class_names,
    held_out_arrays,
    load_partition,
    load_test_set,
    partition_arrays,
    vehicle_region,
)
from dqfl.data.partition import total_variation_from_uniform
from dqfl.errors import DqflError


def small(**kw) -> DataConfig:
    base = dict(samples_per_vehicle=24, test_per_class=4, n_regions=2, cache_dir="")
    return DataConfig(**{**base, **kw})


def test_same_seed_same_arrays_different_seed_different():
    x1, y1 = partition_arrays(small(seed=3), 1)
    x2, y2 = partition_arrays(small(seed=3), 1)
    x3, _ = partition_arrays(small(seed=4), 1)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, x3)


def test_vehicles_differ_from_each_other():
    x0, _ = partition_arrays(small(), 0)
    x1, _ = partition_arrays(small(), 1)
    assert not np.array_equal(x0, x1)


def test_vehicle_data_does_not_depend_on_fleet_size():
    x_a, y_a = partition_arrays(small(n_vehicles=3), 2)
    x_b, y_b = partition_arrays(small(n_vehicles=500), 2)
    assert np.array_equal(x_a, x_b) and np.array_equal(y_a, y_b)


def test_tensor_shapes_dtypes_and_range():
    import torch

    x, y = load_partition(small(), 0)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.shape == (24, 256) and y.shape == (24,)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert int(y.min()) >= 0 and int(y.max()) < 10
    # Each image spans the range (per-image contrast stretch) and is not constant.
    assert np.allclose(x.numpy().max(axis=1), 1.0)


def test_character_is_bright_on_dark_background():
    x, _, _ = held_out_arrays(small(test_per_class=6))
    img = x.reshape(-1, 16, 16)
    border = np.concatenate([img[:, 0], img[:, -1], img[:, :, 0], img[:, :, -1]], axis=1)
    centre = img[:, 4:12, 4:12]
    assert border.mean() < centre.mean()


def test_image_size_8_path():
    x, y = partition_arrays(small(image_size=8), 0)
    assert x.shape == (24, 64) and x.dtype == np.float32


def test_plate_alphabet_has_33_classes_without_i_o_q():
    names = class_names(DataConfig(alphabet="plate"))
    assert len(names) == 33 and len(set(names)) == 33
    assert not {"I", "O", "Q"} & set(names)
    assert class_names(DataConfig()) == [str(d) for d in range(10)]
    x, y, _ = held_out_arrays(small(alphabet="plate", test_per_class=2))
    assert sorted(set(y.tolist())) == list(range(33))


def test_test_set_balanced_over_classes_and_regions():
    cfg = small(n_regions=3, test_per_class=7)
    x, y, region = load_test_set(cfg, return_regions=True)
    y, region = y.numpy(), region.numpy()
    assert x.shape == (70, 256)
    assert np.all(np.bincount(y, minlength=10) == 7)
    per_region = np.bincount(region, minlength=3)
    assert per_region.max() - per_region.min() <= 1
    for c in range(10):  # each class spread over the regions within one sample
        counts = np.bincount(region[y == c], minlength=3)
        assert counts.max() - counts.min() <= 1


def test_test_set_independent_of_training_fields():
    a = held_out_arrays(small(samples_per_vehicle=5, dirichlet_alpha=0.1, n_vehicles=2))
    b = held_out_arrays(small(samples_per_vehicle=50, dirichlet_alpha=9.0, n_vehicles=40))
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


def test_label_skew_grows_as_alpha_shrinks():
    def mean_tv(alpha: float) -> float:
        cfg = small(dirichlet_alpha=alpha, samples_per_vehicle=60, n_vehicles=6)
        return float(
            np.mean(
                [total_variation_from_uniform(partition_arrays(cfg, v)[1], 10) for v in range(6)]
            )
        )

    skewed, iid = mean_tv(0.1), mean_tv(100.0)
    assert skewed > iid + 0.3, (skewed, iid)


def test_vehicle_region_assignment():
    cfg = DataConfig(n_regions=4)
    assert [vehicle_region(cfg, v) for v in range(6)] == [0, 1, 2, 3, 0, 1]
    rnd = DataConfig(n_regions=4, region_assignment="random", n_vehicles=200)
    regions = [vehicle_region(rnd, v) for v in range(200)]
    assert set(regions) == {0, 1, 2, 3}
    assert regions == [vehicle_region(rnd, v) for v in range(200)]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seed", -1),
        ("n_vehicles", 0),
        ("samples_per_vehicle", 0),
        ("alphabet", "greek"),
        ("image_size", 1),
        ("n_regions", 0),
        ("dirichlet_alpha", 0.0),
        ("dirichlet_alpha", float("nan")),
        ("test_per_class", 0),
        ("region_assignment", "zigzag"),
        ("difficulty", -0.5),
        ("font_dir", ""),
        ("image_size", 16.0),
    ],
)
def test_validate_names_the_field(field, value):
    with pytest.raises(DqflError, match=rf"^data\.{field} must be"):
        DataConfig(**{field: value}).validate()


def test_defaults_validate_and_bad_vehicle_id():
    DataConfig().validate()
    with pytest.raises(DqflError, match="vehicle id"):
        partition_arrays(small(n_vehicles=2), 2)


def test_user_font_dir(tmp_path):
    import shutil

    from dqfl.data.fonts import builtin_fonts

    with pytest.raises(DqflError, match="font_dir"):
        partition_arrays(small(font_dir=str(tmp_path / "nope")), 0)
    with pytest.raises(DqflError, match="no font files"):
        partition_arrays(small(font_dir=str(tmp_path)), 0)
    shutil.copy(builtin_fonts()["serif"].path, tmp_path / "a.ttf")
    x, _ = partition_arrays(small(font_dir=str(tmp_path)), 0)
    assert not np.array_equal(x, partition_arrays(small(), 0)[0])
