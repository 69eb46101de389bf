"""Hint simulation (Zhang et al. 2017) and hints sampled from a dense ab map (the transfer's output)."""

from __future__ import annotations

import numpy as np
import torch

from core.hints import sample_hints_from_ab
from training.hintsim import (
    HintSimulation,
    UserHintSimulation,
    hints_from_ab,
    recolour_region,
    simulate_hints,
    simulate_user_hints,
    user_hint_inputs,
)


def _smooth_ab(n: int, size: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 2, 4, 4, generator=generator) * 120 - 60
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


def test_share_of_samples_without_hints():
    ab = torch.zeros(400, 2, 16, 16)
    sim = HintSimulation(no_hint_share=0.25)
    _, mask = simulate_hints(ab, sim, np.random.default_rng(0))
    empty = (mask.flatten(1).sum(1) == 0).float().mean().item()
    assert abs(empty - 0.25) < 0.06
    _, none = simulate_hints(ab[:20], HintSimulation(no_hint_share=1.0), np.random.default_rng(0))
    assert none.sum() == 0
    _, every = simulate_hints(ab[:20], HintSimulation(no_hint_share=0.0), np.random.default_rng(0))
    assert bool((every.flatten(1).sum(1) > 0).all())


def test_hint_colour_is_the_mean_ground_truth_under_the_patch():
    ab = _smooth_ab(8, 64)
    # One patch per sample (a geometric draw with p = 1), so the mask is exactly that patch.
    sim = HintSimulation(no_hint_share=0.0, geometric_p=1.0, dense_share=0.0, min_patch=3, max_patch=7, reference_size=64)
    hint_ab, mask = simulate_hints(ab, sim, np.random.default_rng(1))
    for i in range(len(ab)):
        region = mask[i, 0] > 0
        side = int(region.sum().sqrt().round())
        assert region.any() and 1 <= side <= 7
        expected = ab[i][:, region].mean(dim=1)
        torch.testing.assert_close(hint_ab[i][:, region], expected[:, None].expand(-1, int(region.sum())))
        assert hint_ab[i][:, ~region].abs().max() == 0


def test_number_of_hints_follows_the_geometric_law_scaled_by_area():
    # 1 x 1 patches on a 128 x 128 crop: the count of hinted pixels is the count of hints (few overlaps).
    ab = torch.zeros(300, 2, 128, 128)
    sim = HintSimulation(no_hint_share=0.0, geometric_p=1 / 8, dense_share=0.0, min_patch=1, max_patch=1, reference_size=128)
    _, mask = simulate_hints(ab, sim, np.random.default_rng(2))
    counts = mask.flatten(1).sum(1)
    assert abs(counts.mean().item() - 8.0) < 1.0
    assert counts.min() >= 1
    # Half the area (a 128 x 64 crop) gets about half as many hints.
    _, half = simulate_hints(ab[..., :64], sim, np.random.default_rng(3))
    assert abs(half.flatten(1).sum(1).mean().item() - 4.0) < 0.7


def test_dense_share_gives_many_hints():
    ab = torch.zeros(100, 2, 64, 64)
    sparse = HintSimulation(no_hint_share=0.0, dense_share=0.0, min_patch=1, max_patch=1, reference_size=64)
    dense = HintSimulation(no_hint_share=0.0, dense_share=1.0, min_patch=1, max_patch=1, reference_size=64)
    n_sparse = simulate_hints(ab, sparse, np.random.default_rng(4))[1].sum()
    n_dense = simulate_hints(ab, dense, np.random.default_rng(4))[1].sum()
    # Log-uniform on [1, 200] has mean ~37.4 against the geometric's 8.
    assert n_dense > 3 * n_sparse


