"""Hints: parsing, rasterising at the working size, and sampling hints from a dense ab map."""

from __future__ import annotations

import math

import numpy as np
import pytest
import skimage.color
import torch

from core.edit import EditError
from core.hints import MAX_RADIUS, Hint, parse_rgb, rasterize_hints, sample_hints_from_ab, snap_hint_to_gamut


def covered(mask: torch.Tensor) -> set[tuple[int, int]]:
    """(x, y) of the working pixels a mask (1, h, w) sets."""
    ys, xs = torch.nonzero(mask[0], as_tuple=True)
    return set(zip(xs.tolist(), ys.tolist()))


def footprint_pixel(x: float, size: int, work: int) -> int:
    """The working pixel whose footprint holds the centre of original pixel x."""
    return min(max(math.floor((x + 0.5) * work / size), 0), work - 1)


@pytest.mark.parametrize(
    "original, working",
    [
        ((100, 80), (100, 80)),  # 1:1
        ((400, 300), (100, 75)),  # 4:1
        ((1000, 750), (256, 192)),  # 3.90625:1
        ((333, 517), (64, 99)),  # non-integer, different in x and y
        ((10, 12), (25, 30)),  # working larger than the photo
    ],
)
def test_single_pixel_hints_land_on_the_working_pixel_holding_them(original, working):
    W, H = original
    w, h = working
    points = [(0, 0), (W - 1, H - 1), (W - 1, 0), (0, H - 1), (W / 2, H / 3), (W * 0.77, H * 0.41)]
    for x, y in points:
        ab, mask = rasterize_hints([Hint(x, y, (20.0, -30.0), radius=0)], original, working)
        assert ab.shape == (2, h, w) and mask.shape == (1, h, w)
        assert covered(mask) == {(footprint_pixel(x, W, w), footprint_pixel(y, H, h))}, (x, y)
        u, v = next(iter(covered(mask)))
        assert ab[:, v, u].tolist() == [20.0, -30.0]
        assert float(ab.abs().sum()) == pytest.approx(50.0)  # nothing else was painted


def test_hand_computed_positions():
    # 1000 -> 256: original pixel 500 has its centre at working 128.128 -> pixel 128.
    _, mask = rasterize_hints([Hint(500, 375, (1, 1), radius=0)], (1000, 750), (256, 192))
    assert covered(mask) == {(128, 96)}
    # 10 -> 25: original pixel 0 spans working [0, 2.5); its centre 1.25 is in pixel 1.
    _, mask = rasterize_hints([Hint(0, 9, (1, 1), radius=0)], (10, 10), (25, 25))
    assert covered(mask) == {(1, 23)}


def test_radius_scales_with_the_working_size():
    # 1000 px -> 100 px: a radius of 20 original pixels is 2 working pixels, a 5 x 5 patch.
    _, mask = rasterize_hints([Hint(505, 505, (5, 5), radius=20)], (1000, 1000), (100, 100))
    xs = sorted({x for x, _ in covered(mask)})
    ys = sorted({y for _, y in covered(mask)})
    assert xs == list(range(48, 53)) and ys == list(range(48, 53))
    assert len(covered(mask)) == 25
    # The same hint on a working image twice as large covers twice the side.
    _, mask = rasterize_hints([Hint(505, 505, (5, 5), radius=20)], (1000, 1000), (200, 200))
    assert len(covered(mask)) == 9 * 9
    # A radius smaller than a working pixel still sets one pixel.
    _, mask = rasterize_hints([Hint(505, 505, (5, 5), radius=2)], (1000, 1000), (100, 100))
    assert covered(mask) == {(50, 50)}


def test_patch_is_clipped_at_the_edges_and_outside_hints_are_dropped():
    _, mask = rasterize_hints([Hint(0, 0, (5, 5), radius=3)], (64, 64), (64, 64))
    assert covered(mask) == {(x, y) for x in range(4) for y in range(4)}
    ab, mask = rasterize_hints([Hint(-50, 10, (5, 5), radius=2), Hint(10, 500, (5, 5), radius=2)], (64, 64), (32, 32))
    assert float(mask.sum()) == 0 and float(ab.abs().sum()) == 0


def test_later_hint_wins_where_patches_overlap():
    first = Hint(10, 10, (40.0, 0.0), radius=3)
    second = Hint(13, 10, (-40.0, 10.0), radius=3)
    ab, mask = rasterize_hints([first, second], (32, 32), (32, 32))
    assert ab[:, 10, 7].tolist() == [40.0, 0.0]  # only the first covers x = 7
    assert ab[:, 10, 12].tolist() == [-40.0, 10.0]  # both cover x = 10..13: the second wins
    assert ab[:, 10, 10].tolist() == [-40.0, 10.0]
    assert ab[:, 10, 16].tolist() == [-40.0, 10.0]
    assert float(mask.max()) == 1.0
    swapped, _ = rasterize_hints([second, first], (32, 32), (32, 32))
    assert swapped[:, 10, 12].tolist() == [40.0, 0.0]


