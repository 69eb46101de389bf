"""The Colorizer: what each change of an edit recomputes, and what it delivers."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import skimage.data
import skimage.transform
import torch

from core.api import (
    Cancelled,
    Colorizer,
    ColorizerConfig,
    Edit,
    EditError,
    Hint,
    ImageError,
    OverwriteError,
    Reference,
    ab_plane_rgba,
    ab_to_rgb8,
    rgb8_to_ab,
    snap_ab,
    working_size_for,
)
from core.color import normalize_ab, rgb_to_lab
from core.imageio import load_photo, save_image
from core.pipeline import CLAIM_HELD

ALL_STAGES = {
    "resize_target", "precolorize", "encode_target", "encode_reference", "transfer", "colorize",
    "describe_target", "describe_reference", "warp", "user_weights", "user_edit",
}


@pytest.fixture
def config():
    return ColorizerConfig(working_size=64, device="cpu", allow_random_weights=True)


@pytest.fixture
def colorizer(config, tiny_models):
    return Colorizer(config, tiny_models)


@pytest.fixture
def edit(colorizer, grey_photo_pixels):
    return Edit(colorizer.hold(grey_photo_pixels(96, 144), "grandma"), working_size=64)


def small_colour(image: np.ndarray, side: int = 80) -> np.ndarray:
    h, w = image.shape[:2]
    scale = side / max(h, w)
    resized = skimage.transform.resize(image, (round(h * scale), round(w * scale)), anti_aliasing=True)
    return (resized * 255 + 0.5).astype(np.uint8)


@pytest.fixture(scope="module")
def astronaut_pixels():
    return small_colour(skimage.data.astronaut())


@pytest.fixture(scope="module")
def coffee_pixels():
    return small_colour(skimage.data.coffee())


@pytest.fixture
def astronaut(colorizer, astronaut_pixels):
    return Reference(colorizer.hold(astronaut_pixels, "astronaut"))


@pytest.fixture
def coffee(colorizer, coffee_pixels):
    return Reference(colorizer.hold(coffee_pixels, "coffee"))


def rerun_for(colorizer: Colorizer, before: Edit, after: Edit) -> Counter:
    """The stages one preview of ``after`` reruns once ``before`` has been previewed."""
    colorizer.preview(before)
    calls = Counter(colorizer.stage_calls)
    colorizer.preview(after)
    return Counter(colorizer.stage_calls) - calls


def test_automatic_without_references_or_hints(colorizer, edit):
    preview = colorizer.preview(edit)
    assert colorizer.stage_calls["precolorize"] == 1
    assert colorizer.stage_calls["transfer"] == 0 and colorizer.stage_calls["encode_target"] == 0
    assert colorizer.stage_calls["colorize"] == 0  # the pre-colorization is the result
    h, w = 64, 96
    assert preview.rgb.shape == (h, w, 3) and preview.rgb.dtype == np.uint8
    assert preview.ab.shape == (2, h, w) and preview.L.shape == (h, w)
    assert preview.original_size == (144, 96) and preview.coverage == 0.0
    assert rerun_for(colorizer, edit, replace(edit)) == Counter()  # nothing stale, nothing rerun


def test_first_reference_runs_the_transfer(colorizer, edit, astronaut):
    edit = replace(edit, match_content=False)  # the palette everywhere: the transfer always runs
    colorizer.preview(edit)
    colorizer.preview(replace(edit, references=(astronaut,)))
    calls = colorizer.stage_calls
    assert calls["encode_target"] == 1 and calls["encode_reference"] == 1
    assert calls["transfer"] == 1 and calls["colorize"] == 1 and calls["precolorize"] == 1


def test_prepare_computes_ahead_what_a_first_reference_and_hint_wait_for(
    config, tiny_models, colorizer, edit, astronaut, grey_photo_pixels, astronaut_pixels
):
    colorizer.preview(edit)
    before = Counter(colorizer.stage_calls)
    colorizer.prepare(edit)  # the soft warp: the transfer is not needed for a first reference
    assert Counter(colorizer.stage_calls) - before == Counter({"describe_target": 1, "user_weights": 1})
    warped = replace(edit, references=(astronaut,))
    assert rerun_for(colorizer, edit, warped)["encode_target"] == 0
    edit = replace(edit, match_content=False)  # matching off: a first reference is transferred everywhere
    before = Counter(colorizer.stage_calls)
    colorizer.prepare(edit)
    assert Counter(colorizer.stage_calls) - before == Counter({"encode_target": 1})
    referenced = replace(edit, references=(astronaut,))
    rerun = rerun_for(colorizer, edit, referenced)
    assert rerun["encode_reference"] == 1 and rerun["transfer"] == 1 and rerun["encode_target"] == 0
    hinted = referenced.with_hint(Hint(5, 5, (30.0, 30.0)))
    assert rerun_for(colorizer, referenced, hinted) == Counter({"user_edit": 1})
    # Prepared results are the ones a cold colorizer computes; preparing again costs nothing.
    cold = Colorizer(config, tiny_models)
    cold.hold(grey_photo_pixels(96, 144), "grandma"), cold.hold(astronaut_pixels, "astronaut")
    before = Counter(colorizer.stage_calls)
    colorizer.prepare(hinted)
    assert Counter(colorizer.stage_calls) == before
    assert np.allclose(cold.preview(hinted).ab, colorizer.preview(hinted).ab, atol=1e-5)
    # Stopped once it has begun, it caches nothing half-done; asked again, it computes each stage once.
    fresh = Colorizer(config, tiny_models)
    fresh.hold(grey_photo_pixels(96, 144), "grandma")
    fresh.preview(edit)
    answers = iter([False])  # go on at the start, stop at the first stage
    with pytest.raises(Cancelled):
        fresh.prepare(edit, cancel=lambda: next(answers, True))
    before = Counter(fresh.stage_calls)
    fresh.prepare(edit)
    assert Counter(fresh.stage_calls) - before == Counter({"encode_target": 1, "describe_target": 1, "user_weights": 1})


def test_an_unrelated_reference_is_not_even_transferred(colorizer, edit, astronaut):
    # With content matching on, a reference the warp finds unrelated lends no hints, so its colours
    # are neither encoded nor transferred: the result is the automatic one.
    automatic = colorizer.preview(edit).ab
    rerun = rerun_for(colorizer, edit, replace(edit, references=(astronaut,)))
    assert rerun["warp"] == 1 and rerun["encode_reference"] == 0 and rerun["transfer"] == 0
    assert np.allclose(colorizer.preview(replace(edit, references=(astronaut,))).ab, automatic)


def test_new_hint_reruns_only_the_user_edit(colorizer, edit, astronaut):
    edit = replace(edit, references=(astronaut,), match_content=False)  # its hints everywhere
    hinted = edit.with_hint(Hint.from_rgb(20, 30, "#aa2211", 4))
    # No network runs: where the hint claims, the references' colours step aside for the automatic
    # ones; the edge weights the hints spread with are computed once per photo (from the lightness
    # and the photo's content descriptors: this sub-net has no global-fusion pass that makes them).
    assert rerun_for(colorizer, edit, hinted) == Counter({"user_weights": 1, "describe_target": 1, "user_edit": 1})
    again = hinted.with_hint(Hint.from_rgb(60, 10, "#2211aa", 4))
    assert rerun_for(colorizer, hinted, again) == Counter({"user_edit": 1})
    automatic = colorizer.preview(replace(edit, references=())).ab
    with_reference, clicked = colorizer.preview(edit).ab, colorizer.preview(hinted).ab
    change = np.abs(clicked - with_reference).max(axis=0)
    assert change[5:20, 10:30].mean() > 30.0 and change[50:, 80:].mean() < change[5:20, 10:30].mean() / 5
    assert not np.allclose(automatic, with_reference)  # the reference does change the photo
    # The same hints again, even renumbered, change nothing.
    same = replace(edit, hints=tuple(replace(h, id=h.id + 10) for h in hinted.hints))
    assert rerun_for(colorizer, hinted, same) == Counter()


def test_hints_without_reference_rerun_only_the_user_edit(colorizer, edit):
    hinted = edit.with_hint(Hint(5, 5, (30.0, 30.0)))
    assert rerun_for(colorizer, edit, hinted) == Counter({"user_weights": 1, "describe_target": 1, "user_edit": 1})
    assert rerun_for(colorizer, hinted, hinted.with_hint(Hint(50, 60, (0.0, -30.0)))) == Counter({"user_edit": 1})


def test_a_hint_recolours_its_region_and_nothing_past_an_edge(colorizer, astronaut):
    # Two flat halves, dark and light, meet at a sharp edge; a hint in the dark half recolours it
    # (the sampled and warped hints step aside there); the change fades across the edge and is
    # gone at the far side of the light half. (Reach is in working pixels: the real working size.)
    lightness = np.full((256, 384), 15.0, dtype=np.float32)
    lightness[:, 192:] = 90.0
    edit = Edit(colorizer.hold(lightness, "halves"), references=(astronaut,), working_size=256)
    purple = (45.0, -40.0)
    before = colorizer.preview(edit).ab
    after = colorizer.preview(edit.with_hint(Hint(96, 128, purple, 2, reach=1.0))).ab  # the whole region
    towards = np.linalg.norm(after[:, :, 16:176] - np.array(purple)[:, None, None], axis=0)
    assert np.median(towards) < 6.0
    moved = np.linalg.norm(after - before, axis=0)
    assert moved[:, 208:].mean() < 0.1 * moved[:, :176].mean()
    assert moved[:, 320:].max() < 2.0


@pytest.fixture
def user_net_colorizer(config, tiny_models, grey_photo_pixels):
    """A colorizer whose sub-net reads the user's hints in channels of their own (random weights)."""
    from core.api import Models
    from core.models import ColorNet

    torch.manual_seed(1)
    colornet = ColorNet(width=0.125, user_hints=True).eval()
    colorizer = Colorizer(config, Models(colornet, tiny_models.transfer, torch.device("cpu"), {}))
    colorizer.hold(grey_photo_pixels(96, 144), "grandma")
    return colorizer


