"""The edge-aware propagation (core.propagation) and the user edit built on it (core.user_edit)."""

from __future__ import annotations

import numpy as np
import pytest

from core.propagation import edge_aware_filter, edge_weights, influence, propagate
from core.user_edit import (
    CAST_DOUBT,
    CAST_LIMIT,
    CAST_LOCAL_DOUBT,
    USER_THETA,
    agreed_cast,
    compose_user_edit,
    extend_over_regions,
    lightness_regions,
    local_cast,
    reach_theta,
    region_fill,
    semantic_guide,
    user_edit_weights,
    user_hint_influence,
    user_hint_planes,
)


def _two_halves(height: int = 40, width: int = 60, step: float = 40.0) -> np.ndarray:
    """Lightness 30 on the left half, 30 + step on the right half."""
    L = np.full((height, width), 30.0, dtype=np.float32)
    L[:, width // 2 :] += step
    return L


def _hint(height: int, width: int, y: int, x: int, ab=(40.0, -20.0)):
    values = np.zeros((2, height, width), dtype=np.float32)
    mask = np.zeros((1, height, width), dtype=np.float32)
    values[:, y - 1 : y + 2, x - 1 : x + 2] = np.asarray(ab, dtype=np.float32)[:, None, None]
    mask[:, y - 1 : y + 2, x - 1 : x + 2] = 1.0
    return values, mask


def test_filter_keeps_a_flat_image_and_its_shape():
    weights = edge_weights(_two_halves())
    flat = np.full((3, 40, 60), 7.5, dtype=np.float32)
    out = edge_aware_filter(flat, weights)
    assert out.shape == flat.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, 7.5, rtol=1e-5)


def test_filter_is_linear():
    weights = edge_weights(_two_halves())
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 1, 40, 60)).astype(np.float32)
    np.testing.assert_allclose(
        edge_aware_filter(2 * a + b, weights), 2 * edge_aware_filter(a, weights) + edge_aware_filter(b, weights), atol=1e-4
    )


def test_influence_stops_at_a_lightness_edge():
    weights = edge_weights(_two_halves(), sigma_s=64, sigma_r=6)
    reach = influence([(20, 10)], weights)
    assert reach[20, 10] == pytest.approx(1.0)
    same_side = reach[20, 29]  # 19 pixels away, same region
    other_side = reach[20, 31]  # 21 pixels away, across the edge
    assert same_side > 0.5
    assert other_side < 0.05 * same_side


def test_influence_fades_with_distance_on_flat_ground():
    weights = edge_weights(np.full((64, 128), 50.0, dtype=np.float32), sigma_s=16)
    row = influence([(32, 10)], weights)[32, 10:]
    assert row[0] == pytest.approx(1.0, abs=1e-3)
    assert np.all(np.diff(row) <= 1e-6)  # never grows away from the hint
    assert row[60] < 0.05


def test_propagate_keeps_hint_values_and_fills_the_region():
    L = _two_halves()
    weights = edge_weights(L, sigma_s=64, sigma_r=6)
    values, mask = _hint(40, 60, 20, 10)
    prior = np.full_like(values, 3.0)
    filled, support = propagate(values, mask, weights, prior=prior, prior_weight=0.1)
    np.testing.assert_allclose(filled[:, 19:22, 9:12], values[:, 19:22, 9:12])
    assert filled[0, 5, 25] == pytest.approx(40.0, abs=2.0)  # same region: the hint's colour
    assert filled[0, 20, 55] == pytest.approx(3.0, abs=2.0)  # across the edge: the prior
    assert support.shape == (1, 40, 60) and 0.0 <= support.min() and support.max() <= 1.0


def test_guide_stops_the_spread_where_lightness_shows_no_edge():
    L = np.full((40, 60), 50.0, dtype=np.float32)
    guide = np.zeros((2, 40, 60), dtype=np.float32)
    guide[0, :, 30:] = 40.0  # a colour boundary of equal lightness
    plain = influence([(20, 10)], edge_weights(L, sigma_s=64))
    guided = influence([(20, 10)], edge_weights(L, sigma_s=64, guide=guide, sigma_guide=4))
    assert guided[20, 40] < 0.1 * plain[20, 40]