def test_hint_from_rgb_matches_skimage():
    red = Hint.from_rgb(3, 4, "#ff0000")
    assert red.ab[0] > 0 and red.ab[1] > 0
    lab = skimage.color.rgb2lab(np.array([[[1.0, 0.0, 0.0]]]))[0, 0]
    assert red.ab == pytest.approx((lab[1], lab[2]), abs=1e-6)
    blue = Hint.from_rgb(0, 0, (0, 0, 255))
    assert blue.ab[1] < -100
    grey = Hint.from_rgb(0, 0, "808080")
    assert max(abs(v) for v in grey.ab) < 0.01


@pytest.mark.parametrize("value", ["#ff00", "#gg0000", "red", "#ff0000ff", ""])
def test_parse_rgb_rejects_malformed_strings(value):
    with pytest.raises(ValueError, match="#RRGGBB"):
        parse_rgb(value)


def test_parse_rgb_triples():
    assert parse_rgb("#0A0b0C") == (10, 11, 12)
    assert parse_rgb(" 102030 ") == (16, 32, 48)
    assert parse_rgb((1, 2, 3)) == (1, 2, 3)
    with pytest.raises(ValueError):
        parse_rgb((256, 0, 0))
    with pytest.raises(ValueError):
        parse_rgb((-1, 0, 0))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(x=float("nan"), y=0, ab=(0, 0)),
        dict(x=0, y=float("inf"), ab=(0, 0)),
        dict(x=0, y=0, ab=(0, 0, 0)),
        dict(x=0, y=0, ab=(float("nan"), 0)),
        dict(x=0, y=0, ab=(0, 0), radius=-1),
        dict(x=0, y=0, ab=(0, 0), radius=MAX_RADIUS + 1),  # radius is in [0, 32] original pixels
        dict(x=0, y=0, ab=(129, 0)),  # a and b are in [-128, 128]
        dict(x=0, y=0, ab=(0, -129)),
    ],
)
def test_invalid_hints_raise(kwargs):
    with pytest.raises(EditError):  # an EditError is a ValueError
        Hint(**kwargs)


def test_dict_round_trip_and_edits():
    hint = Hint(1.5, 2.5, (10, -20), radius=3)
    assert hint.ab == (10.0, -20.0) and isinstance(hint.ab[0], float)
    assert Hint.from_dict(hint.to_dict()) == hint
    assert Hint.from_dict({"x": 4, "y": 5, "ab": [-86, 83]}).radius == 2.0  # the default radius
    assert hint.moved(7, 8).x == 7 and hint.recoloured((1, 2)).ab == (1.0, 2.0)
    # A colour picked from the result: kept through the JSON form and a move, gone with a colour
    # the user gives; plain hints leave the key out of their JSON form.
    pin = Hint(1.5, 2.5, (10, -20), picked=True)
    assert Hint.from_dict(pin.to_dict()) == pin and pin.to_dict()["picked"] is True and "picked" not in hint.to_dict()
    assert pin.moved(3, 4).picked and not pin.recoloured((1, 2)).picked and pin.recoloured((1, 2), picked=True).picked
    assert pin.recoloured((10, -20)).picked and not hint.recoloured((10, -20)).picked  # the same colour again
    with pytest.raises(EditError, match="picked"):
        Hint.from_dict({"x": 4, "y": 5, "ab": [1, 2], "picked": "yes"})
    assert hint.resized(1000).radius == MAX_RADIUS and hint.resized(-3).radius == 0
    # The JSON form holds ab; a "color" (the CLI's hints-file form) is converted by that reader.
    with pytest.raises(EditError, match="lacks ab"):
        Hint.from_dict({"x": 4, "y": 5, "color": "#00ff00"})
    with pytest.raises(EditError, match="lacks ab"):
        Hint.from_dict({"x": 1, "y": 2})


def test_snap_hint_keeps_hue_and_fits_the_lightness():
    hint = Hint.from_rgb(0, 0, "#0000ff")  # deep blue cannot be very light
    snapped = snap_hint_to_gamut(hint, 90.0)
    assert math.hypot(*snapped.ab) < math.hypot(*hint.ab)
    assert math.atan2(snapped.ab[1], snapped.ab[0]) == pytest.approx(math.atan2(hint.ab[1], hint.ab[0]))
    rgb = skimage.color.lab2rgb(np.array([[[90.0, *snapped.ab]]]))
    back = skimage.color.rgb2lab(rgb)[0, 0]
    assert back[1:] == pytest.approx(snapped.ab, abs=0.5)  # displayable: clipping changed nothing
    assert snap_hint_to_gamut(Hint(0, 0, (5, 5)), 50.0).ab == (5.0, 5.0)