def test_a_user_hint_net_reruns_on_a_hint_with_the_hints_in_their_own_channels(user_net_colorizer, edit, astronaut_pixels):
    colorizer = user_net_colorizer
    reference = Reference(colorizer.hold(astronaut_pixels, "astronaut"))
    edit = replace(edit, references=(reference,), match_content=False)  # the references' hints everywhere
    hint = Hint.from_rgb(20, 30, "#aa2211", 4)
    seen = []
    colornet = colorizer.models.colornet
    handle = colornet.model1.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    try:
        expected = Counter({"user_weights": 1, "describe_target": 1, "user_edit": 1, "colorize": 1})
        assert rerun_for(colorizer, edit, edit.with_hint(hint)) == expected
    finally:
        handle.remove()
    planes = seen[-1][0]  # L, hint ab (filled), hint mask, user ab (times the claim), user claim
    assert planes.shape[0] == 7
    y, x = round(30.5 * 64 / 96 - 0.5), round(20.5 * 64 / 96 - 0.5)  # the hint (x 20, y 30) at working size
    claim = planes[6]
    assert claim[y, x] == 1 and float(claim.min()) >= 0 and float(claim.max()) <= 1
    assert float(claim[-1, -1]) < 0.5 * float(claim[y, x + 1])  # it fades with distance
    held = claim >= CLAIM_HELD
    assert planes[3][held].sum() == 0  # the references' hints stepped aside inside the claim
    assert planes[3][~held].sum() > 0  # ... and only there
    assert torch.allclose(planes[4:6, y, x], normalize_ab(torch.tensor(hint.ab, dtype=torch.float32)), atol=1e-4)
    hinted = colorizer.preview(edit.with_hint(hint)).ab
    assert np.allclose(hinted[:, y, x], hint.ab, atol=0.5)  # the hint's own pixel takes its colour


