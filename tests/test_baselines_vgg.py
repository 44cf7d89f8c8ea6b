"""Baselines: loading VGG16 weights from a local torchvision-format state dict."""

from __future__ import annotations

import hashlib

import pytest
import torch
from baselines_fixtures import set_test_threads
from wmheval_baselines.models import FcnVgg
from wmheval_baselines.models.fcn_vgg import vgg16_features
from wmheval_baselines.vgg_weights import (
    VggWeightsError,
    apply_vgg16_features,
    load_vgg16_features,
)

set_test_threads()
CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)


def torchvision_like_state(seed: int = 3) -> dict[str, torch.Tensor]:
    """A state dict with torchvision VGG16's keys and shapes (features + classifier)."""
    torch.manual_seed(seed)
    state = {f"features.{k}": v for k, v in vgg16_features().state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(8, 4)  # shapes irrelevant: must be dropped
    state["classifier.0.bias"] = torch.zeros(8)
    state["classifier.6.weight"] = torch.zeros(10, 8)
    return state


def test_right_keys_load_and_classifier_is_dropped(tmp_path):
    state = torchvision_like_state()
    path = tmp_path / "vgg16.pth"
    torch.save(state, path)
    loaded = load_vgg16_features(path)
    expected = {f"features.{i}.{p}" for i in CONV_INDICES for p in ("weight", "bias")}
    assert set(loaded) == expected
    model = FcnVgg()
    digest, _ = apply_vgg16_features(model, path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    for index in CONV_INDICES:
        assert torch.equal(model.features[index].weight, state[f"features.{index}.weight"])
        assert torch.equal(model.features[index].bias, state[f"features.{index}.bias"])


def test_missing_key_is_a_clear_error(tmp_path):
    state = torchvision_like_state()
    del state["features.28.weight"]
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(VggWeightsError, match=r"bad\.pth.*missing keys.*features\.28\.weight"):
        load_vgg16_features(path)


def test_unexpected_feature_keys_vgg_bn_layout(tmp_path):
    state = torchvision_like_state()
    state["features.1.weight"] = torch.ones(64)  # a batch-norm layer: VGG16-BN, not VGG16
    path = tmp_path / "bn.pth"
    torch.save(state, path)
    with pytest.raises(VggWeightsError, match="unexpected VGG16 feature keys"):
        load_vgg16_features(path)


def test_wrong_shape_is_a_clear_error(tmp_path):
    state = torchvision_like_state()
    state["features.0.weight"] = torch.zeros(64, 1, 3, 3)
    path = tmp_path / "shape.pth"
    torch.save(state, path)
    with pytest.raises(VggWeightsError, match=r"wrong VGG16 tensor shapes: features\.0\.weight"):
        load_vgg16_features(path)


def test_unreadable_and_missing_files(tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file at all")
    with pytest.raises(VggWeightsError, match="cannot read"):
        load_vgg16_features(garbage)
    with pytest.raises(VggWeightsError, match="not found"):
        load_vgg16_features(tmp_path / "absent.pth")
    listed = tmp_path / "list.pth"
    torch.save([1, 2, 3], listed)
    with pytest.raises(VggWeightsError, match="not a state dict"):
        load_vgg16_features(listed)


def caffe_port(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same network as ``state`` re-expressed for Caffe inputs (BGR, 0..255 minus the
    Caffe means, no std): an exact conversion of the first convolution, so that a correct
    normalisation gives identical outputs."""
    from wmheval_baselines.models.fcn_vgg import CAFFE_MEAN_BGR, IMAGENET_MEAN, IMAGENET_STD

    weight, bias = state["features.0.weight"].double(), state["features.0.bias"].double()
    mean, std = torch.tensor(IMAGENET_MEAN).double(), torch.tensor(IMAGENET_STD).double()
    caffe_mean_rgb = torch.tensor(CAFFE_MEAN_BGR).double().flip(0)
    # x_tv[c] = (rgb[c] / 255 - mean[c]) / std[c]; rgb[c] = x_caffe_rgb[c] + caffe_mean_rgb[c]
    scaled = weight / (255.0 * std).view(1, 3, 1, 1)
    shift = (scaled * (caffe_mean_rgb / 1.0).view(1, 3, 1, 1)).sum(dim=(1, 2, 3)) - (
        weight * (mean / std).view(1, 3, 1, 1)).sum(dim=(1, 2, 3))
    ported = dict(state)
    ported["features.0.weight"] = scaled.flip(1).float()  # RGB -> BGR input channels
    ported["features.0.bias"] = (bias + shift).float()
    return ported


def trained_like_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """VGG16 weights whose first-layer biases are of the order of the pre-activations'
    spread for standardised inputs, as in a trained torchvision network."""
    state = torchvision_like_state(seed)
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(64, 3, 3, 3, generator=generator) * (2 / 27) ** 0.5
    state["features.0.weight"] = weight
    state["features.0.bias"] = torch.randn(64, generator=generator) * float(
        weight.pow(2).mean().sqrt()) * 27 ** 0.5
    return state


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_caffe_port_is_detected_and_normalised_like_caffe(tmp_path, seed):
    from wmheval_baselines.vgg_weights import detect_convention, input_scale

    original = trained_like_state(seed)
    ported = caffe_port(original)
    assert detect_convention(original) == "torchvision" and input_scale(original) < 3
    assert detect_convention(ported) == "caffe" and input_scale(ported) > 20
    paths = {}
    for name, state in (("tv", original), ("caffe", ported)):
        paths[name] = tmp_path / f"{name}.pth"
        torch.save(state, paths[name])
    torch.manual_seed(seed)
    tv_model = FcnVgg(k=4)
    heads = {k: v.clone() for k, v in tv_model.state_dict().items()
             if not k.startswith("features.")}
    caffe_model = FcnVgg(k=4)
    caffe_model.load_state_dict(tv_model.state_dict())
    assert apply_vgg16_features(tv_model, paths["tv"])[1] == "torchvision"
    assert apply_vgg16_features(caffe_model, paths["caffe"])[1] == "caffe"
    assert all(torch.equal(caffe_model.state_dict()[k], v) for k, v in heads.items())
    image = torch.rand(2, 3, 32, 32) * 255
    with torch.no_grad():
        # Equal up to the zero padding of the first convolution (zero means a different
        # colour in the two conventions), which touches only the image border.
        first = {}
        for name, model in (("tv", tv_model), ("caffe", caffe_model)):
            x = image.flip(1) if model.bgr else image
            first[name] = model.features[0]((x - model.mean) / model.std)
        assert torch.allclose(first["tv"][..., 1:-1, 1:-1], first["caffe"][..., 1:-1, 1:-1],
                              atol=1e-3)
        close = (tv_model(image) - caffe_model(image)).abs().max()
        # The old behaviour (torchvision normalisation for a Caffe file) is far off.
        caffe_model.set_convention("torchvision")
        wrong = (tv_model(image) - caffe_model(image)).abs().max()
        assert close < 0.02 and wrong > 50 * close


def test_scratch_vgg_keeps_activation_scale():
    # Regression: PyTorch's default init shrank activations ~37x by stage 5.
    torch.manual_seed(0)
    model = FcnVgg(k=4)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for index in range(30):
            x = model.features[index](x)
    ratio = float(x.pow(2).mean().sqrt())
    assert 0.2 < ratio < 5.0