@pytest.mark.parametrize(
    "call",
    [
        lambda: edge_weights(np.zeros((2, 3, 4))),
        lambda: edge_weights(np.zeros((4, 4)), sigma_s=0),
        lambda: edge_weights(np.zeros((4, 4)), iterations=0),
        lambda: edge_weights(np.zeros((4, 4)), guide=np.zeros((2, 4, 5))),
        lambda: edge_aware_filter(np.zeros((1, 5, 4)), edge_weights(np.zeros((4, 4)))),
        lambda: propagate(np.zeros((2, 4, 4)), np.zeros((2, 4, 4)), edge_weights(np.zeros((4, 4)))),
        lambda: propagate(np.zeros((2, 4, 4)), np.zeros((1, 4, 4)), edge_weights(np.zeros((4, 4))), prior=np.zeros((4, 4))),
        lambda: influence([(9, 0)], edge_weights(np.zeros((4, 4)))),
    ],
)
def test_bad_shapes_and_arguments_raise(call):
    with pytest.raises(ValueError):
        call()


def test_compose_user_edit_recolours_the_region_only():
    L = _two_halves()
    weights = user_edit_weights(L, sigma_s=64, sigma_r=6)
    base = np.zeros((2, 40, 60), dtype=np.float32)
    base[1] = 10.0
    hint_ab, mask = _hint(40, 60, 20, 10)
    out = compose_user_edit(base, hint_ab, mask, [(20, 10)], weights)
    np.testing.assert_allclose(out[:, 20, 10], (40.0, -20.0))  # the hint itself
    np.testing.assert_allclose(out[:, 20, 25], (40.0, -20.0), atol=3.0)  # its region
    np.testing.assert_allclose(out[:, 20, 45], base[:, 20, 45], atol=1.0)  # across the edge: untouched


def test_one_correction_casts_a_little_a_recolouring_none():
    change = np.array([[9.0, -12.0]])  # 15 ab units: a correction
    weight = (1 - (15.0 / CAST_LIMIT) ** 2) ** 2
    np.testing.assert_allclose(agreed_cast(change, [[20.0, 5.0]], [1.0]), change[0] * weight / (weight + CAST_DOUBT))
    np.testing.assert_array_equal(agreed_cast([[CAST_LIMIT, 0.0]], [[50.0, 0.0]], [1.0]), (0.0, 0.0))  # a recolouring
    np.testing.assert_array_equal(agreed_cast(change, [[20.0, 5.0]], [0.0]), (0.0, 0.0))  # a hint kept local
    np.testing.assert_array_equal(agreed_cast(np.zeros((0, 2)), np.zeros((0, 2)), []), (0.0, 0.0))
    largest = max(np.hypot(*agreed_cast([[size, 0.0]], [[size, 0.0]], [1.0])) for size in np.linspace(0, 2 * CAST_LIMIT, 401))
    assert 3.0 < largest < 4.5  # whatever one hint's change, the rest of the photo moves a few units at most
    with pytest.raises(ValueError):
        agreed_cast(change, [[1.0, 2.0], [3.0, 4.0]], [1.0])