def test_the_papers_pipeline_feeds_a_user_hint_net_the_hints_with_the_references(config, tiny_models, grey_photo_pixels, edit):
    from core.api import Models
    from core.models import ColorNet

    torch.manual_seed(1)
    colornet = ColorNet(width=0.125, user_hints=True).eval()
    colorizer = Colorizer(replace(config, user_edit=False), Models(colornet, tiny_models.transfer, torch.device("cpu"), {}))
    colorizer.hold(grey_photo_pixels(96, 144), "grandma")
    hint = Hint.from_rgb(20, 30, "#aa2211", 4)
    seen = []
    handle = colornet.model1.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    try:
        colorizer.preview(edit.with_hint(hint))
    finally:
        handle.remove()
    planes = seen[-1][0]
    y, x = round(30.5 * 64 / 96 - 0.5), round(20.5 * 64 / 96 - 0.5)
    assert planes[3, y, x] == 1 and float(planes[4:].abs().sum()) == 0  # the hint mask, not the user's channels


def test_a_net_without_user_hint_inputs_refuses_them():
    from core.models import ColorNet

    net = ColorNet(width=0.125).eval()
    L, user = torch.full((1, 1, 16, 16), 50.0), torch.zeros(1, 1, 16, 16)
    user[0, 0, 4, 4] = 1
    with pytest.raises(ValueError, match="no user-hint input"):
        net(L, user_ab=torch.zeros(1, 2, 16, 16), user_mask=user)


