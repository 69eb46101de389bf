"""core.pipeline: the stages as pure functions, their memoisation, and the shipped pipeline's numbers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch

from core.api import Colorizer, ColorizerConfig, Edit, Hint, Reference
from core.color import rgb_to_lab
from core.imageio import photo_from_array
from core.matching import content_descriptors
from core.models import ColorNet
from core.hints import rasterize_hints
from core.pipeline import StageCache, describe_globally, hint_centres, reference_lab, reference_rgb, reference_source, working_size_for

WEIGHTS = Path(__file__).resolve().parents[2] / "resources" / "weights"


def test_stage_cache_keeps_the_most_recently_used():
    cache, runs = StageCache(2), []

    def compute(key):
        return lambda: runs.append(key) or key * 10

    assert cache.get(1, compute(1)) == 10 and cache.get(2, compute(2)) == 20
    assert cache.get(1, compute(1)) == 10  # cached; 1 is now the most recent
    cache.get(3, compute(3))  # drops 2, the least recently used
    cache.get(1, compute(1))
    cache.get(2, compute(2))
    assert runs == [1, 2, 3, 2]


def test_reference_source_and_working_copies():
    pixels = skimage.data.astronaut()  # 512 x 512
    source = reference_source(photo_from_array(pixels))
    assert source.dtype == torch.uint8 and source.shape == (1, 3, 512, 512)
    assert torch.equal(source[0].permute(1, 2, 0), torch.from_numpy(pixels))
    grey16 = photo_from_array(np.full((8, 12), 65535, np.uint16))
    assert reference_source(grey16).shape == (1, 3, 8, 12) and int(reference_source(grey16).min()) == 255
    rgb = reference_rgb(source, 128)
    assert rgb.shape == (1, 3, 128, 128) and 0 <= float(rgb.min()) and float(rgb.max()) <= 1
    assert reference_lab(rgb, 1.25).shape == (1, 3, 160, 160)
    assert torch.allclose(reference_lab(rgb), rgb_to_lab(rgb))
    assert working_size_for((1000, 500), 256) == (512, 256)


def test_the_global_pass_returns_the_content_descriptors_explicitly(tiny_models):
    transfer = tiny_models.transfer
    L = torch.linspace(0, 100, 64 * 96).reshape(1, 1, 64, 96)
    global_only = ColorNet(width=0.125, global_dim=1280)
    semantics, described = describe_globally(transfer.encoder, transfer, L, global_only)
    assert list(semantics) == ["global_features"] and semantics["global_features"].shape == (1, transfer.encoder.global_dim)
    assert torch.allclose(described, content_descriptors(transfer.encoder, L), atol=1e-5)
    spatial = ColorNet(width=0.125, global_dim=1280, spatial_dims=transfer.encoder.spatial_dims).eval()
    semantics, _ = describe_globally(transfer.encoder, transfer, L, spatial)
    assert [tuple(m.shape[1:]) for m in semantics["spatial_features"]] == [(40, 8, 12), (112, 4, 6), (320, 2, 3)]
    assert spatial(L, **semantics).shape == (1, 2, 64, 96)  # the keyword arguments the net takes


def shipped_colorizer(**options) -> Colorizer:
    """The shipped weights at working size 128, in float32 (the recorded numbers' precision) unless asked."""
    config = ColorizerConfig(
        working_size=128, device="cpu", colornet=str(WEIGHTS / "colornet.pt"), decoder=str(WEIGHTS / "decoder-efficientnet_lite0.pt"),
        **{"precision": "float32", **options},
    )
    return Colorizer(config)


RECORDED = {
    # The paper's pipeline with content matching, the user's hints fed to the sub-net (the shipped
    # weights with spatial fusion).
    "match": (
        {"correspondence": "match", "user_edit": False},
        {  # mean a, mean b, std, ab at (40, 40) and at (100, 120)
            "automatic": (7.1689, 10.2786, 5.2877, (6.157, 13.891), (6.305, 9.975)),
            "reference": (11.4838, 12.9202, 12.1832, (2.565, 4.973), (3.729, -3.009)),
            "hint": (12.1094, 13.2352, 11.9888, (3.084, 5.650), (3.728, -3.007)),
        },
        0.57386,
    ),
    # Today's defaults: the soft warp, and the user's hints laid over the result edge-aware.
    "warp": (
        {},
        {
            "automatic": (7.1689, 10.2786, 5.2877, (6.157, 13.891), (6.305, 9.975)),
            "reference": (12.6457, 12.2028, 12.2796, (2.961, 4.441), (10.151, -9.653)),
            # Its region moves; the rest by the small cast of a change of 28 units, a little more on
            # things like the wall it lands on (core.user_edit.local_cast).
            "hint": (17.4777, 13.0840, 12.3479, (28.422, 11.541), (10.878, -9.649)),
        },
        0.74148,
    ),
}


@pytest.mark.parametrize("pipeline", sorted(RECORDED))
def test_the_shipped_pipeline_gives_its_recorded_numbers(pipeline):
    options, expected, coverage = RECORDED[pipeline]
    shipped = shipped_colorizer(**options)
    scene = skimage.data.astronaut()[::2, ::2].copy()
    L = rgb_to_lab(torch.from_numpy(scene[:, :192]).permute(2, 0, 1).double() / 255)[0].float().numpy()
    edit = Edit(shipped.hold(L, "target"), working_size=128, model=shipped.config.colornet)
    with_reference = replace(edit, references=(Reference(shipped.hold(scene[:, 64:], "reference")),))
    previews = {
        "automatic": shipped.preview(edit),
        "reference": shipped.preview(with_reference),
        "hint": shipped.preview(with_reference.with_hint(Hint(40, 40, (30.0, 10.0), 3))),
    }
    for name, (mean_a, mean_b, std, first, second) in expected.items():
        ab = previews[name].ab.astype(np.float64)
        assert ab.shape == (2, 171, 128)
        assert (ab[0].mean(), ab[1].mean(), ab.std()) == pytest.approx((mean_a, mean_b, std), abs=2e-3), name
        assert tuple(ab[:, 40, 40]) == pytest.approx(first, abs=2e-2) and tuple(ab[:, 120, 100]) == pytest.approx(second, abs=2e-2)
    assert previews["reference"].coverage == pytest.approx(coverage, abs=1e-3)
    assert shipped.palette(with_reference, 5) == [(200, 83, 46), (195, 90, 59), (115, 55, 47), (119, 90, 136), (129, 105, 80)]


def test_a_pin_holds_the_colour_shown_and_adds_nothing_to_the_cast():
    # A correction shifts the rest of the photo by its cast. A click that takes the colour now on
    # screen inside the corrected region, given as a colour of the user's, restates the correction
    # and moves the rest further; picked from the result, it holds the colour and moves nothing.
    shipped = shipped_colorizer()
    scene = skimage.data.astronaut()[::2, ::2].copy()
    L = rgb_to_lab(torch.from_numpy(scene[:, :192]).permute(2, 0, 1).double() / 255)[0].float().numpy()
    edit = Edit(shipped.hold(L, "target"), working_size=128, model=shipped.config.colornet)
    automatic = shipped.preview(edit).ab
    _, shown = shipped.preview(edit).colour_at(40, 40)
    corrected = edit.with_hint(Hint(40, 40, (shown[0] + 8, shown[1] - 6), 3))
    after = shipped.preview(corrected)
    _, on_screen = after.colour_at(70, 10)  # inside the corrected region, in another colour
    pinned = shipped.preview(corrected.with_hint(Hint(70, 10, on_screen, 3, picked=True))).ab
    restated = shipped.preview(corrected.with_hint(Hint(70, 10, on_screen, 3))).ab
    corner = (slice(None), 160, 10)  # far from both
    assert np.hypot(*(after.ab[corner] - automatic[corner])) > 2.0  # the correction's cast
    assert np.hypot(*(restated[corner] - after.ab[corner])) > 1.0
    assert np.hypot(*(pinned[corner] - after.ab[corner])) < 0.1
    assert hint_centres([Hint(40, 40, (1.0, 2.0), picked=True)], (192, 256), (128, 171))[2] == [None]


def test_each_hint_centre_lies_under_its_own_patch():
    # Whole-pixel clicks on a 640 x 800 photo at working size 256 x 320, and half-pixel cases: the
    # centre the user edit reads is a pixel the hint's patch paints, at every radius.
    rng = np.random.default_rng(5)
    for radius in (0.0, 2.0):
        for x, y in [(x, 2.0 * x % 800) for x in range(640)] + [tuple(rng.uniform(-0.5, 639.5, 2)) for _ in range(200)]:
            hint = Hint(x, y, (10.0, 20.0), radius)
            (centre,), _, (colour,) = hint_centres([hint], (640, 800), (256, 320))
            _, mask = rasterize_hints([hint], (640, 800), (256, 320))
            assert mask[0][centre] == 1 and colour == (10.0, 20.0), (x, y, radius)
    assert hint_centres([Hint(-5, 3, (1.0, 2.0))], (640, 800), (256, 320)) == ([], [], [])
