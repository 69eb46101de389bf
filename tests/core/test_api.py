"""The Colorizer session: what each edit recomputes, and what it delivers."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import skimage.data
import skimage.transform
import torch

from core.api import Colorizer, ColorizerConfig, working_size_for
from core.color import rgb_to_lab
from core.hints import Hint
from core.imageio import ImageError, OverwriteError, load_photo, photo_from_array, save_image

ALL_STAGES = {
    "resize_target", "precolorize", "encode_target", "encode_reference", "transfer", "colorize",
    "describe_target", "describe_reference", "match",
}


@pytest.fixture
def config():
    return ColorizerConfig(working_size=64, device="cpu", allow_random_weights=True)


@pytest.fixture
def colorizer(config, tiny_models, grey_photo_pixels):
    session = Colorizer(config, tiny_models)
    session.set_target(photo_from_array(grey_photo_pixels(96, 144)))
    return session


def small_colour(image: np.ndarray, side: int = 80) -> np.ndarray:
    h, w = image.shape[:2]
    scale = side / max(h, w)
    resized = skimage.transform.resize(image, (round(h * scale), round(w * scale)), anti_aliasing=True)
    return (resized * 255 + 0.5).astype(np.uint8)


@pytest.fixture(scope="module")
def astronaut():
    return small_colour(skimage.data.astronaut())


@pytest.fixture(scope="module")
def coffee():
    return small_colour(skimage.data.coffee())


def rerun_after(colorizer: Colorizer, edit) -> Counter:
    """The stages one preview reruns after ``edit``."""
    colorizer.preview()
    before = Counter(colorizer.stage_calls)
    edit()
    colorizer.preview()
    return Counter(colorizer.stage_calls) - before


def test_automatic_without_references_or_hints(colorizer):
    preview = colorizer.preview()
    assert colorizer.stage_calls["precolorize"] == 1
    assert colorizer.stage_calls["transfer"] == 0 and colorizer.stage_calls["encode_target"] == 0
    assert colorizer.stage_calls["colorize"] == 0  # the pre-colorization is the result
    w, h = colorizer.working_size
    assert (w, h) == (96, 64)
    assert preview.rgb.shape == (h, w, 3) and preview.rgb.dtype == np.uint8
    assert preview.ab.shape == (2, h, w) and preview.L.shape == (h, w)
    assert preview.original_size == (144, 96)
    assert rerun_after(colorizer, lambda: None) == Counter()  # nothing stale, nothing rerun


def test_first_reference_runs_the_transfer(colorizer, astronaut):
    colorizer.preview()
    colorizer.add_reference(astronaut)
    colorizer.preview()
    calls = colorizer.stage_calls
    assert calls["encode_target"] == 1 and calls["encode_reference"] == 1
    assert calls["transfer"] == 1 and calls["colorize"] == 1 and calls["precolorize"] == 1


def test_new_hint_reruns_only_colorize(colorizer, astronaut):
    colorizer.add_reference(astronaut)
    assert rerun_after(colorizer, lambda: colorizer.set_hints([Hint.from_rgb(20, 30, "#aa2211", 4)])) == Counter(
        {"colorize": 1}
    )
    # The same hints again change nothing.
    assert rerun_after(colorizer, lambda: colorizer.set_hints(list(colorizer.hints))) == Counter()


def test_hints_without_reference_rerun_only_colorize(colorizer):
    assert rerun_after(colorizer, lambda: colorizer.set_hints([Hint(5, 5, (30.0, 30.0))])) == Counter({"colorize": 1})


def test_blend_change_reruns_transfer_and_colorize_only(colorizer, astronaut):
    colorizer.add_reference(astronaut)
    assert rerun_after(colorizer, lambda: colorizer.set_blend(0.4)) == Counter({"transfer": 1, "colorize": 1})
    assert rerun_after(colorizer, lambda: colorizer.set_blend(0.4)) == Counter()
    with pytest.raises(ValueError):
        colorizer.set_blend(1.2)


def test_second_reference_encodes_only_itself(colorizer, astronaut, coffee):
    colorizer.add_reference(astronaut)
    assert rerun_after(colorizer, lambda: colorizer.add_reference(coffee)) == Counter(
        {"encode_reference": 1, "describe_reference": 1, "match": 1, "transfer": 1, "colorize": 1}
    )
    assert len(colorizer.references) == 2


def test_removing_or_reweighting_a_reference_does_not_re_encode(colorizer, astronaut, coffee):
    first = colorizer.add_reference(astronaut)
    second = colorizer.add_reference(coffee)
    assert rerun_after(colorizer, lambda: colorizer.set_reference_weight(second, 3.0)) == Counter(
        {"transfer": 1, "colorize": 1}
    )
    assert rerun_after(colorizer, lambda: colorizer.remove_reference(first)) == Counter(
        {"match": 1, "transfer": 1, "colorize": 1}
    )
    assert [r.id for r in colorizer.references] == [second]
    # Removing the last one returns to the automatic result, with nothing recomputed but the cache.
    assert rerun_after(colorizer, lambda: colorizer.remove_reference(second)) == Counter()
    with pytest.raises(KeyError):
        colorizer.remove_reference(first)


def test_working_size_change_reruns_everything(colorizer, astronaut, coffee):
    colorizer.add_reference(astronaut)
    colorizer.add_reference(coffee)
    colorizer.set_hints([Hint(10, 10, (20.0, 0.0))])
    rerun = rerun_after(colorizer, lambda: colorizer.set_working_size(80))
    assert set(rerun) == ALL_STAGES
    assert rerun["encode_reference"] == 2
    assert colorizer.preview().rgb.shape[:2] == (80, 120)


def test_new_target_keeps_the_references_encoded(colorizer, astronaut, grey_photo_pixels):
    colorizer.add_reference(astronaut)
    rerun = rerun_after(colorizer, lambda: colorizer.set_target(photo_from_array(grey_photo_pixels(80, 60, seed=3))))
    assert rerun["encode_reference"] == 0 and rerun["describe_reference"] == 0
    assert rerun["precolorize"] == 1 and rerun["describe_target"] == 1 and rerun["match"] == 1 and rerun["encode_target"] == 1 and rerun["transfer"] == 1
    assert colorizer.original_size == (60, 80)


def test_reference_changes_the_result(colorizer, astronaut, coffee):
    automatic = colorizer.preview().ab
    colorizer.add_reference(astronaut)
    with_astronaut = colorizer.preview().ab
    colorizer.clear_references()
    colorizer.add_reference(coffee)
    with_coffee = colorizer.preview().ab
    assert not np.allclose(automatic, with_astronaut)
    assert not np.allclose(with_astronaut, with_coffee)


def test_grey_reference_is_refused(colorizer):
    grey = np.repeat(np.linspace(0, 255, 64 * 64).reshape(64, 64, 1).astype(np.uint8), 3, axis=2)
    with pytest.raises(ImageError, match="no colour"):
        colorizer.add_reference(grey)
    assert colorizer.references == ()
    with pytest.raises(ValueError):
        colorizer.add_reference(np.zeros((8, 8, 3), np.uint8) + [200, 30, 30], weight=0)


def test_full_resolution_export_keeps_size_and_lightness(colorizer, tmp_path, astronaut, grey_photo_pixels):
    pixels = grey_photo_pixels(150, 221)
    source = save_image(tmp_path / "grandma.png", pixels)
    colorizer.set_target(source)
    colorizer.add_reference(astronaut)
    out = colorizer.export(tmp_path / "grandma-colour.png")
    result = load_photo(out)
    assert result.size == (221, 150) and not result.is_grayscale and result.bit_depth == 8
    L_out = rgb_to_lab(torch.from_numpy(result.rgb_float()).permute(2, 0, 1).double())[0].numpy()
    L_in = load_photo(source).lightness()
    assert np.abs(L_out - L_in).max() <= 0.6


def test_export_refuses_to_overwrite_the_input(colorizer, tmp_path, grey_photo_pixels):
    source = save_image(tmp_path / "original.png", grey_photo_pixels(70, 90))
    before = source.read_bytes()
    colorizer.set_target(source)
    with pytest.raises(OverwriteError):
        colorizer.export(source)
    assert source.read_bytes() == before


def test_predicted_ab_at_matches_the_preview(colorizer, astronaut):
    colorizer.add_reference(astronaut)
    preview = colorizer.preview()
    W, H = preview.original_size
    w, h = colorizer.working_size
    for x, y in [(0, 0), (W - 1, H - 1), (70, 33), (13.4, 80.9)]:
        u, v = int((x + 0.5) * w / W), int((y + 0.5) * h / H)
        assert colorizer.predicted_ab_at(x, y) == pytest.approx(tuple(preview.ab[:, v, u]), abs=1e-5)


def test_sixteen_bit_input_gives_sixteen_bit_output(colorizer, tmp_path, grey_photo_pixels):
    pixels = grey_photo_pixels(70, 100).astype(np.uint16) * 257
    colorizer.set_target(photo_from_array(pixels))
    rendered = colorizer.render()
    assert rendered.dtype == np.uint16 and rendered.shape == (70, 100, 3)
    assert colorizer.render(max_side=50).dtype == np.uint8  # a display copy is 8-bit
    out = colorizer.export(tmp_path / "deep.png")
    assert load_photo(out).bit_depth == 16


def test_render_for_display_is_scaled_down(colorizer):
    shown = colorizer.render(max_side=72)
    assert shown.shape == (48, 72, 3) and shown.dtype == np.uint8


def test_render_progress_and_cancel(colorizer):
    from core.api import Cancelled

    fractions = []
    colorizer.render(progress=fractions.append)
    assert fractions and fractions[-1] == 1.0
    with pytest.raises(Cancelled):
        colorizer.render(cancel=lambda: True)


def test_snap_hint_and_palette(colorizer, astronaut):
    hint = colorizer.snap_hint(Hint.from_rgb(5, 5, "#0000ff"))
    assert np.hypot(*hint.ab) < np.hypot(*Hint.from_rgb(5, 5, "#0000ff").ab) + 1e-9
    assert colorizer.reference_palette() == []
    colorizer.add_reference(astronaut)
    palette = colorizer.reference_palette(5)
    assert len(palette) == 5 and all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in palette)


def test_no_target_is_a_clear_error(config, tiny_models):
    session = Colorizer(config, tiny_models)
    assert not session.has_target
    with pytest.raises(RuntimeError, match="set_target"):
        session.preview()


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