def test_user_hint_inputs_at_zero_weight_change_nothing():
    from core.models import ColorNet

    torch.manual_seed(0)
    plain = ColorNet(width=0.125, hint_fill=True, fill_residual=True).eval()
    grown = ColorNet(width=0.125, hint_fill=True, fill_residual=True, user_hints=True).eval()
    state = plain.state_dict()
    weight = torch.zeros_like(grown.state_dict()["model1.0.weight"])
    weight[:, :4] = state["model1.0.weight"]
    grown.load_state_dict({**state, "model1.0.weight": weight})
    L = torch.linspace(0, 100, 32 * 32).reshape(1, 1, 32, 32)
    hints, mask = torch.zeros(1, 2, 32, 32), torch.zeros(1, 1, 32, 32)
    hints[:, :, 3, 3], mask[:, :, 3, 3] = 30.0, 1.0
    claim = torch.zeros(1, 1, 32, 32)
    claim[..., 20:, 20:] = torch.linspace(0, 1, 12 * 12).reshape(12, 12)
    with torch.no_grad():
        expected = plain(L, hints, mask)
        assert torch.allclose(grown(L, hints, mask), expected, atol=1e-5)
        claimed = grown(L, hints, mask, user_ab=torch.full((1, 2, 32, 32), 40.0), user_mask=claim)
    assert torch.allclose(claimed, expected, atol=1e-5)  # untrained user inputs change nothing
    assert grown.model_args()["user_hints"] is True and "user_hints" not in plain.model_args()


def test_hints_reach_the_sub_net_when_the_user_edit_is_off(tiny_models, edit, grey_photo_pixels):
    colorizer = Colorizer(ColorizerConfig(working_size=64, device="cpu", allow_random_weights=True, user_edit=False), tiny_models)
    colorizer.hold(grey_photo_pixels(96, 144, seed=1), "grandma")
    hinted = edit.with_hint(Hint(5, 5, (30.0, 30.0)))
    assert rerun_for(colorizer, edit, hinted) == Counter({"colorize": 1})


def test_blend_change_reruns_transfer_and_colorize_only(colorizer, edit, astronaut):
    edit = replace(edit, match_content=False)  # the palette everywhere: the transfer always runs
    edit = replace(edit, references=(astronaut,))
    assert rerun_for(colorizer, edit, replace(edit, blend=0.4)) == Counter({"transfer": 1, "colorize": 1})
    assert rerun_for(colorizer, replace(edit, blend=0.4), replace(edit, blend=0.4)) == Counter()
    with pytest.raises(EditError):
        replace(edit, blend=1.2)


