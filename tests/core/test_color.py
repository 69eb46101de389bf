"""Colour maths against scikit-image: reference values, round trips, gradients, shapes, gamut."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.color
import torch

from core.color import (
    ab_gamut_mask,
    gray_lut,
    lab_to_rgb,
    lightness_of_rgb,
    normalize_ab,
    normalize_l,
    rgb_to_lab,
    snap_ab_to_gamut,
    unnormalize_ab,
    unnormalize_l,
)


def random_rgb(shape=(3, 7, 9), seed=0, dtype=torch.float32) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=generator, dtype=torch.float64).to(dtype)


def chw_to_hwc(t: torch.Tensor) -> np.ndarray:
    return t.permute(1, 2, 0).double().numpy()


# Known colours (sRGB 0-255 -> Lab, D65), as scikit-image 0.26 computes them (its sRGB matrix
# makes white very slightly off-grey).
KNOWN = [
    ((255, 0, 0), (53.2406, 80.0923, 67.2028)),
    ((0, 255, 0), (87.7351, -86.1830, 83.1797)),
    ((0, 0, 255), (32.2957, 79.1856, -107.8573)),
    ((255, 255, 255), (100.0, -0.0025, 0.0047)),
    ((0, 0, 0), (0.0, 0.0, 0.0)),
    ((128, 64, 32), (34.7248, 24.9996, 31.3728)),
]


@pytest.mark.parametrize("rgb, lab", KNOWN)
def test_known_colours(rgb, lab):
    pixel = torch.tensor(rgb, dtype=torch.float64).view(3, 1, 1) / 255
    assert rgb_to_lab(pixel)[:, 0, 0].tolist() == pytest.approx(lab, abs=1e-4)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-4), (torch.float64, 1e-9)])
def test_rgb_to_lab_matches_skimage(dtype, tol):
    rgb = random_rgb(dtype=dtype)
    rgb[:, 0, :3] = torch.tensor([0.0, 0.02, 0.04045], dtype=dtype).view(1, 3).expand(3, 3).T  # dark, linear branch
    ours = rgb_to_lab(rgb)
    assert ours.dtype == dtype
    reference = skimage.color.rgb2lab(chw_to_hwc(rgb))
    # float32 carries ~7 significant digits, so compare relative to the value's size there.
    scale = 1.0 if dtype == torch.float64 else np.maximum(np.abs(reference), 1.0)
    assert np.max(np.abs(chw_to_hwc(ours) - reference) / scale) <= tol


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-4), (torch.float64, 1e-9)])
def test_lab_to_rgb_matches_skimage(dtype, tol):
    lab = rgb_to_lab(random_rgb(seed=1, dtype=torch.float64)).to(dtype)
    ours = lab_to_rgb(lab)
    reference = skimage.color.lab2rgb(chw_to_hwc(lab))
    assert np.max(np.abs(chw_to_hwc(ours) - reference)) <= tol


def test_lab_to_rgb_clips_out_of_gamut_unless_asked():
    lab = torch.tensor([50.0, 120.0, -120.0]).view(3, 1, 1)
    clipped = lab_to_rgb(lab)
    raw = lab_to_rgb(lab, clip=False)
    assert clipped.min() >= 0 and clipped.max() <= 1
    assert raw.min() < 0 or raw.max() > 1
    reference = skimage.color.lab2rgb(chw_to_hwc(lab))
    assert np.allclose(chw_to_hwc(clipped), reference, atol=1e-5)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 2e-5), (torch.float64, 1e-12)])
def test_round_trip(dtype, tol):
    rgb = random_rgb((2, 3, 5, 6), seed=2, dtype=dtype)
    assert torch.allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=tol, rtol=0)


def test_batched_and_unbatched_agree():
    rgb = random_rgb((4, 3, 5, 5), seed=3)
    batched = rgb_to_lab(rgb)
    for i in range(4):
        assert torch.allclose(batched[i], rgb_to_lab(rgb[i]), atol=1e-4, rtol=0)


def test_gradcheck():
    # Values away from the piecewise branches' joins, where the derivative is not defined.
    rgb = (0.15 + 0.7 * random_rgb((1, 3, 2, 3), seed=4, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(rgb_to_lab, (rgb,))
    lab = torch.tensor([[60.0, 10.0, -15.0], [40.0, -20.0, 25.0]], dtype=torch.float64).T.reshape(1, 3, 1, 2)
    lab.requires_grad_()
    assert torch.autograd.gradcheck(lambda x: lab_to_rgb(x, clip=False), (lab,))


def test_gradients_are_finite_at_black_and_white():
    rgb = torch.tensor([0.0, 1.0, 0.5]).view(3, 1, 1).expand(3, 2, 2).clone().requires_grad_()
    rgb_to_lab(rgb).sum().backward()
    assert torch.isfinite(rgb.grad).all()
    lab = torch.tensor([0.0, 0.0, 0.0]).view(3, 1, 1).repeat(1, 2, 2).requires_grad_()
    lab_to_rgb(lab).sum().backward()
    assert torch.isfinite(lab.grad).all()


@pytest.mark.parametrize("shape", [(3,), (3, 4), (4, 5, 5), (1, 2, 5, 5), (2, 4, 5, 5)])
@pytest.mark.parametrize("function", [rgb_to_lab, lab_to_rgb])
def test_bad_shapes_raise_value_error(function, shape):
    with pytest.raises(ValueError, match=r"\(\*, 3, H, W\)"):
        function(torch.zeros(shape))


def test_non_tensor_raises_type_error():
    with pytest.raises(TypeError):
        rgb_to_lab(np.zeros((3, 2, 2)))


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_gray_lut_matches_skimage(bit_depth):
    lut = gray_lut(bit_depth)
    assert lut.dtype == np.float32 and lut.shape == (2**bit_depth,)
    levels = np.linspace(0, 1, 2**bit_depth)
    picked = np.unique(np.r_[np.arange(0, 2**bit_depth, max(1, 2**bit_depth // 300)), 2**bit_depth - 1])
    grey = np.repeat(levels[picked][:, None, None], 3, axis=2)
    reference = skimage.color.rgb2lab(grey)[:, 0, 0]
    assert np.max(np.abs(lut[picked] - reference)) <= 1e-4
    assert lut[0] == 0 and lut[-1] == pytest.approx(100, abs=1e-4)
    assert np.all(np.diff(lut) > 0)


def test_gray_lut_refuses_other_depths():
    with pytest.raises(ValueError):
        gray_lut(12)


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_lightness_of_rgb_matches_skimage(bit_depth):
    rng = np.random.default_rng(5)
    top = 2**bit_depth - 1
    rgb = rng.integers(0, top + 1, (13, 11, 3)).astype(np.uint8 if bit_depth == 8 else np.uint16)
    reference = skimage.color.rgb2lab(rgb / top)[..., 0]
    ours = lightness_of_rgb(rgb, bit_depth)
    assert ours.dtype == np.float32 and ours.shape == (13, 11)
    assert np.max(np.abs(ours - reference)) <= 1e-3


def test_normalisation_round_trips():
    L = torch.tensor([0.0, 50.0, 100.0])
    assert normalize_l(L).tolist() == [-0.5, 0.0, 0.5]
    assert torch.allclose(unnormalize_l(normalize_l(L)), L)
    ab = torch.tensor([-110.0, 55.0])
    assert normalize_ab(ab).tolist() == [-1.0, 0.5]
    assert torch.allclose(unnormalize_ab(normalize_ab(ab)), ab)


def _in_gamut(L: torch.Tensor, ab: torch.Tensor, tol: float = 1e-3) -> torch.Tensor:
    rgb = lab_to_rgb(torch.cat((L.expand_as(ab[:1]), ab)), clip=False)
    return ((rgb >= -tol) & (rgb <= 1 + tol)).all(dim=0)


def test_snap_keeps_in_gamut_colours_exactly():
    lab = rgb_to_lab(random_rgb((3, 4, 4), seed=6, dtype=torch.float64))
    L, ab = lab[:1], lab[1:]
    assert torch.equal(snap_ab_to_gamut(L, ab), ab)


def test_snap_brings_out_of_gamut_colours_inside_keeping_hue():
    L = torch.tensor([[[50.0, 50.0, 90.0, 20.0]]], dtype=torch.float64)
    ab = torch.tensor([[[10.0, 100.0, -80.0, 90.0]], [[-5.0, 100.0, -90.0, -100.0]]], dtype=torch.float64)
    assert bool(_in_gamut(L[:, :, :1], ab[:, :, :1])[0, 0])  # the first colour is displayable ...
    assert not bool(_in_gamut(L[:, :, 1:], ab[:, :, 1:]).any())  # ... the others are not
    snapped = snap_ab_to_gamut(L, ab)
    assert torch.equal(snapped[:, :, 0], ab[:, :, 0])
    assert bool(_in_gamut(L, snapped).all())
    hue_before = torch.atan2(ab[1], ab[0])
    hue_after = torch.atan2(snapped[1], snapped[0])
    assert torch.allclose(hue_before, hue_after, atol=1e-9)
    chroma_before, chroma_after = ab.norm(dim=0), snapped.norm(dim=0)
    assert bool((chroma_after[:, 1:] < chroma_before[:, 1:]).all())
    # The most saturated displayable colour of that hue: a little more chroma leaves the gamut.
    assert not bool(_in_gamut(L[:, :, 1:], snapped[:, :, 1:] * 1.02, tol=1e-4).any())


def test_ab_gamut_mask_layout():
    mask = ab_gamut_mask(50.0, resolution=65)
    assert mask.shape == (65, 65) and mask.dtype == bool
    assert mask[32, 32]  # grey is displayable
    assert not mask[0, 0] and not mask[-1, -1]  # the far corners are not
    # Row i is b = 110 - i * 220/64 (top +b), column j is a = -110 + j * 220/64. At L 95 sRGB
    # yellow (a = -27.5, b = 89.4) still fits, blue (b = -110) does not, nor a pale orange.
    bright = ab_gamut_mask(95.0, resolution=65)
    assert bright[6, 24] and not bright[-1, 32] and not bright[24, 32]
    assert bright.sum() < mask.sum()
