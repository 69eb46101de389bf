"""Semantic correspondence (core.correspondence): a soft warp of the reference onto the photo."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import skimage.data
import torch
import torch.nn.functional as F

from core.color import rgb_to_lab
from core.correspondence import (
    LOOSE_STRENGTH,
    ReferenceCells,
    Warp,
    describe_sources,
    reference_cells,
    soft_warp,
    top_k_rows,
    warp_hints,
)
from core.matching import content_descriptors


def lab_of(rgb8: np.ndarray) -> torch.Tensor:
    return rgb_to_lab(torch.from_numpy(np.ascontiguousarray(rgb8)).permute(2, 0, 1)[None].float() / 255)


@pytest.fixture(scope="module")
def describe(tiny_models):
    return partial(content_descriptors, tiny_models.transfer.encoder)


@pytest.fixture(scope="module")
def chelsea():
    return skimage.data.chelsea()[:256:2, :384:2].copy()  # 128 x 192


def warp_of(describe, target_rgb8, reference_rgb8, mirror=True):
    target = lab_of(target_rgb8)
    sources = describe_sources(describe, [lab_of(reference_rgb8)], mirror=mirror)
    return target, soft_warp(describe(target[:, :1]), reference_cells(sources))


def colour_error(warp, target) -> float:
    """Mean |ab| error of the warp (at working size) where it became hints."""
    ab, mask = warp_hints(warp, tuple(target.shape[2:]))
    chosen = mask[0] > 0
    return float((ab - target[0, 1:]).abs().mean(dim=0)[chosen].mean())


@pytest.mark.parametrize("shift", [48, 20])  # on and off the 8-pixel grid
def test_a_shifted_copy_warps_back_to_itself_with_high_confidence(describe, chelsea, shift):
    target, warp = warp_of(describe, chelsea[:, :144], chelsea[:, shift : shift + 144])
    assert warp.relatedness == 1.0
    assert warp.coverage() > 0.6  # the part both show is (144 - shift) / 144 of the photo
    assert colour_error(warp, target) < 6.0  # Lab units; the photo's colours reach about 30


def test_a_mirrored_copy_needs_the_mirrored_sources(describe, chelsea):
    target, with_mirror = warp_of(describe, chelsea, chelsea[:, ::-1], mirror=True)
    _, without = warp_of(describe, chelsea, chelsea[:, ::-1], mirror=False)
    assert with_mirror.coverage() > 0.8 and with_mirror.coverage() > without.coverage() + 0.2
    assert colour_error(with_mirror, target) < 6.0


def test_an_unrelated_reference_moves_colours_part_of_the_way(describe, chelsea):
    unrelated = skimage.data.astronaut()[::4, ::4].copy()  # 128 x 128
    target, warp = warp_of(describe, chelsea, unrelated)
    assert warp.relatedness == 0.0 and warp.strength == LOOSE_STRENGTH
    assert warp.coverage() < 0.05  # a cat and an astronaut resemble each other almost nowhere
    _, related = warp_of(describe, chelsea[:, :144], chelsea[:, 16:160])
    assert related.strength == 1.0


def test_the_warp_is_the_softmax_mean_of_the_top_k_cells():
    keys = F.normalize(torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]), dim=1)
    colours = torch.tensor([[10.0, 0.0], [0.0, 10.0], [-10.0, -10.0]])
    target = F.normalize(torch.tensor([1.0, 0.1]), dim=0).view(1, 2, 1, 1)
    warp = soft_warp(target, ReferenceCells(keys, colours), temperature=0.1, top_k=2, relatedness_range=(-1.0, 0.5))
    similarity = (keys @ target.view(2)).tolist()
    weights = torch.softmax(torch.tensor(similarity[:2]) / 0.1, dim=0)
    expected = weights[0] * colours[0] + weights[1] * colours[1]
    assert torch.allclose(warp.ab[:, 0, 0], expected, atol=1e-5)
    assert warp.similarity[0, 0] == pytest.approx(similarity[0], abs=1e-6)
    assert bool(warp.mutual[0, 0]) and warp.relatedness == 1.0


def test_shapes_of_hints(describe, chelsea):
    target, warp = warp_of(describe, chelsea[:, :144], chelsea[:, 48:])
    assert warp.ab.shape == (2, 16, 18) and warp.confidence.shape == (16, 18)
    ab, mask = warp_hints(warp, (128, 144))
    assert ab.shape == (2, 128, 144) and mask.shape == (1, 128, 144)
    assert float(mask.min()) >= 0 and float(mask.max()) <= 1


def test_bad_inputs_are_refused(describe, chelsea):
    cells = ReferenceCells(torch.zeros(4, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="target descriptors"):
        soft_warp(torch.zeros(3, 2, 2), cells)
    with pytest.raises(ValueError, match="channels"):
        soft_warp(torch.zeros(1, 5, 2, 2), cells)
    with pytest.raises(ValueError, match="temperature"):
        soft_warp(torch.zeros(1, 3, 2, 2), cells, temperature=0.0)
    with pytest.raises(ValueError, match="low < high"):
        soft_warp(torch.zeros(1, 3, 2, 2), cells, confidence_range=(0.8, 0.6))
    with pytest.raises(ValueError, match="keys"):
        ReferenceCells(torch.zeros(4, 3), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="at least one"):
        reference_cells([])
    with pytest.raises(ValueError, match="ab must be"):
        reference_cells([(torch.zeros(1, 3, 2, 2), torch.zeros(3, 8, 8))])
    with pytest.raises(ValueError, match="Lab"):
        describe_sources(describe, [torch.zeros(3, 8, 8)])


@pytest.mark.parametrize("shape,k", [((50, 640), 8), ((7, 6464), 8), ((30, 64 * 20), 1), ((5, 100), 8), ((4, 512), 8)])
def test_top_k_rows_finds_what_topk_finds(shape, k):
    generator = torch.Generator().manual_seed(shape[1])
    values = torch.randn(*shape, generator=generator)
    values[0, :] = values[0, 0]  # a row of ties: the same values
    values[1, :: 64] += 10.0  # the largest values spread over many blocks
    values[2, 64:96] += 10.0  # and bunched in one
    top, index = top_k_rows(values, k)
    expected = values.topk(k, dim=1)
    assert torch.equal(top, expected.values)
    assert torch.equal(values.gather(1, index), top)  # each index points at its value
    assert torch.equal(index[1:], expected.indices[1:])  # no ties: the same cells