def test_second_reference_encodes_only_itself(colorizer, edit, astronaut, coffee):
    edit = replace(edit, match_content=False)  # the palette everywhere: the transfer always runs
    one = replace(edit, references=(astronaut,))
    assert rerun_for(colorizer, one, replace(edit, references=(astronaut, coffee))) == Counter(
        {"encode_reference": 1, "transfer": 1, "colorize": 1}
    )


def test_second_reference_describes_only_itself(colorizer, edit, astronaut, coffee):
    one = replace(edit, references=(astronaut,))
    assert rerun_for(colorizer, one, replace(edit, references=(astronaut, coffee))) == Counter(
        {"describe_reference": 1, "warp": 1, "colorize": 1}  # both unrelated: no transfer
    )


def test_removing_or_reweighting_a_reference_does_not_re_encode(colorizer, edit, astronaut, coffee):
    edit = replace(edit, match_content=False)  # the palette everywhere: the transfer always runs
    both = replace(edit, references=(astronaut, coffee))
    reweighted = replace(edit, references=(astronaut, replace(coffee, weight=3.0)))
    assert rerun_for(colorizer, both, reweighted) == Counter({"transfer": 1, "colorize": 1})
    only_coffee = reweighted.without_reference(astronaut.path)
    assert rerun_for(colorizer, reweighted, only_coffee) == Counter({"transfer": 1, "colorize": 1})
    # Removing the last one returns to the automatic result, with nothing recomputed but the cache.
    assert rerun_for(colorizer, only_coffee, only_coffee.without_reference(coffee.path)) == Counter()


def test_working_size_change_reruns_everything(colorizer, edit, astronaut, coffee):
    edit = replace(edit, match_content=False)  # the palette everywhere: the transfer always runs
    edit = replace(edit, references=(astronaut, coffee)).with_hint(Hint(10, 10, (20.0, 0.0)))
    rerun = rerun_for(colorizer, edit, replace(edit, working_size=80))
    # Matching is off; the photo is described for the hint's edge weights.
    assert set(rerun) == ALL_STAGES - {"describe_reference", "warp"}
    assert rerun["encode_reference"] == 2
    assert colorizer.preview(replace(edit, working_size=80)).rgb.shape[:2] == (80, 120)


def test_new_photo_keeps_the_references_encoded(colorizer, edit, astronaut, grey_photo_pixels):
    edit = replace(edit, match_content=False)  # the palette everywhere: the transfer always runs
    edit = replace(edit, references=(astronaut,))
    other = replace(edit, photo=colorizer.hold(grey_photo_pixels(80, 60, seed=3)))
    rerun = rerun_for(colorizer, edit, other)
    assert rerun["encode_reference"] == 0 and rerun["describe_reference"] == 0
    assert rerun["precolorize"] == 1 and rerun["describe_target"] == 0 and rerun["warp"] == 0
    assert rerun["encode_target"] == 1 and rerun["transfer"] == 1
    assert colorizer.preview(other).original_size == (60, 80)


def test_content_matching_switch_does_not_rematch(colorizer, edit, astronaut):
    matched = replace(edit, references=(astronaut,))
    plain = replace(matched, match_content=False)
    rerun = rerun_for(colorizer, matched, plain)
    # The warp found the astronaut unrelated, so matching on never ran the transfer; off, it runs.
    assert rerun == Counter({"encode_target": 1, "encode_reference": 1, "transfer": 1, "colorize": 1})
    assert colorizer.preview(plain).coverage == 0.0
    # Back on: every stage's result is still cached.
    assert rerun_for(colorizer, plain, matched) == Counter()


def test_holding_a_key_again_replaces_the_photo(colorizer, edit, grey_photo_pixels):
    first = colorizer.preview(edit).ab
    assert colorizer.hold(grey_photo_pixels(96, 144, seed=5), "grandma") == edit.photo
    assert not np.array_equal(colorizer.preview(edit).ab, first)