def test_same_generator_state_same_hints():
    ab = _smooth_ab(4, 32)
    a = simulate_hints(ab, HintSimulation(), np.random.default_rng([0, 17, 11]))
    b = simulate_hints(ab, HintSimulation(), np.random.default_rng([0, 17, 11]))
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_hints_from_a_dense_map_are_sampled_as_the_app_samples_them():
    ab = _smooth_ab(3, 32, seed=5)
    L = torch.full((3, 1, 32, 32), 50.0)
    hint_ab, mask = hints_from_ab(ab, L, density=0.02, patch=3, rng=np.random.default_rng(6))
    seeds = np.random.default_rng(6).integers(0, 2**31, size=3)
    for i, seed in enumerate(seeds.tolist()):
        expected_ab, expected_mask = sample_hints_from_ab(ab[i], 0.02, seed, 3, L[i])
        torch.testing.assert_close(hint_ab[i], expected_ab)
        torch.testing.assert_close(mask[i], expected_mask)
    assert 0 < mask.mean() < 0.25


def _two_regions(n: int, size: int = 32) -> torch.Tensor:
    """Lab photos: a left half of one colour and a right half of another, a little noise."""
    lab = torch.zeros(n, 3, size, size)
    lab[:, 0] = 50.0
    lab[:, 1, :, : size // 2], lab[:, 2, :, : size // 2] = 40.0, 20.0
    lab[:, 1, :, size // 2 :], lab[:, 2, :, size // 2 :] = -30.0, -10.0
    return lab + torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(0)) * 0.5


def test_a_recolour_region_is_one_connected_patch_of_similar_colour():
    lab = _two_regions(1)[0].numpy()
    region = recolour_region(lab, UserHintSimulation(region_share=(0.2, 0.6)), np.random.default_rng(0))
    assert region is not None and region.sum() == 32 * 16  # exactly one half
    assert region[:, :16].all() or region[:, 16:].all()
    assert recolour_region(lab, UserHintSimulation(region_share=(0.6, 0.9)), np.random.default_rng(0)) is None


def test_user_recolours_change_the_target_inside_the_region_only():
    lab = _two_regions(16)
    sampled_ab, sampled_mask = simulate_hints(lab[:, 1:], HintSimulation(no_hint_share=0.0), np.random.default_rng(1))
    sim = UserHintSimulation(user_share=1.0, recolour_share=1.0, alone_share=0.0, region_share=(0.2, 0.6))
    target, hint_ab, mask, user_ab, user_mask = simulate_user_hints(
        lab, sampled_ab, sampled_mask, HintSimulation(no_hint_share=0.0), sim, np.random.default_rng(2)
    )
    for i in range(16):
        changed = (target[i] - lab[i, 1:]).abs().amax(0) > 1.0
        left = bool(changed[:, :16].all())
        assert left != bool(changed[:, 16:].all()) and int(changed.sum()) == 32 * 16  # one half, all of it
        shift = (target[i][:, changed].mean(1) - lab[i, 1:][:, changed].mean(1)).norm()
        assert shift >= sim.min_shift * 0.5
        pinned = user_mask[i, 0] > 0
        assert 1 <= int(pinned.sum()) and bool(changed[pinned].all())  # the user's hints lie inside
        assert torch.allclose(user_ab[i][:, pinned], target[i][:, pinned], atol=2.0)  # ... in its new colour
        assert not bool((mask[i, 0] > 0)[changed].any())  # the sampled hints stepped aside there
        assert torch.equal(hint_ab[i] * (~changed), sampled_ab[i] * (~changed) * mask[i])


def test_user_hints_of_true_colours_leave_the_target_alone():
    lab = _two_regions(12)
    sampled_ab, sampled_mask = simulate_hints(lab[:, 1:], HintSimulation(no_hint_share=0.5), np.random.default_rng(3))
    sim = UserHintSimulation(user_share=1.0, recolour_share=0.0, alone_share=1.0)
    target, hint_ab, mask, user_ab, user_mask = simulate_user_hints(
        lab, sampled_ab, sampled_mask, HintSimulation(no_hint_share=0.5), sim, np.random.default_rng(4)
    )
    assert torch.equal(target, lab[:, 1:])
    had = sampled_mask.flatten(1).sum(1) > 0
    assert bool((user_mask.flatten(1).sum(1) > 0).eq(had).all())  # automatic samples stay automatic
    assert mask.sum() == 0 and hint_ab.abs().sum() == 0  # alone: the sampled hints were dropped
    pinned = (user_mask > 0).expand_as(user_ab)
    a, b = user_ab[:, 0][pinned[:, 0]], user_ab[:, 1][pinned[:, 1]]
    assert a.min() > -32 and a.max() < 42 and b.min() > -12 and b.max() < 22  # means of true colours
    assert (user_ab * (~pinned)).abs().sum() == 0


def test_user_hint_inputs_spread_each_click_over_its_claim():
    L = torch.full((3, 1, 32, 96), 5.0)
    L[:, :, :, 48:] = 95.0  # a strong edge down the middle
    user_ab, user_mask = torch.zeros(3, 2, 32, 96), torch.zeros(3, 1, 32, 96)
    user_ab[0, :, 10:13, 5:8], user_mask[0, :, 10:13, 5:8] = torch.tensor([30.0, -40.0])[:, None, None], 1.0
    user_ab[1, :, 20:22, 80:82], user_mask[1, :, 20:22, 80:82] = torch.tensor([-20.0, 10.0])[:, None, None], 1.0
    colour, claim = user_hint_inputs(L, user_ab, user_mask, np.random.default_rng(0), (0.5, 0.5))
    assert colour.shape == user_ab.shape and claim.shape == user_mask.shape
    assert torch.all(claim[user_mask > 0] == 1) and torch.allclose(colour * user_mask, user_ab * user_mask)
    assert claim[0, 0, 11, 20] > 0.9 and claim[0, 0, 11, 85] < 0.2  # the click's side of the edge only
    assert torch.allclose(colour[0, :, 11, 30], torch.tensor([30.0, -40.0]), atol=1.0)
    assert claim[1, 0, 21, 70] > 0.9 and claim[1, 0, 21, 5] < 0.2
    assert not claim[2].any() and not colour[2].any()  # no clicks, no claim


def test_user_hint_inputs_with_regions_fill_the_clicked_region_as_the_app_does():
    L = torch.full((1, 1, 80, 192), 5.0)
    L[:, :, 16:64, 24:168] = 95.0  # a long box: a short claim fades before its far end
    user_ab, user_mask = torch.zeros(1, 2, 80, 192), torch.zeros(1, 1, 80, 192)
    user_ab[0, :, 38:41, 30:33], user_mask[0, :, 38:41, 30:33] = torch.tensor([25.0, 35.0])[:, None, None], 1.0
    plain, plain_claim = user_hint_inputs(L, user_ab, user_mask, np.random.default_rng(0), (0.3, 0.3))
    filled, filled_claim = user_hint_inputs(L, user_ab, user_mask, np.random.default_rng(0), (0.3, 0.3), regions=True)
    box = torch.zeros(80, 192, dtype=torch.bool)
    box[16:64, 24:168] = True
    plain_claim, filled_claim = plain_claim[0, 0], filled_claim[0, 0]
    assert filled_claim[box].min() > plain_claim[box].min() + 0.2  # the far end of the box is claimed
    assert torch.all(filled_claim >= plain_claim - 1e-6)  # a region only raises the claim
    near = torch.zeros_like(box)
    near[13:67, 21:171] = True  # the segmentation's smoothing gives the edge's ramp a ring region of its own
    assert filled_claim[~near].max() < 0.3 < filled_claim[box].min()  # the box is claimed, the rest barely
    assert torch.allclose(filled[0, :, 40, 160], torch.tensor([25.0, 35.0]), atol=1.0)  # in the hint's colour
