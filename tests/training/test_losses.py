"""Losses of both sub-nets, each checked against its formula."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from training.losses import (
    AB_GRID,
    ab_to_class,
    class_to_ab,
    classification_loss,
    decoder_loss,
    gram,
    perceptual_loss,
    rebalancing_weights,
    weighted_huber,
)


def _huber(x: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    return torch.where(x.abs() <= delta, 0.5 * x**2, delta * (x.abs() - 0.5 * delta))


def test_weighted_huber_matches_the_formula():
    torch.manual_seed(0)
    pred, gt = torch.randn(2, 2, 8, 8) * 80, torch.randn(2, 2, 8, 8) * 80
    mask = (torch.rand(2, 1, 8, 8) > 0.7).float()
    lam = 10.0
    w = 1 + lam * mask
    expected = _huber(w * pred / 110 - w * gt / 110).mean()
    torch.testing.assert_close(weighted_huber(pred, gt, mask, lam), expected)
    # Without hints it is the plain Huber loss on normalised ab.
    torch.testing.assert_close(weighted_huber(pred, gt, torch.zeros_like(mask)), _huber((pred - gt) / 110).mean())


def test_hinted_pixels_weigh_more():
    gt = torch.zeros(1, 2, 4, 4)
    pred = torch.full_like(gt, 5.0)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 0, 0] = 1
    assert weighted_huber(pred, gt, mask) > weighted_huber(pred, gt, torch.zeros_like(mask))


def test_ab_bins_round_trip_at_their_centres():
    index = torch.arange(AB_GRID * AB_GRID)
    ab = class_to_ab(index)[:, :, None, None]
    assert ab.abs().max() == 110
    torch.testing.assert_close(ab_to_class(ab)[:, 0, 0], index)
    # Values beyond the grid fall into the border bins.
    far = torch.tensor([[[[500.0]], [[-500.0]]]])
    assert ab_to_class(far).item() == (AB_GRID - 1) * AB_GRID


def test_rebalancing_weights_have_expected_value_one_under_the_prior():
    generator = torch.Generator().manual_seed(0)
    prior = torch.rand(529, generator=generator) ** 4
    prior[::7] = 0  # bins that never occur
    prior = prior / prior.sum()
    for mix in (0.01, 0.5, 0.9):
        weights = rebalancing_weights(prior, mix)
        assert abs(float((prior * weights).sum()) - 1.0) < 1e-5
    with pytest.raises(ValueError, match="mix"):
        rebalancing_weights(prior, 0.0)
    weights = rebalancing_weights(prior, 0.5)
    common, rare = int(prior.argmax()), int(prior[prior > 0].argmin())
    assert weights[rare] > weights[common]  # rare colours are up-weighted
    # mix = 1 is the uniform prior: every weight is 1.
    torch.testing.assert_close(rebalancing_weights(prior, 1.0), torch.ones(529))


def test_classification_loss_matches_cross_entropy_and_its_variants():
    torch.manual_seed(1)
    logits = torch.randn(2, 529, 4, 4)
    gt_ab = torch.randn(2, 2, 16, 16) * 40
    target = ab_to_class(F.adaptive_avg_pool2d(gt_ab, (4, 4)))
    torch.testing.assert_close(classification_loss(logits, gt_ab), F.cross_entropy(logits, target))
    # Uniform logits: log(529) whatever the target.
    assert abs(classification_loss(torch.zeros(1, 529, 2, 2), gt_ab[:1]).item() - math.log(529)) < 1e-5
    # Focal: -(1 - p)^gamma log p, never above the plain cross-entropy.
    nll = F.cross_entropy(logits, target, reduction="none")
    focal = (nll * (1 - torch.exp(-nll)) ** 2).mean()
    torch.testing.assert_close(classification_loss(logits, gt_ab, focal_gamma=2.0), focal)
    assert focal < nll.mean()
    # Class weights scale each pixel's term by its target bin's weight.
    weights = torch.rand(529) + 0.5
    torch.testing.assert_close(classification_loss(logits, gt_ab, weights), (nll * weights[target]).mean())


def test_gram_matrix():
    feat = torch.randn(2, 3, 4, 5)
    flat = feat.reshape(2, 3, 20)
    torch.testing.assert_close(gram(feat), torch.einsum("nch,ndh->ncd", flat, flat) / 60)


@pytest.mark.parametrize("relative", [False, True])
def test_perceptual_loss_matches_the_formula(relative):
    torch.manual_seed(2)
    names = ("shallow", "deep")
    out = {n: torch.randn(2, 4, 8, 8) for n in names}
    content = {n: torch.randn(2, 4, 8, 8) * 3 for n in names}
    style = {n: torch.randn(2, 4, 6, 6) * 2 for n in names}
    weights, style_weight = (1.0, 3.0), 0.5
    expected = 0.0
    for w, n in zip(weights, names):
        c = F.mse_loss(out[n], content[n])
        s = F.mse_loss(gram(out[n]), gram(style[n]))
        if relative:
            c, s = c / content[n].pow(2).mean(), s / gram(style[n]).pow(2).mean()
        expected = expected + w * (c + style_weight * s)
    expected = expected / sum(weights)
    got = perceptual_loss(out, content, style, weights, style_weight, relative=relative)
    torch.testing.assert_close(got, expected)


def test_perceptual_loss_is_zero_for_a_perfect_output():
    feats = {"a": torch.randn(1, 4, 8, 8)}
    assert perceptual_loss(feats, feats, feats).item() == pytest.approx(0.0, abs=1e-7)


def test_relative_perceptual_loss_ignores_the_feature_scale():
    torch.manual_seed(3)
    out, content, style = ({"a": torch.randn(1, 4, 8, 8)} for _ in range(3))
    scaled = [{"a": x["a"] * 100} for x in (out, content, style)]
    torch.testing.assert_close(perceptual_loss(*scaled, relative=True), perceptual_loss(out, content, style, relative=True))


def test_decoder_loss_weighs_reconstruction_and_perceptual_8_to_2():
    out, target = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    perceptual = torch.tensor(0.7)
    torch.testing.assert_close(decoder_loss(out, target, perceptual), 0.8 * F.mse_loss(out, target) + 0.2 * perceptual)
