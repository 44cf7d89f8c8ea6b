"""Baselines: networks, loss, data helpers, splits and white-matter post-processing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import skimage  # noqa: F401  (the baselines extra: a broken install fails)
import torch
from baselines_fixtures import make_tiny_release, set_test_threads
from hypothesis import given, settings
from hypothesis import strategies as st
from wmheval_baselines.data import (
    area_opening_residue,
    augment,
    find_subjects,
    minmax_within,
    pad_slices,
    scale_0_255,
)
from wmheval_baselines.losses import balanced_cross_entropy, global_beta
from wmheval_baselines.models import FcnVgg, ResUNet, WmUNet
from wmheval_baselines.models.resunet import ResidualBlock
from wmheval_baselines.splits import parse_split, split_subjects
from wmheval_baselines.wm_mask import (
    MIN_COMPONENT_FRACTION,
    main_components,
    refine_wm_mask,
)

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


@given(lesion_fraction=st.floats(0.001, 0.03), contrast=st.floats(1.3, 2.2),
       scale=st.floats(50, 5000), seed=st.integers(0, 100))
@settings(max_examples=25, deadline=None)
def test_fcn_scaling_keeps_lesion_contrast(lesion_fraction, contrast, scale, seed):
    # Regression: the old 8-bit requantisation at the 99.9th percentile saturated lesions
    # (median 255). Lesions brighter than the brain keep their contrast, unrounded.
    rng = np.random.default_rng(seed)
    brain = rng.normal(1.0, 0.08, 20_000).clip(0.5)
    lesions = rng.random(brain.size) < lesion_fraction
    volume = np.concatenate([np.zeros(5000), np.where(lesions, brain * contrast, brain)])
    out = scale_0_255(volume * scale)
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 255
    lesion_values = out[5000:][lesions]
    assert np.median(lesion_values) < 250
    ratio = np.median(lesion_values) / np.median(out[5000:][~lesions])
    assert ratio == pytest.approx(np.median((brain * contrast)[lesions])
                                  / np.median(brain[~lesions]), rel=1e-4)
    assert np.all(np.diff(out[np.argsort(volume)]) >= 0)  # monotonic


def test_area_opening_residue_keeps_only_small_bright_spots():
    image = np.full((1, 20, 20), 10, np.float32)
    image[0, 2:4, 2:4] = 200      # 4 pixels: below the 10-pixel area -> in the residue
    image[0, 10:15, 10:15] = 200  # 25 pixels: survives the opening -> not in the residue
    residue = area_opening_residue(image, spacing=(1.0, 1.0, 3.0), area_mm2=10)
    expected = np.zeros_like(image)
    expected[0, 2:4, 2:4] = 190
    assert np.array_equal(residue, expected)


def test_area_opening_in_processes_matches_serial():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (6, 24, 24)).astype(np.float32)
    serial = area_opening_residue(image, (1.0, 1.0, 3.0), 8.0, jobs=1)
    parallel = area_opening_residue(image, (1.0, 1.0, 3.0), 8.0, jobs=2)
    assert np.array_equal(serial, parallel) and serial.any()


def test_main_components_and_dilation_hand_case():
    mask = np.zeros((3, 9, 9), bool)
    mask[1, 2:6, 2:6] = True  # 16 voxels: the largest component
    mask[2, 8, 8] = True      # 1 voxel, under a tenth of it: dropped
    expected_main = mask.copy()
    expected_main[2] = False
    assert np.array_equal(main_components(mask), expected_main)
    refined = refine_wm_mask(mask, spacing=(4.0, 4.0, 9.0), dilation_mm=4.0)  # radius 1 px
    expected = np.zeros_like(mask)
    expected[1, 2:6, 1:7] = True  # the 4x4 block grown by a cross in-plane: 32 voxels
    expected[1, 1:7, 2:6] = True
    assert np.array_equal(refined, expected) and refined.sum() == 32
    assert not refine_wm_mask(np.zeros((2, 4, 4), bool), (1.0, 1.0, 1.0)).any()


def oracle_main_components(mask: np.ndarray, min_fraction: float) -> np.ndarray:
    """Literal flood fill over the 26 neighbours, then the size rule."""
    seen = np.zeros(mask.shape, bool)
    components = []
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        stack, members = [start], []
        seen[start] = True
        while stack:
            voxel = stack.pop()
            members.append(voxel)
            for dz in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        n = (voxel[0] + dz, voxel[1] + dy, voxel[2] + dx)
                        if all(0 <= n[i] < mask.shape[i] for i in range(3)) and mask[n] \
                                and not seen[n]:
                            seen[n] = True
                            stack.append(n)
        components.append(members)
    out = np.zeros(mask.shape, bool)
    largest = max((len(c) for c in components), default=0)
    for members in components:
        if len(members) >= min_fraction * largest:
            for voxel in members:
                out[voxel] = True
    return out


@given(seed=st.integers(0, 10_000), density=st.floats(0.05, 0.4),
       min_fraction=st.sampled_from([MIN_COMPONENT_FRACTION, 0.3, 1.0]))
@settings(max_examples=40, deadline=None)
def test_main_components_match_a_flood_fill_oracle(seed, density, min_fraction):
    mask = np.random.default_rng(seed).random((4, 7, 8)) < density
    assert np.array_equal(main_components(mask, min_fraction),
                          oracle_main_components(mask, min_fraction))


def test_a_white_matter_mask_split_in_two_hemispheres_keeps_both():
    """Regression: the largest component alone dropped a hemisphere when the prediction
    missed the corpus callosum (a test subject lost 55 % of its lesion voxels)."""
    mask = np.zeros((6, 20, 30), bool)
    mask[1:5, 4:16, 2:13] = True   # left hemisphere, 528 voxels
    mask[1:5, 4:16, 17:27] = True  # right hemisphere, 480 voxels (no bridge)
    mask[0, 0, 0] = True           # a spurious island
    refined = refine_wm_mask(mask, radius_px=0)
    assert refined[1:5, 4:16, 2:13].all() and refined[1:5, 4:16, 17:27].all()
    assert not refined[0, 0, 0]


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


def weighted_loss_minimiser(posterior: float, beta: float) -> float:
    """Oracle: the output q minimising the expected class-balanced loss
    -(beta p log q + (1 - beta)(1 - p) log(1 - q)), by a dense grid search."""
    q = np.linspace(1e-6, 1 - 1e-6, 200_001)
    loss = -(beta * posterior * np.log(q) + (1 - beta) * (1 - posterior) * np.log(1 - q))
    return float(q[np.argmin(loss)])


@given(posterior=st.floats(0.01, 0.99), beta=st.floats(0.5, 0.995))
@settings(max_examples=60, deadline=None)
def test_balanced_loss_output_and_decision_threshold(posterior, beta):
    from wmheval_baselines.inference import decision_threshold, weighted_output

    q = weighted_loss_minimiser(posterior, beta)
    assert weighted_output(posterior, beta) == pytest.approx(q, abs=2e-5)
    # Reading the output at q >= beta is reading the posterior at p >= 0.5 ...
    if abs(posterior - 0.5) > 1e-3:
        assert (q >= decision_threshold(beta)) == (posterior >= 0.5)
    # ... while q >= 0.5 (the old threshold) means only p >= 1 - beta.
    if abs(posterior - (1 - beta)) > 1e-3:
        assert (q >= 0.5) == (posterior >= 1 - beta)


def test_decision_threshold_without_class_balancing_is_half():
    from wmheval_baselines.inference import decision_threshold

    assert decision_threshold(None) == 0.5


def test_paper_recipes_and_default_beta():
    from wmheval_baselines.recipes import RECIPES
    from wmheval_baselines.train import TrainConfig, config_from_recipe

    assert TrainConfig().beta == 0.975  # the paper's, not computed over whole volumes
    paper = config_from_recipe("resunet", "paper")
    # Paper 000: ~50k augmented samples x 4 epochs; 003: 150k iterations x 20 images.
    assert (paper.samples, paper.batch_size, paper.beta) == (4 * 50_000, 16, 0.975)
    vgg = config_from_recipe("fcn-vgg", "paper")
    assert (vgg.samples, vgg.batch_size, vgg.weight_decay) == (150_000 * 20, 20, 5e-4)
    assert not vgg.balanced and config_from_recipe("flair-fcn", "paper").balanced
    demo = config_from_recipe("resunet", "demo", samples=123, beta=None)
    assert demo.samples == 123 and demo.beta == RECIPES["demo"]["resunet"]["beta"]
    with pytest.raises(ValueError, match="recipe"):
        config_from_recipe("resunet", "fast")
    with pytest.raises(ValueError, match="beta"):
        TrainConfig(beta=1.5)


def test_fcn_vgg_optimiser_has_weight_decay():
    from wmheval_baselines.train import build_models, config_from_recipe, make_optimiser

    config = config_from_recipe("fcn-vgg", "paper")
    optimiser = make_optimiser(config, build_models(config)["wmh"])
    assert optimiser.param_groups[0]["weight_decay"] == 5e-4


def test_the_demo_fcn_vgg_trains_from_scratch_without_weight_decay():
    """From scratch under Adam the paper's 5e-4 held the loss (Dice 0.145 against 0.613 at
    64,000 samples, baselines/README); the paper recipe keeps it for fine-tuning."""
    from wmheval_baselines.train import build_models, config_from_recipe, make_optimiser

    demo = config_from_recipe("fcn-vgg", "demo")
    assert demo.vgg_width == 16 and demo.vgg_weights is None
    optimiser = make_optimiser(demo, build_models(demo)["wmh"])
    assert all(group["weight_decay"] == 0.0 for group in optimiser.param_groups)
    assert config_from_recipe("fcn-vgg", "paper").weight_decay == 5e-4


@pytest.mark.parametrize(("capability", "expected"), [
    ((7, 0), "float16"), ((7, 5), "float16"), ((8, 0), "bfloat16"), ((8, 9), "bfloat16"),
    ((9, 0), "bfloat16"), (None, None)])
def test_amp_dtype_bf16_only_where_native(capability, expected):
    from wmheval_baselines.inference import amp_dtype

    dtype = amp_dtype(capability)
    assert (None if dtype is None else str(dtype).removeprefix("torch.")) == expected


def test_amp_is_off_on_the_cpu():
    from wmheval_baselines.inference import device_amp_dtype

    assert device_amp_dtype(torch.device("cpu"), True) is None


def test_wm_training_label_includes_the_lesions(tmp_path):
    import SimpleITK as sitk
    from wmheval_baselines.data import load_volume

    make_tiny_release(tmp_path)
    subject = next(s for s in find_subjects(tmp_path) if s.id == "0")
    wm_path = subject.path / "synth" / "wm_mask.nii.gz"
    wmh = sitk.GetArrayFromImage(sitk.ReadImage(str(subject.wmh_path)))
    image = sitk.ReadImage(str(wm_path))
    carved = sitk.GetArrayFromImage(image)
    carved[wmh == 1] = 0  # an FSL-style mask that calls the lesions grey matter
    written = sitk.GetImageFromArray(carved)
    written.CopyInformation(image)
    sitk.WriteImage(written, str(wm_path))
    volume = load_volume(subject, need_wm=True)
    assert (wmh == 1).any() and (volume.wmh == 1).any()
    # Canonical orientation flips the fixture's x axis (direction -1): compare flipped.
    carved, wmh = carved[..., ::-1], wmh[..., ::-1]
    assert np.array_equal(volume.wmh, wmh)
    assert np.array_equal(volume.wm.astype(bool), (carved > 0) | (wmh == 1))
    raw = load_volume(subject, need_wm=True, lesions_in_wm=False)
    assert np.array_equal(raw.wm.astype(bool), carved > 0)


def test_loader_order_depends_only_on_seed_phase_and_pass_and_resumes_mid_pass():
    from wmheval_baselines.data import SliceDataset, make_loader

    dataset = SliceDataset([np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)],
                           [np.zeros((10, 1, 1))], multiple=1)
    cpu = torch.device("cpu")

    def order(**kwargs):
        loader, first = make_loader(dataset, 3, seed=1, epoch=2, device=cpu, **kwargs)
        return first, [int(v) for x, _ in loader for v in x.flatten()]

    first, full = order()
    assert first == 0 and sorted(full) == list(range(10))
    assert order() == (0, full)
    assert order(offset=6) == (2, full[6:])
    assert order(offset=3, count=4) == (1, full[3:7])
    assert order(phase=1)[1] != full


@pytest.mark.parametrize("net", [ResUNet(4), WmUNet(4), FcnVgg(k=4)])
def test_channels_last_models_predict_the_same_probabilities(net):
    """The networks run channels-last (NHWC) on every device (CPU: ~2.5x faster); the layout
    must not change what they predict, and inputs follow the weights' layout."""
    from wmheval_baselines.inference import predict_probabilities, uses_channels_last

    channels = {ResUNet: 2, WmUNet: 1, FcnVgg: 3}[type(net)]
    inputs = np.random.default_rng(0).uniform(0, 1, (5, channels, 40, 36)).astype(np.float32)
    if isinstance(net, FcnVgg):
        inputs *= 255
    assert not uses_channels_last(net)
    plain = predict_probabilities(net, inputs, torch.device("cpu"), batch_size=2)
    net.to(memory_format=torch.channels_last)
    assert uses_channels_last(net)
    nhwc = predict_probabilities(net, inputs, torch.device("cpu"), batch_size=2)
    assert nhwc.shape == plain.shape == (5, 40, 36)
    np.testing.assert_allclose(nhwc, plain, atol=1e-5)