def test_hints_that_agree_cast_more_and_a_stroke_counts_once():
    change = np.tile([[6.0, 8.0]], (5, 1))
    distinct = [[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [30.0, 0.0], [40.0, 0.0]]
    one = agreed_cast(change[:1], distinct[:1], [1.0])
    five = agreed_cast(change, distinct, [1.0] * 5)
    stroke = agreed_cast(change, np.tile([[1.0, 2.0]], (5, 1)), [1.0] * 5)
    np.testing.assert_allclose(stroke, one)
    # Colours a user cannot tell apart (a hand-made stroke, a colour taken from a hint) are one too.
    np.testing.assert_allclose(agreed_cast(change, [[1.0, 2.0 + 0.01 * i] for i in range(5)], [1.0] * 5), one)
    assert np.hypot(*five) > 2 * np.hypot(*one)
    assert np.hypot(*five) < 10.0  # never more than the hints' change
    # Corrections that disagree cancel.
    np.testing.assert_allclose(agreed_cast([[6.0, 8.0], [-6.0, -8.0]], [[0.0, 0.0], [20.0, 0.0]], [1.0, 1.0]), (0.0, 0.0))
    # A recolouring (or a local hint) of the same colour as a correction lends it nothing.
    shared = agreed_cast([[6.0, 8.0], [40.0, 0.0]], [[1.0, 2.0], [1.0, 2.0]], [1.0, 1.0])
    assert abs(shared[0] * 8.0 - shared[1] * 6.0) < 1e-9 and 0 < np.hypot(*shared) <= np.hypot(*one)  # along the correction
    np.testing.assert_array_equal(agreed_cast([[40.0, 0.0], [6.0, 8.0]], [[1.0, 2.0], [1.0, 2.0]], [1.0, 0.0]), (0.0, 0.0))


def test_a_correction_shifts_the_rest_of_the_photo_by_its_cast():
    L = _two_halves()
    weights = user_edit_weights(L, sigma_s=64, sigma_r=6)
    base = np.zeros((2, 40, 60), dtype=np.float32)
    base[1] = 10.0
    hint_ab, mask = _hint(40, 60, 20, 10, ab=(9.0, -2.0))  # 15 ab units from the base
    out = compose_user_edit(base, hint_ab, mask, [(20, 10)], weights)
    cast = local_cast([[9.0, -12.0]], [[9.0, -2.0]], [1.0], [(20, 10)], L, None, base)
    np.testing.assert_allclose(out[:, 20, 55], base[:, 20, 55] + cast[:, 20, 55], atol=0.05)  # across the edge
    # Edge weights that carry no lightness (an older caller) shift the rest by the photo-wide cast.
    plain = edge_weights(L, 64, 6, 2)
    far = compose_user_edit(base, hint_ab, mask, [(20, 10)], plain)
    np.testing.assert_allclose(far[:, 20, 55], base[:, 20, 55] + agreed_cast([[9.0, -12.0]], [[9.0, -2.0]], [1.0]), atol=0.05)
    np.testing.assert_allclose(out[:, 20, 10], (9.0, -2.0))  # the hint itself
    # Measured from the colours before the hint: where the base already carries the hint's colour
    # (a sub-net that reads the hints), a recolouring casts nothing.
    recoloured = np.where(mask > 0, hint_ab, base)
    far_ab, _ = _hint(40, 60, 20, 10, ab=(40.0, -30.0))
    out = compose_user_edit(np.where(mask > 0, far_ab, base), far_ab, mask, [(20, 10)], weights, before_ab=base)
    np.testing.assert_allclose(out[:, 20, 55], base[:, 20, 55], atol=1e-4)
    with pytest.raises(ValueError):
        compose_user_edit(recoloured, hint_ab, mask, [(20, 10)], weights, before_ab=base[:, :10])


def test_a_correction_moves_things_like_it_and_the_rest_by_the_photo_wide_cast():
    L = _two_halves()
    change, colour = np.array([[9.0, -12.0]]), [[9.0, -2.0]]  # 15 ab units: a correction
    prior = agreed_cast(change, colour, [1.0])
    cast = local_cast(change, colour, [1.0], [(20, 10)], L)
    weight = (1 - (15.0 / CAST_LIMIT) ** 2) ** 2
    np.testing.assert_allclose(cast[:, 20, 10], (weight * change[0] + CAST_LOCAL_DOUBT * prior) / (weight + CAST_LOCAL_DOUBT), rtol=1e-5)
    along = cast.reshape(2, -1).T @ change[0] / (change[0] @ change[0])  # share of the change taken
    assert along.reshape(40, 60)[:, :30].min() > 0.4  # the same lightness, anywhere on the left (the prior: 0.22)
    np.testing.assert_allclose(cast[:, 0, 59], prior, atol=0.2)  # far and of another lightness: the photo-wide cast
    assert np.hypot(*prior) < 3.5
    # A recolouring pulls nothing; a hint kept local neither.
    np.testing.assert_array_equal(local_cast([[CAST_LIMIT, 0.0]], [[50.0, 0.0]], [1.0], [(20, 10)], L), 0.0)
    np.testing.assert_array_equal(local_cast(change, colour, [0.0], [(20, 10)], L), 0.0)


def test_corrections_that_disagree_each_move_their_own_kind_of_thing():
    # The automatic colours are off one way on the dark half and the other way on the light half:
    # the photo-wide cast of the two corrections is nothing, the local cast follows each.
    L = _two_halves()
    changes, colours = [[10.0, 0.0], [-10.0, 0.0]], [[10.0, 5.0], [-10.0, 5.0]]
    assert abs(agreed_cast(changes, colours, [1.0, 1.0])[0]) < 1e-9
    cast = local_cast(changes, colours, [1.0, 1.0], [(20, 10), (20, 50)], L)
    assert cast[0, :, :30].min() > 4.5 and cast[0, :, 30:].max() < -4.5
    # The colour shown before the hints tells things of one lightness apart as well.
    flat, shown = np.full((40, 60), 50.0, np.float32), np.zeros((2, 40, 60), np.float32)
    shown[0, :, 30:] = 20.0
    plain = local_cast(changes[:1], colours[:1], [1.0], [(20, 10)], flat)
    seen = local_cast(changes[:1], colours[:1], [1.0], [(20, 10)], flat, None, shown)
    prior = agreed_cast(changes[:1], colours[:1], [1.0])
    assert seen[0, 20, 50] == pytest.approx(prior[0], abs=0.01) and plain[0, 20, 50] > prior[0] + 0.5
    assert seen[0, 20, 20] == pytest.approx(plain[0, 20, 20], rel=1e-4)


def test_the_cast_reads_what_things_are_and_the_colours_shown_before_the_hints():
    # One lightness on both sides of a cut; a correction on the left. What tells the right side
    # apart from the corrected thing is either the guide or the colour shown before the hints:
    # compose_user_edit must hand both to local_cast (else the right side follows by about half).
    height, width, change = 40, 60, np.array([9.0, -12.0])  # 15 ab units: a correction
    base = np.zeros((2, height, width), np.float32)
    base[1] = 10.0
    hint_ab, mask = _hint(height, width, 20, 10, ab=(9.0, -2.0))
    prior = agreed_cast([change], [[9.0, -2.0]], [1.0])

    guide = np.full((1, height, width), -3.0, np.float32)
    guide[:, :, 30:] = 3.0  # two kinds of thing of one grey
    weights = user_edit_weights(np.full((height, width), 30.0, np.float32), guide, sigma_s=64, sigma_r=6)
    share = lambda out, y, x: (out[:, y, x] - base[:, y, x]) @ change / (change @ change)  # of the change taken
    out = compose_user_edit(base, hint_ab, mask, [(20, 10)], weights)
    assert share(out, 20, 55) < 0.4  # the prior's 0.22 and a little of the claim's spread (0.58 without the guide)
    assert share(out, 2, 25) > 0.6  # the left side: its own thing
    assert np.hypot(*prior) / np.hypot(*change) == pytest.approx(0.22, abs=0.01)

    L = np.full((height, width), 30.0, np.float32)
    L[:, 29:31] = 0.0  # a dark line keeps the claim on the left
    before = base.copy()
    before[0, :, 31:] = 20.0  # the right side was shown in another colour before the hint
    weights = user_edit_weights(L, sigma_s=64, sigma_r=6)
    out = compose_user_edit(base, hint_ab, mask, [(20, 10)], weights, before_ab=before)
    np.testing.assert_allclose(out[:, 20, 55] - base[:, 20, 55], prior, atol=0.1)  # (0.52 of the change if read from the base)
    with pytest.raises(ValueError):
        compose_user_edit(base[:, :, :50], hint_ab[:, :, :50], mask[:, :, :50], [(20, 10)], weights)


def test_the_cast_of_many_hints_is_the_same_in_blocks(monkeypatch):
    rng = np.random.default_rng(3)
    L = _two_halves()
    changes, colours = rng.normal(scale=8.0, size=(20, 2)), rng.normal(scale=20.0, size=(20, 2))
    centres = [tuple(c) for c in rng.integers(0, 40, size=(20, 2))]
    whole = local_cast(changes, colours, [1.0] * 20, centres, L)
    monkeypatch.setattr("core.user_edit.CAST_BLOCK", 3)
    np.testing.assert_allclose(local_cast(changes, colours, [1.0] * 20, centres, L), whole, rtol=1e-5, atol=1e-5)


def test_a_strokes_hints_pull_as_one():
    L = _two_halves()
    one = local_cast([[6.0, 8.0]], [[1.0, 2.0]], [1.0], [(20, 10)], L)
    stroke = local_cast([[6.0, 8.0]] * 5, [[1.0, 2.0]] * 5, [1.0] * 5, [(20, 10)] * 5, L)
    np.testing.assert_allclose(stroke, one, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        local_cast([[6.0, 8.0]], [[1.0, 2.0]], [1.0], [(20, 60)], L)  # outside the photo
    with pytest.raises(ValueError):
        local_cast([[6.0, 8.0]], [[1.0, 2.0]], [1.0], [(20, 10)], L, np.zeros((3, 40, 59)))
    with pytest.raises(ValueError):
        local_cast([[6.0, 8.0]], [[1.0, 2.0]], [1.0, 1.0], [(20, 10)], L)


def test_the_cast_takes_each_hints_own_colour():
    # A local correction clicked over a recolouring: the later patch covers the earlier centre, but
    # each hint's own colour and reach decide its cast (neither casts: a new colour, a local hint).
    weights = user_edit_weights(_two_halves(), sigma_s=64, sigma_r=6)
    base = np.zeros((2, 40, 60), dtype=np.float32)
    hint_ab, mask = _hint(40, 60, 20, 10, ab=(6.0, 8.0))
    centres, thetas = [(20, 10), (20, 10)], [USER_THETA, reach_theta(0.0)]
    out = compose_user_edit(base, hint_ab, mask, centres, weights, thetas, colours=[(-40.0, 30.0), (6.0, 8.0)])
    np.testing.assert_allclose(out[:, 2, 58], (0.0, 0.0), atol=0.01)  # (the spread leaks a thousandth)
    read = compose_user_edit(base, hint_ab, mask, centres, weights, [USER_THETA, USER_THETA])  # both read (6, 8)
    assert np.hypot(*read[:, 2, 58]) > 1.0
    with pytest.raises(ValueError):
        compose_user_edit(base, hint_ab, mask, centres, weights, thetas, colours=[(6.0, 8.0)])


def test_compose_without_hints_returns_the_base():
    weights = user_edit_weights(_two_halves())
    base = np.random.default_rng(1).normal(size=(2, 40, 60)).astype(np.float32)
    out = compose_user_edit(base, np.zeros_like(base), np.zeros((1, 40, 60), np.float32), [], weights)
    np.testing.assert_array_equal(out, base)
    with pytest.raises(ValueError):
        compose_user_edit(base, base[:1], np.zeros((1, 40, 60), np.float32), [(1, 1)], weights)
    with pytest.raises(ValueError):
        user_hint_influence([(1, 1)], weights, theta=0)


def test_compose_computes_the_reach_the_caller_would_give():
    L = _two_halves()
    weights = user_edit_weights(L, sigma_s=64, sigma_r=6)
    base = np.random.default_rng(2).normal(0, 5, size=(2, 40, 60)).astype(np.float32)
    hint_ab, mask = _hint(40, 60, 20, 10)
    more_ab, more_mask = _hint(40, 60, 5, 50)
    hint_ab, mask = hint_ab + more_ab, mask + more_mask
    centres, thetas = [(20, 10), (5, 50)], [reach_theta(0.2), reach_theta(0.8)]
    reach = user_hint_influence(centres, weights, thetas)
    one_pass = compose_user_edit(base, hint_ab, mask, centres, weights, thetas)
    np.testing.assert_allclose(one_pass, compose_user_edit(base, hint_ab, mask, centres, weights, thetas, reach), atol=1e-4)
    with pytest.raises(ValueError):
        compose_user_edit(base, hint_ab, mask, centres, weights, thetas, reach[:10])


def test_user_hint_influence_is_one_near_the_hint():
    weights = user_edit_weights(_two_halves(), sigma_s=64, sigma_r=6)
    claim = user_hint_influence([(20, 10)], weights)
    assert claim[20, 10] == 1.0 and claim[20, 20] == 1.0
    assert claim[20, 50] < 0.1


def test_a_hint_reaches_further_the_higher_its_reach():
    # One flat region, 200 px wide: how much of it takes a hint's full colour grows with its reach.
    L = np.full((20, 200), 50.0, dtype=np.float32)
    weights = user_edit_weights(L)
    base = np.zeros((2, 20, 200), dtype=np.float32)
    hint_ab, mask = _hint(20, 200, 10, 5)
    taken = []
    for reach in (0.0, 0.5, 1.0):
        out = compose_user_edit(base, hint_ab, mask, [(10, 5)], weights, reach_theta(reach))
        taken.append(int((np.linalg.norm(out - hint_ab[:, 10:11, 5:6], axis=0) < 3.0).sum()))
    assert taken[0] < taken[1] < taken[2]
    assert reach_theta(0.5) == USER_THETA and reach_theta(0.0) == 1.0
    with pytest.raises(ValueError):
        reach_theta(1.5)


def test_each_hint_keeps_its_own_reach():
    # Two hints far apart on flat ground: the far-reaching one's colour covers more ground.
    L = np.full((20, 1000), 50.0, dtype=np.float32)
    weights = user_edit_weights(L)
    base = np.zeros((2, 20, 1000), dtype=np.float32)
    hint_ab, mask = _hint(20, 1000, 10, 250)
    more_ab, more_mask = _hint(20, 1000, 10, 750)
    hint_ab, mask = hint_ab + more_ab, mask + more_mask
    out = compose_user_edit(base, hint_ab, mask, [(10, 250), (10, 750)], weights, [reach_theta(0.1), reach_theta(0.9)])
    changed = np.linalg.norm(out, axis=0)[10] > 0.9 * np.linalg.norm(hint_ab[:, 10, 250])
    assert changed[500:].sum() > changed[:500].sum() + 20
    with pytest.raises(ValueError):
        compose_user_edit(base, hint_ab, mask, [(10, 250), (10, 750)], weights, [0.5])


def test_compose_takes_the_reach_the_caller_computed():
    weights = user_edit_weights(_two_halves(), sigma_s=64, sigma_r=6)
    base = np.zeros((2, 40, 60), dtype=np.float32)
    hint_ab, mask = _hint(40, 60, 20, 10)
    reach = user_hint_influence([(20, 10)], weights, 0.3)
    given = compose_user_edit(base, hint_ab, mask, [(20, 10)], weights, 0.3, reach)
    np.testing.assert_allclose(given, compose_user_edit(base, hint_ab, mask, [(20, 10)], weights, 0.3), atol=1e-5)
    with pytest.raises(ValueError):
        compose_user_edit(base, hint_ab, mask, [(20, 10)], weights, 0.3, reach[:10])


def test_a_stronger_hint_reaches_further():
    weights = edge_weights(np.full((20, 200), 50.0, dtype=np.float32))
    plain, strong = influence([(10, 5)], weights), influence([(10, 5)], weights, [4.0])
    assert (strong >= plain).all() and (strong == 1.0).sum() > (plain == 1.0).sum()
    with pytest.raises(ValueError):
        influence([(10, 5)], weights, [1.0, 2.0])


def test_user_hint_planes_give_each_region_its_hint_and_claim_only_it():
    L = _two_halves()
    weights = user_edit_weights(L, sigma_s=64, sigma_r=6)
    left_ab, left_mask = _hint(40, 60, 20, 10, ab=(40.0, -20.0))
    right_ab, right_mask = _hint(40, 60, 20, 50, ab=(-30.0, 35.0))
    hint_ab, mask = left_ab + right_ab, left_mask + right_mask
    centres = [(20, 10), (20, 50)]
    colour, claim = user_hint_planes(hint_ab, mask, weights, user_hint_influence(centres[:1], weights))
    np.testing.assert_allclose(colour[:, 20, 10], (40.0, -20.0))  # exact under a hint
    np.testing.assert_allclose(colour[:, 5, 25], (40.0, -20.0), atol=2.0)  # each half its own hint's colour
    np.testing.assert_allclose(colour[:, 35, 35], (-30.0, 35.0), atol=2.0)
    assert claim[20, 10] == 1 and claim[20, 50] == 1  # 1 under every hint ...
    assert claim[20, 25] > 0.9 and claim[20, 40] < 0.1  # ... and as far as the given reach claims
    assert colour.dtype == claim.dtype == np.float32 and claim.shape == (40, 60)
    empty, none = user_hint_planes(np.zeros_like(hint_ab), np.zeros_like(mask), weights, np.zeros((40, 60), np.float32))
    assert not empty.any() and not none.any()
    with pytest.raises(ValueError, match="size"):
        user_hint_planes(hint_ab, mask, weights, np.zeros((10, 10), np.float32))


def test_semantic_guide_separates_what_the_descriptors_tell_apart():
    # Two kinds of thing, left and right, in a (C, h, w) descriptor grid at stride 8.
    rng = np.random.default_rng(0)
    descriptors = np.empty((16, 4, 8), dtype=np.float32)
    descriptors[:, :, :4] = rng.standard_normal((16, 1, 1))
    descriptors[:, :, 4:] = rng.standard_normal((16, 1, 1))
    guide = semantic_guide(descriptors, (32, 64))
    assert guide.shape == (3, 32, 64) and guide.dtype == np.float32
    assert np.array_equal(guide, semantic_guide(descriptors.copy(), (32, 64)))  # deterministic
    left, right = guide[:, :, :16], guide[:, :, 48:]
    assert np.allclose(left, left[:, :1, :1], atol=1e-4) and np.allclose(right, right[:, :1, :1], atol=1e-4)
    assert np.abs(left[:, 0, 0] - right[:, 0, 0]).sum() > 1.5  # apart, in standard deviations
    assert not semantic_guide(np.ones((16, 4, 8), np.float32), (32, 64)).any()  # all alike: flat
    nearly_alike = 1.0 + 1e-4 * rng.standard_normal((16, 4, 8))
    assert np.abs(semantic_guide(nearly_alike, (32, 64))).max() < 0.05  # its noise is not blown up
    assert semantic_guide(descriptors[:2], (32, 64)).shape == (2, 32, 64)  # fewer channels than components
    with pytest.raises(ValueError):
        semantic_guide(np.ones((4, 8), np.float32), (32, 64))


def test_a_hint_stops_where_the_guide_changes_though_the_lightness_does_not():
    # Flat grey: only the guide tells the two halves apart (a sleeve before a wall of the same grey).
    L = np.full((200, 600), 50.0, dtype=np.float32)
    guide = np.zeros((3, 200, 600), dtype=np.float32)
    guide[0, :, 300:] = 4.0  # a step of four standard deviations: clearly another thing
    hint_ab, mask = _hint(200, 600, 100, 250)
    base = np.zeros((2, 200, 600), dtype=np.float32)
    plain = compose_user_edit(base, hint_ab, mask, [(100, 250)], user_edit_weights(L))
    guided = compose_user_edit(base, hint_ab, mask, [(100, 250)], user_edit_weights(L, guide))
    across, own = (slice(None), slice(80, 120), slice(310, 340)), (slice(None), slice(80, 120), slice(230, 290))
    assert np.abs(plain[across]).mean() > 25.0  # without the guide it spreads on
    assert np.abs(guided[across]).mean() < np.abs(plain[across]).mean() / 4
    assert np.abs(guided[own]).mean() == pytest.approx(np.abs(plain[own]).mean(), rel=0.02)  # its own side keeps it


def _strip_before_a_wall() -> np.ndarray:
    """A long dark strip (a sleeve, rows 40-59) across a lighter wall, 100 x 400."""
    L = np.full((100, 400), 70.0, dtype=np.float32)
    L[40:60] = 30.0
    return L


def test_lightness_regions_follow_the_lightness_and_the_guide():
    L = _strip_before_a_wall()
    labels = lightness_regions(L)
    assert labels.shape == L.shape and labels.dtype == np.int32
    assert len(np.unique(labels[45:55])) == 1  # the strip is one region...
    assert not set(np.unique(labels[45:55])) & set(np.unique(labels[:30]))  # ...apart from the wall
    guide = np.zeros((3, 100, 400), dtype=np.float32)
    guide[0, :, 200:] = 4.0  # another thing from the middle on, in the same grey
    cut = lightness_regions(L, guide)
    assert cut[50, 100] != cut[50, 300] and labels[50, 100] == labels[50, 300]
    np.testing.assert_array_equal(lightness_regions(L, guide), cut)  # deterministic
    with pytest.raises(ValueError):
        lightness_regions(L[None])
    with pytest.raises(ValueError):
        lightness_regions(L, guide[:, :10])


def test_a_claim_extends_over_the_region_it_mostly_covers():
    reach = np.array([[1.0, 1.0, 0.2, 0.0], [1.0, 0.6, 0.0, 0.0]], dtype=np.float32)
    regions = np.array([[0, 0, 0, 1], [0, 0, 1, 1]], dtype=np.int32)
    out = extend_over_regions(reach, regions)
    np.testing.assert_allclose(out, [[1.0, 1.0, 0.76, 0.0], [1.0, 0.76, 0.0, 0.0]], atol=1e-6)
    with pytest.raises(ValueError):
        extend_over_regions(reach, regions[:1])


def test_a_hint_fills_the_strip_it_lands_in_and_stays_off_the_wall():
    L = _strip_before_a_wall()
    hint_ab, mask = _hint(100, 400, 50, 20)
    base = np.zeros((2, 100, 400), dtype=np.float32)
    plain = compose_user_edit(base, hint_ab, mask, [(50, 20)], user_edit_weights(L, sigma_r=6, regions=False))
    filled = compose_user_edit(base, hint_ab, mask, [(50, 20)], user_edit_weights(L, sigma_r=6))
    far_end, wall = (0, slice(42, 58), slice(300, 380)), (0, slice(0, 30), slice(0, 100))
    assert filled[far_end].mean() > 2 * plain[far_end].mean()  # the fade along the strip is lifted
    assert filled[far_end].mean() > 15.0
    assert np.abs(filled[wall]).max() < 1.0 and np.abs(plain[wall]).max() < 1.0


def test_pieces_of_a_region_the_guide_crosses_twice_are_regions_of_their_own():
    L = np.full((60, 300), 50.0, dtype=np.float32)  # one flat region
    guide = np.zeros((3, 60, 300), dtype=np.float32)
    guide[0, :, 100:200] = -4.0  # the guide goes +, -, + across it
    labels = lightness_regions(L, guide)
    assert len({labels[30, 50], labels[30, 150], labels[30, 250]}) == 3
    weights = user_edit_weights(L, guide)
    claim = user_hint_influence([(30, 20)], weights)
    assert claim[:, 220:].max() < 0.05  # the far piece does not share the near one's claim


def test_a_local_hint_does_not_fill_its_region():
    L = np.full((128, 128), 50.0, dtype=np.float32)  # flat: the whole photo is one region
    weights, plain = user_edit_weights(L), user_edit_weights(L, regions=False)
    assert region_fill(reach_theta(0.0)) == 0.0 and region_fill(reach_theta(0.25)) == pytest.approx(0.5)
    assert region_fill(reach_theta(0.5)) == region_fill(reach_theta(1.0)) == 1.0
    local = user_hint_influence([(64, 10)], weights, reach_theta(0.0))
    np.testing.assert_array_equal(local, user_hint_influence([(64, 10)], plain, reach_theta(0.0)))
    filled = user_hint_influence([(64, 10)], weights)
    assert filled[:, 100:].min() > local[:, 100:].min() + 0.2  # at the default reach it fills the region
    # A local and a default hint in two regions: only the default one fills its region.
    halves = user_edit_weights(_two_halves(128, 512, 60.0), sigma_r=6)
    centres = [(64, 20), (64, 492)]
    mixed = user_hint_influence(centres, halves, [reach_theta(0.0), reach_theta(0.5)])
    both_filled = user_hint_influence(centres, halves, [reach_theta(0.5), reach_theta(0.5)])
    assert mixed[:, 200:240].max() < 0.1 and both_filled[:, 200:240].min() > 0.3
    np.testing.assert_allclose(mixed[:, 300:], both_filled[:, 300:], atol=0.02)
