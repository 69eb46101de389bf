"""AdaIN and its statistics, each checked against its formula."""

from __future__ import annotations

import pytest
import torch

from core.adain import (
    EPS,
    FeatureStats,
    adain_with_stats,
    adaptive_instance_normalization,
    blend,
    calc_mean_std,
    masked_adain,
    masked_mean_std,
    pool_stats,
)


def features(shape=(2, 5, 6, 7), seed=0, scale=1.0, shift=0.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=generator, dtype=torch.float64) * scale + shift


def test_calc_mean_std_matches_formula():
    x = features()
    stats = calc_mean_std(x)
    n, c = x.shape[:2]
    assert stats.mean.shape == (n, c, 1, 1) and stats.std.shape == (n, c, 1, 1)
    for i in range(n):
        for j in range(c):
            values = x[i, j].flatten()
            mean = values.sum() / values.numel()
            var = ((values - mean) ** 2).sum() / values.numel()  # biased, as in AdaIN
            assert stats.mean[i, j, 0, 0] == pytest.approx(float(mean), abs=1e-12)
            assert stats.std[i, j, 0, 0] == pytest.approx(float((var + EPS).sqrt()), abs=1e-12)


@pytest.mark.parametrize("shape", [(5, 6, 7), (1, 2, 3, 4, 5)])
def test_calc_mean_std_needs_4d(shape):
    with pytest.raises(ValueError):
        calc_mean_std(torch.zeros(shape))


def test_adain_output_has_the_style_statistics():
    content = features(seed=1, scale=3.0, shift=-2.0)
    style = features((2, 5, 9, 4), seed=2, scale=0.5, shift=4.0)
    out = adaptive_instance_normalization(content, style)
    assert out.shape == content.shape
    got, want = calc_mean_std(out), calc_mean_std(style)
    assert torch.allclose(got.mean, want.mean, atol=1e-9)
    assert torch.allclose(got.std, want.std, atol=1e-5)


def test_adain_keeps_the_content_structure():
    content = features(seed=3)
    style = features(seed=4, scale=2.0, shift=1.0)
    out = adaptive_instance_normalization(content, style)
    # Per channel the output is an increasing affine function of the content.
    flat_c, flat_o = content.flatten(2), out.flatten(2)
    assert torch.equal(flat_c.argsort(dim=2), flat_o.argsort(dim=2))


def test_adain_rejects_mismatched_channels():
    with pytest.raises(ValueError):
        adaptive_instance_normalization(features((1, 4, 5, 5)), features((1, 3, 5, 5)))
    with pytest.raises(ValueError):
        adaptive_instance_normalization(features((1, 4, 5, 5)), features((4, 5, 5)))


def test_blend_zero_is_identity_and_one_is_adain():
    content = features(seed=5)
    stylised = adaptive_instance_normalization(content, features(seed=6, scale=2.0))
    assert blend(stylised, content, 0.0) is content
    assert torch.equal(blend(stylised, content, 1.0), stylised)
    half = blend(stylised, content, 0.25)
    assert torch.allclose(half, 0.25 * stylised + 0.75 * content)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError):
            blend(stylised, content, bad)


def test_blend_with_a_strength_map_varies_over_the_image():
    content = features((1, 4, 6, 8), seed=5)
    stylised = adaptive_instance_normalization(content, features((1, 4, 6, 8), seed=6, scale=2.0))
    strength = torch.zeros(1, 1, 6, 8)
    strength[..., 4:] = 1.0  # stylise the right half only
    out = blend(stylised, content, strength)
    assert torch.equal(out[..., :4], content[..., :4]) and torch.equal(out[..., 4:], stylised[..., 4:])
    # One coarse map serves every scale: it is resized to the features.
    coarse = torch.full((1, 1, 3, 4), 0.25)
    assert torch.allclose(blend(stylised, content, coarse), 0.25 * stylised + 0.75 * content)
    with pytest.raises(ValueError):
        blend(stylised, content, torch.zeros(1, 2, 6, 8))


