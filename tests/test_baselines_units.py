"""Baselines: networks, loss, data helpers, splits and white-matter post-processing."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skimage")

from baselines_fixtures import make_tiny_release, set_test_threads  # noqa: E402
from wmheval_baselines.data import (  # noqa: E402
    area_opening_residue,
    augment,
    find_subjects,
    minmax_within,
    pad_slices,
    requantise_8bit,
)
from wmheval_baselines.losses import balanced_cross_entropy, global_beta  # noqa: E402
from wmheval_baselines.models import FcnVgg, ResUNet, WmUNet  # noqa: E402
from wmheval_baselines.models.resunet import ResidualBlock  # noqa: E402
from wmheval_baselines.splits import parse_split, split_subjects  # noqa: E402
from wmheval_baselines.wm_mask import largest_component, refine_wm_mask  # noqa: E402

set_test_threads()


@pytest.mark.parametrize(("net", "channels"), [(ResUNet(4), 2), (WmUNet(4), 1)])
def test_unet_output_shape(net, channels):
    out = net(torch.zeros(3, channels, 48, 32))
    assert out.shape == (3, 2, 48, 32)


def test_fcn_vgg_any_input_size_and_side_layers():
    net = FcnVgg(k=16)
    assert net(torch.zeros(1, 3, 37, 50)).shape == (1, 2, 37, 50)
    assert [s.out_channels for s in net.specialised] == [16] * 5
    assert net.combine.in_channels == 80 and net.combine.kernel_size == (1, 1)


def test_residual_block_has_1x1_shortcut_and_adds():
    block = ResidualBlock(2, 5)
    assert block.shortcut.kernel_size == (1, 1)
    for p in block.body.parameters():
        torch.nn.init.zeros_(p)  # F(x) = 0 -> output = ReLU(shortcut(x))
    x = torch.randn(1, 2, 4, 4)
    assert torch.allclose(block(x), torch.relu(block.shortcut(x)))


def test_balanced_cross_entropy_hand_computed():
    # p(WMH) = 0.75 everywhere: logits (0, log 3). Labels: WMH, background, ignored.
    logits = torch.zeros(1, 2, 1, 3)
    logits[:, 1] = math.log(3.0)
    labels = torch.tensor([[[1, 0, 2]]])
    beta = 0.9
    expected = (beta * -math.log(0.75) + (1 - beta) * -math.log(0.25)) / 2
    assert balanced_cross_entropy(logits, labels, beta).item() == pytest.approx(expected)


def test_global_beta_is_mean_background_fraction():
    first = np.array([1, 0, 0, 0, 2])   # 3 background of 4 labelled
    second = np.array([1, 1, 0, 0])     # 2 of 4
    assert global_beta([first, second]) == pytest.approx((0.75 + 0.5) / 2)
    with pytest.raises(ValueError):
        global_beta([np.full(3, 2)])


def test_minmax_within_mask_hand_case():
    volume = np.array([0.0, 5.0, 10.0, 20.0])
    mask = np.array([0, 1, 1, 0])
    assert np.allclose(minmax_within(volume, mask), [0.0, 0.0, 1.0, 1.0])


def test_requantise_is_8bit_and_monotonic():
    volume = np.linspace(0, 1000, 2000).reshape(1, 40, 50)
    out = requantise_8bit(volume)
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    assert np.all(np.diff(out.ravel().astype(int)) >= 0)


def test_area_opening_residue_keeps_only_small_bright_spots():
    image = np.full((1, 20, 20), 10, np.uint8)
    image[0, 2:4, 2:4] = 200      # 4 pixels: below the 10-pixel area -> in the residue
    image[0, 10:15, 10:15] = 200  # 25 pixels: survives the opening -> not in the residue
    residue = area_opening_residue(image, spacing=(1.0, 1.0, 3.0), area_mm2=10)
    expected = np.zeros_like(image)
    expected[0, 2:4, 2:4] = 190
    assert np.array_equal(residue, expected)


def test_largest_component_and_dilation_hand_case():
    mask = np.zeros((3, 9, 9), bool)
    mask[1, 3:5, 3:5] = True  # 4 voxels: the largest component
    mask[2, 8, 8] = True      # 1 voxel, dropped
    expected_largest = mask.copy()
    expected_largest[2] = False
    assert np.array_equal(largest_component(mask), expected_largest)
    refined = refine_wm_mask(mask, spacing=(4.0, 4.0, 9.0), dilation_mm=4.0)  # radius 1 px
    expected = np.zeros_like(mask)
    expected[1, 3:5, 2:6] = True  # the 2x2 block grown by a cross in-plane: 12 voxels
    expected[1, 2:6, 3:5] = True
    assert np.array_equal(refined, expected) and refined.sum() == 12
    assert not refine_wm_mask(np.zeros((2, 4, 4), bool), (1.0, 1.0, 1.0)).any()


def test_augment_without_rotation_flips_images_and_labels_together():
    x = torch.rand(6, 2, 8, 10)
    y = torch.randint(0, 3, (6, 8, 10), dtype=torch.uint8)
    ax, ay = augment(x, y, torch.Generator().manual_seed(1), max_degrees=0.0)

    for i in range(6):
        same = torch.allclose(ax[i], x[i], atol=1e-5) and torch.equal(ay[i], y[i])
        mirror = (torch.allclose(ax[i], x[i].flip(-1), atol=1e-5)
                  and torch.equal(ay[i], y[i].flip(-1)))
        assert same or mirror
    assert ay.dtype == torch.uint8


def test_augment_rotation_keeps_label_values():
    x = torch.rand(4, 1, 16, 16)
    y = torch.randint(0, 3, (4, 16, 16), dtype=torch.uint8)
    _, ay = augment(x, y, torch.Generator().manual_seed(0), max_degrees=30.0)
    assert set(ay.unique().tolist()) <= {0, 1, 2}


def test_pad_slices_pads_bottom_right():
    a = np.ones((2, 1, 3, 5))
    padded = pad_slices(a, 16, 16)
    assert padded.shape == (2, 1, 16, 16) and padded.sum() == a.sum()
    assert padded[..., :3, :5].all()


def test_find_subjects_and_splits(tmp_path):
    make_tiny_release(tmp_path)
    subjects = find_subjects(tmp_path)
    by_id = {s.id: s for s in subjects}
    assert set(by_id) == {"0", "2", "50", "52", "100", "101", "1", "140", "160"}
    assert by_id["160"].scanner == "amsterdam_philips_3t" and by_id["160"].split == "test"
    assert by_id["101"].scanner == "amsterdam_ge_3t"
    train, predict = split_subjects(subjects, "challenge")
    assert {s.id for s in train} == {"0", "2", "50", "52", "100", "101"}
    assert {s.id for s in predict} == {"1", "140", "160"}
    train, predict = split_subjects(subjects, "loso:singapore_siemens_3t")
    assert {s.id for s in train} == {"0", "2", "100", "101"}
    assert {s.id for s in predict} == {"50", "52"}
    for bad in ("loso:amsterdam_ge_1p5t", "random", "loso:"):
        with pytest.raises(ValueError, match="split"):
            parse_split(bad)


def test_find_subjects_errors(tmp_path):
    from wmheval_baselines.data import DataError

    with pytest.raises(DataError, match="not found"):
        find_subjects(tmp_path / "nope")
    with pytest.raises(DataError, match="no subject"):
        find_subjects(tmp_path)
