"""Baselines: loading VGG16 weights from a local torchvision-format state dict."""

from __future__ import annotations

import hashlib

import pytest

torch = pytest.importorskip("torch")

from baselines_fixtures import set_test_threads  # noqa: E402
from wmheval_baselines.models import FcnVgg  # noqa: E402
from wmheval_baselines.models.fcn_vgg import vgg16_features  # noqa: E402
from wmheval_baselines.vgg_weights import (  # noqa: E402
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
    digest = apply_vgg16_features(model, path)
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