@pytest.mark.parametrize("net", [ResUNet(4), WmUNet(4)])
def test_cpu_bf16_inference_runs_in_bf16_and_stays_close_to_fp32(net):
    """--cpu-bf16 (opt-in) runs the convolutions in bf16 autocast on the CPU: float32
    probabilities close to fp32 ones (bf16 keeps ~3 significant digits), but not equal;
    without it nothing runs in bf16."""
    from wmheval_baselines.inference import cpu_bf16_supported, predict_probabilities

    if not cpu_bf16_supported():
        pytest.skip("this CPU has no oneDNN bf16")
    channels = 2 if isinstance(net, ResUNet) else 1
    inputs = np.random.default_rng(1).uniform(0, 1, (4, channels, 32, 32)).astype(np.float32)
    net.to(memory_format=torch.channels_last)
    seen: list[torch.dtype] = []
    first_conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    hook = first_conv.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    try:
        fp32 = predict_probabilities(net, inputs, torch.device("cpu"), batch_size=2)
        assert set(seen) == {torch.float32}
        seen.clear()
        bf16 = predict_probabilities(net, inputs, torch.device("cpu"), batch_size=2,
                                     cpu_bf16=True)
        assert set(seen) == {torch.bfloat16}
    finally:
        hook.remove()
    assert bf16.dtype == np.float32 and bf16.shape == fp32.shape == (4, 32, 32)
    assert np.all((bf16 >= 0) & (bf16 <= 1))
    np.testing.assert_allclose(bf16, fp32, atol=0.03)
    assert not np.array_equal(bf16, fp32)