def test_reference_changes_the_result(colorizer, edit, astronaut, coffee, astronaut_pixels):
    # The astronaut's own grey photo takes its colours from it; an unrelated photo lends little
    # while content matching is on (only where it resembles the photo, and only part of the way: a
    # loosely similar photo must do no harm), and its palette everywhere when it is off (the paper's
    # pipeline).
    own = Edit(colorizer.hold(rgb_to_lab(torch.from_numpy(astronaut_pixels / 255.0).permute(2, 0, 1))[0].numpy()), working_size=64)
    automatic = colorizer.preview(own).ab
    with_astronaut = colorizer.preview(replace(own, references=(astronaut,)))
    assert with_astronaut.coverage > 0.5 and not np.allclose(automatic, with_astronaut.ab)
    with_coffee = colorizer.preview(replace(edit, references=(coffee,)))
    assert with_coffee.coverage < 0.1 and np.abs(colorizer.preview(edit).ab - with_coffee.ab).mean() < 1.0
    plain = replace(edit, match_content=False)
    assert not np.allclose(colorizer.preview(replace(plain, references=(astronaut,))).ab, colorizer.preview(replace(plain, references=(coffee,))).ab)


def test_grey_reference_is_refused(colorizer, edit, tmp_path):
    grey = np.repeat(np.linspace(0, 255, 64 * 64).reshape(64, 64, 1).astype(np.uint8), 3, axis=2)
    path = save_image(tmp_path / "grey_ref.png", grey)
    message = "'grey_ref.png' has no colour to take; choose a colour photo as reference."
    with pytest.raises(ImageError) as error:
        colorizer.check_reference(path)
    assert str(error.value) == message
    with pytest.raises(ImageError, match="no colour"):
        colorizer.preview(replace(edit, references=(Reference(str(path)),)))
    with pytest.raises(EditError):
        Reference("x.png", weight=0)


def test_open_caches_by_path_and_notices_changes(colorizer, tmp_path, grey_photo_pixels):
    path = save_image(tmp_path / "a.png", grey_photo_pixels(20, 30))
    assert colorizer.open(path) is colorizer.open(str(path))
    save_image(path, grey_photo_pixels(25, 30), overwrite=True)
    assert colorizer.open(path).size == (30, 25)
    with pytest.raises(ImageError):
        colorizer.open(tmp_path / "missing.png")


def test_full_resolution_export_keeps_size_and_lightness(colorizer, tmp_path, astronaut, grey_photo_pixels):
    source = save_image(tmp_path / "grandma.png", grey_photo_pixels(150, 221))
    edit = Edit(str(source), references=(astronaut,), working_size=64)
    out = colorizer.export(edit, tmp_path / "grandma-colour.png")
    result = load_photo(out)
    assert result.size == (221, 150) and not result.is_grayscale and result.bit_depth == 8
    L_out = rgb_to_lab(torch.from_numpy(result.rgb_float()).permute(2, 0, 1).double())[0].numpy()
    L_in = load_photo(source).lightness()
    assert np.abs(L_out - L_in).max() <= 0.6


def test_export_never_writes_over_the_photo_or_a_reference(colorizer, tmp_path, grey_photo_pixels, astronaut_pixels):
    source = save_image(tmp_path / "original.png", grey_photo_pixels(70, 90))
    reference = save_image(tmp_path / "reference.png", astronaut_pixels)
    before = source.read_bytes(), reference.read_bytes()
    edit = Edit(str(source), references=(Reference(str(reference)),), working_size=64)
    for target in (source, reference):
        with pytest.raises(OverwriteError):
            colorizer.export(edit, target, overwrite=True)
    assert (source.read_bytes(), reference.read_bytes()) == before


def test_export_refuses_an_existing_file_unless_told(colorizer, tmp_path, grey_photo_pixels):
    source = save_image(tmp_path / "original.png", grey_photo_pixels(70, 90))
    edit = Edit(str(source), working_size=64)
    existing = tmp_path / "taken.png"
    existing.write_bytes(b"keep me")
    with pytest.raises(ImageError, match="already exists"):
        colorizer.export(edit, existing)
    assert existing.read_bytes() == b"keep me"
    assert colorizer.export(edit, existing, overwrite=True) == existing
    assert load_photo(existing).size == (90, 70)