def smooth_ab(h=40, w=60) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    return torch.stack((30 * torch.sin(x / 9), 20 * torch.cos(y / 7) + x / 3))


def test_sampling_is_seeded_and_deterministic():
    ab = smooth_ab()
    a1, m1 = sample_hints_from_ab(ab, 0.02, seed=7)
    a2, m2 = sample_hints_from_ab(ab, 0.02, seed=7)
    a3, m3 = sample_hints_from_ab(ab, 0.02, seed=8)
    assert torch.equal(a1, a2) and torch.equal(m1, m2)
    assert not torch.equal(m1, m3)


def test_sampling_density():
    h, w = 100, 120
    ab = smooth_ab(h, w)
    _, mask = sample_hints_from_ab(ab, 0.01, seed=1, patch=1)
    # 120 centres drawn with replacement: a few may coincide.
    assert 110 <= int(mask.sum()) <= 120
    _, mask3 = sample_hints_from_ab(ab, 0.01, seed=1, patch=3)
    assert int(mask.sum()) < int(mask3.sum()) <= 9 * 120
    assert covered(mask) <= covered(mask3)  # the same centres, grown to 3 x 3
    _, none = sample_hints_from_ab(ab, 0.0)
    assert float(none.sum()) == 0


def test_sampled_values_come_from_the_map():
    ab = smooth_ab()
    out, mask = sample_hints_from_ab(ab, 0.05, seed=2, patch=1)
    on = mask[0] > 0
    assert torch.equal(out[:, on], ab[:, on])
    assert float(out[:, ~on].abs().sum()) == 0
    # A 3 x 3 patch takes the mean ab under it: on a map linear in x and y, the centre's value.
    y, x = torch.meshgrid(torch.arange(30.0), torch.arange(30.0), indexing="ij")
    linear = torch.stack((x - 15, 2 * y - 30))
    for seed in range(20):  # one centre per draw; find a draw away from the border
        out, mask = sample_hints_from_ab(linear, 1 / 900, seed=seed, patch=3)
        ys, xs = torch.nonzero(mask[0], as_tuple=True)
        if len(ys) == 9:
            break
    assert len(ys) == 9
    cy, cx = int(ys.min()) + 1, int(xs.min()) + 1
    assert torch.allclose(out[:, ys, xs], linear[:, cy, cx, None].expand(2, 9))


def test_sampling_skips_very_dark_and_bright_pixels():
    ab = smooth_ab(30, 30)
    L = torch.full((1, 30, 30), 1.0)
    L[:, :, 15:] = 50.0  # dark left half, mid-grey right half
    _, mask = sample_hints_from_ab(ab, 0.05, seed=4, patch=1, L=L)
    assert int(mask.sum()) > 0
    assert float(mask[0, :, :15].sum()) == 0


def test_sampling_rejects_bad_shapes():
    with pytest.raises(ValueError):
        sample_hints_from_ab(torch.zeros(3, 10, 10), 0.1)


def test_push_pull_fill_keeps_hints_and_spreads_them():
    from core.hints import push_pull_fill

    ab = torch.zeros(1, 2, 40, 60)
    mask = torch.zeros(1, 1, 40, 60)
    ab[0, :, 5, 5] = torch.tensor([30.0, -20.0])
    mask[0, 0, 5, 5] = 1
    ab[0, :, 35, 55] = torch.tensor([-40.0, 10.0])
    mask[0, 0, 35, 55] = 1
    filled = push_pull_fill(ab, mask)
    assert torch.allclose(filled[0, :, 5, 5], torch.tensor([30.0, -20.0]))
    assert torch.allclose(filled[0, :, 35, 55], torch.tensor([-40.0, 10.0]))
    # Every pixel gets a colour, each corner close to its nearer hint's.
    assert bool((filled.abs().sum(dim=1) > 0).all())
    assert float(filled[0, 0, 0, 0]) > 15 and float(filled[0, 0, 39, 59]) < -15
    # No hints: nothing to spread.
    assert torch.count_nonzero(push_pull_fill(torch.zeros(1, 2, 8, 8), torch.zeros(1, 1, 8, 8))) == 0
    with pytest.raises(ValueError):
        push_pull_fill(torch.zeros(1, 3, 8, 8), torch.zeros(1, 1, 8, 8))