def test_adain_with_stats_equals_adain_from_tensor():
    content, style = features(seed=7), features(seed=8, scale=3.0)
    assert torch.allclose(adain_with_stats(content, calc_mean_std(style)), adaptive_instance_normalization(content, style))


def _halves(shape, left: bool) -> torch.Tensor:
    n, _, h, w = shape
    mask = torch.zeros(n, 1, h, w, dtype=torch.float64)
    if left:
        mask[..., : w // 2] = 1
    else:
        mask[..., w // 2 :] = 1
    return mask


def test_masked_adain_changes_only_the_masked_region_and_uses_the_style_region():
    content = features((1, 3, 8, 8), seed=9)
    style = torch.cat(
        (features((1, 3, 8, 4), seed=10, scale=0.2, shift=-5.0), features((1, 3, 8, 4), seed=11, scale=3.0, shift=7.0)),
        dim=3,
    )
    content_mask = _halves(content.shape, left=True)
    style_mask = _halves(style.shape, left=False)  # take statistics from the right half only
    out = masked_adain(content, style, content_mask, style_mask)
    assert torch.equal(out[..., 4:], content[..., 4:])  # outside the mask: untouched
    moved = calc_mean_std(out[..., :4])
    right = calc_mean_std(style[..., 4:])
    assert torch.allclose(moved.mean, right.mean, atol=1e-9)
    assert torch.allclose(moved.std, right.std, atol=1e-4)


def test_masked_mean_std_matches_stats_of_the_region():
    x = features((2, 3, 6, 8), seed=12)
    mask = _halves(x.shape, left=False)
    stats = masked_mean_std(x, mask)
    plain = calc_mean_std(x[..., 4:])
    assert torch.allclose(stats.mean, plain.mean) and torch.allclose(stats.std, plain.std)
    # An empty mask falls back to the whole map; a mask of another size is resized.
    empty = masked_mean_std(x, torch.zeros(2, 1, 6, 8, dtype=torch.float64))
    assert torch.allclose(empty.mean, calc_mean_std(x).mean)
    resized = masked_mean_std(x, _halves((2, 1, 12, 16), left=False))
    assert torch.allclose(resized.mean, plain.mean)


def test_pool_stats_of_identical_statistics_is_identity():
    stats = calc_mean_std(features(seed=13, scale=2.0))
    pooled = pool_stats([stats, stats, stats], [0.2, 0.3, 0.5])
    assert torch.allclose(pooled.mean, stats.mean) and torch.allclose(pooled.std, stats.std)


def test_pooled_mean_is_the_weighted_mean():
    a = calc_mean_std(features(seed=14, shift=-3.0))
    b = calc_mean_std(features(seed=15, shift=5.0))
    pooled = pool_stats([a, b], [1.0, 3.0])
    assert torch.allclose(pooled.mean, 0.25 * a.mean + 0.75 * b.mean)
    equal = pool_stats([a, b])
    assert torch.allclose(equal.mean, 0.5 * (a.mean + b.mean))


def test_pooled_statistics_equal_those_of_the_pooled_pixels():
    x, y = features((1, 4, 5, 6), seed=16, scale=1.0), features((1, 4, 3, 6), seed=17, scale=4.0, shift=2.0)
    pooled = pool_stats([calc_mean_std(x), calc_mean_std(y)], [30.0, 18.0])  # weights = pixel counts
    both = calc_mean_std(torch.cat((x, y), dim=2))
    assert torch.allclose(pooled.mean, both.mean, atol=1e-12)
    assert torch.allclose(pooled.std, both.std, atol=1e-9)


def test_pool_stats_rejects_bad_weights():
    s = calc_mean_std(features(seed=18))
    for weights in ([1.0], [-1.0, 2.0], [0.0, 0.0]):
        with pytest.raises(ValueError):
            pool_stats([s, s], weights)
    with pytest.raises(ValueError):
        pool_stats([])


def test_feature_stats_is_frozen():
    stats = FeatureStats(torch.zeros(1), torch.ones(1))
    with pytest.raises(AttributeError):
        stats.mean = torch.ones(1)