def test_probe_matches_the_preview(colorizer, edit, astronaut):
    edit = replace(edit, references=(astronaut,))
    preview = colorizer.preview(edit)
    W, H = preview.original_size
    h, w = preview.L.shape
    held_lightness = None
    for x, y in [(0, 0), (W - 1, H - 1), (70, 33), (13.4, 80.9)]:
        u, v = int((x + 0.5) * w / W), int((y + 0.5) * h / H)
        probe = colorizer.probe(edit, x, y)
        assert probe.ab == pytest.approx(tuple(preview.ab[:, v, u]), abs=1e-5)
        assert 0 <= probe.L <= 100 and probe.gamut.shape == (96, 96, 4) and probe.gamut.dtype == np.uint8
        assert np.array_equal(probe.gamut, ab_plane_rgba(probe.L))
        held_lightness = probe.L
    assert held_lightness is not None


def test_sixteen_bit_input_gives_sixteen_bit_output(colorizer, tmp_path, grey_photo_pixels):
    edit = Edit(colorizer.hold(grey_photo_pixels(70, 100).astype(np.uint16) * 257), working_size=64)
    rendered = colorizer.render(edit)
    assert rendered.dtype == np.uint16 and rendered.shape == (70, 100, 3)
    assert colorizer.render(edit, max_side=50).dtype == np.uint8  # a display copy is 8-bit
    out = colorizer.export(edit, tmp_path / "deep.png")
    assert load_photo(out).bit_depth == 16


def test_render_for_display_is_scaled_down(colorizer, edit):
    shown = colorizer.render(edit, max_side=72)
    assert shown.shape == (48, 72, 3) and shown.dtype == np.uint8


def test_render_progress_and_cancel(colorizer, edit):
    fractions = []
    colorizer.render(edit, progress=fractions.append)
    assert fractions and fractions[-1] == 1.0
    with pytest.raises(Cancelled):
        colorizer.render(edit, cancel=lambda: True)
    with pytest.raises(Cancelled):
        colorizer.preview(edit, cancel=lambda: True)


def test_palette(colorizer, edit, astronaut):
    assert colorizer.palette(edit) == []
    palette = colorizer.palette(replace(edit, references=(astronaut,)), 5)
    assert len(palette) == 5 and all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in palette)


def test_colour_helpers_for_the_picker():
    assert ab_to_rgb8(100.0, (0.0, 0.0)) == (255, 255, 255)
    a, b = rgb8_to_ab((0, 0, 255))
    assert b < -100  # blue
    snapped = snap_ab(60.0, (a, b))
    assert np.hypot(*snapped) < np.hypot(a, b) + 1e-9
    assert ab_to_rgb8(60.0, snapped) == ab_to_rgb8(60.0, snap_ab(60.0, snapped))


def test_edit_without_a_photo_is_a_clear_error(colorizer):
    with pytest.raises(EditError, match="no photo"):
        colorizer.preview(Edit())


def test_another_model_is_loaded_once(colorizer, edit):
    colorizer.preview(replace(edit, model="other-model"))
    colorizer.preview(replace(edit, model="other-model").with_hint(Hint(3, 3, (10.0, 10.0))))
    assert colorizer.metadata["models"] == {"other-model": {"random": True}}
    assert colorizer.stage_calls["precolorize"] == 1


def test_a_spatial_fusion_model_reads_the_photo_once_per_size(colorizer, edit, tmp_path):
    from core.models import ColorNet, EfficientNetLite0Encoder
    from core.weights import save_weights

    torch.manual_seed(0)
    net = ColorNet(width=0.125, global_dim=1280, hint_fill=True, fill_residual=True, spatial_dims=EfficientNetLite0Encoder.spatial_dims)
    torch.nn.init.normal_(net.spatial_mix[-1].weight, std=0.5)  # the maps must change the colours
    path = save_weights(tmp_path / "spatial.pt", "colornet", net.model_args(), net.state_dict()).file
    spatial = replace(edit, model=str(path))
    automatic = colorizer.preview(spatial)
    hinted = colorizer.preview(spatial.with_hint(Hint(3, 3, (10.0, 10.0))))
    assert automatic.rgb.shape == hinted.rgb.shape and not np.array_equal(automatic.rgb, hinted.rgb)
    assert colorizer.stage_calls["global_features"] == 1  # a hint reruns the sub-net, not the encoder
    with torch.no_grad():
        net.spatial_mix[-1].weight.zero_()
    plain_path = save_weights(tmp_path / "silent.pt", "colornet", net.model_args(), net.state_dict()).file
    silent = colorizer.preview(replace(edit, model=str(plain_path)))
    assert not np.array_equal(silent.rgb, automatic.rgb)  # the same net without the maps' say differs


def test_a_preview_reads_the_colour_a_probe_gives(colorizer, edit):
    preview = colorizer.preview(edit)
    for x, y in ((0, 0), (71.5, 40.2), (143, 95), (500, -3)):  # corners and off the photo: clamped
        L, ab = preview.colour_at(x, y)
        probe = colorizer.probe(edit, x, y)
        assert ab == pytest.approx(probe.ab, abs=1e-5) and 0.0 <= L <= 100.0


def test_a_preview_stops_mid_network_when_a_newer_edit_waits(colorizer, edit, astronaut):
    from core.api import Cancelled

    edit = replace(edit, references=(astronaut,))
    for allowed in range(1, 40):  # cancel after the n-th check: before a stage or between net blocks
        checks = []

        def cancel() -> bool:
            checks.append(1)
            return len(checks) > allowed

        try:
            colorizer.preview(replace(edit, blend=0.5 + allowed / 100), cancel=cancel)
        except Cancelled:
            continue
        break
    assert allowed > 3  # it was stopped inside the run several times before it could finish
    counted = []
    colorizer.preview(replace(edit, blend=0.3), cancel=lambda: counted.append(1) and False)
    blocks = len(list(colorizer.models.colornet.children()))
    assert len(counted) > blocks  # checked before every block of the sub-net, not only between stages
    assert colorizer._pipeline.cancel is None  # nothing left armed
    finished = colorizer.preview(replace(edit, blend=0.5 + allowed / 100)).ab  # nothing half-done was cached
    colorizer._pipeline._caches.clear()  # everything computed again from scratch
    fresh = colorizer.preview(replace(edit, blend=0.5 + allowed / 100)).ab
    np.testing.assert_allclose(finished, fresh, atol=1e-5)
    with pytest.raises(Cancelled):
        colorizer.preview(replace(edit, blend=0.2), cancel=lambda: True)


def test_working_size_never_upscales():
    assert working_size_for((40, 30), 256) == (40, 30)
    assert working_size_for((4000, 3000), 256) == (341, 256)
    assert working_size_for((3000, 4000), 256) == (256, 341)


def test_config_validation():
    with pytest.raises(ValueError):
        ColorizerConfig(working_size=32)
    with pytest.raises(ValueError):
        ColorizerConfig(encoder="resnet")
    assert ColorizerConfig(encoder="vgg19").decoder_name == "decoder-vgg19"


def test_config_from_options(monkeypatch, tmp_path):
    monkeypatch.setenv("HEIRLOOM_ALLOW_RANDOM_WEIGHTS", "1")
    config = ColorizerConfig.from_options(device="cpu", model=tmp_path / "c.pt", working_size=128, matching=False)
    assert config.allow_random_weights and config.colornet == str(tmp_path / "c.pt") and config.working_size == 128
    assert not config.match_references and config.content_aware and config.device == "cpu"
    assert ColorizerConfig.from_options(allow_random_weights=False, match_scales=(1.0,)).match_scales == (1.0,)
    assert ColorizerConfig.from_options() == ColorizerConfig(allow_random_weights=True)
    with pytest.raises(TypeError):
        ColorizerConfig.from_options(colour="red")
