"""Content matching between the photo and its references (core.matching) and how the session uses it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch

from core.api import Colorizer, ColorizerConfig, Edit, Reference
from core.color import rgb_to_lab
from core.matching import Matches, clearance, content_descriptors, content_strength, correspondence_hints, descriptor_taps, match
from core.models import VGG19Encoder

WEIGHTS = Path(__file__).resolve().parents[2] / "resources" / "weights"


def lab_of(rgb8: np.ndarray) -> torch.Tensor:
    return rgb_to_lab(torch.from_numpy(rgb8).permute(2, 0, 1)[None].float() / 255)


@pytest.fixture(scope="module")
def scene():
    """A real photo, 128 x 192, with the left and right 3/4 as target and reference (shift 48 px)."""
    image = skimage.data.chelsea()[:256:2, :384:2].copy()
    return image, image[:, :144], image[:, 48:]


@pytest.fixture(scope="module")
def encoder(tiny_models):
    return tiny_models.transfer.encoder


def test_descriptor_taps_are_the_mid_level_ones(encoder):
    assert descriptor_taps(encoder) == ("reduction_3", "reduction_4")
    assert descriptor_taps(VGG19Encoder()) == ("relu4_1",)


def test_descriptors_are_unit_vectors_at_stride_8(encoder, scene):
    _, target, _ = scene
    with torch.inference_mode():
        d = content_descriptors(encoder, lab_of(target)[:, :1])
    assert d.shape == (1, 40 + 112, 16, 18)
    assert torch.allclose(d.norm(dim=1), torch.ones(16, 18), atol=1e-5)
    with pytest.raises(ValueError):
        content_descriptors(encoder, lab_of(target))  # three channels, not a lightness plane


def test_a_photo_matches_itself_everywhere(encoder, scene):
    image, _, _ = scene
    with torch.inference_mode():
        d = content_descriptors(encoder, lab_of(image)[:, :1])
    m = match(d, [d])
    assert torch.allclose(m.similarity, torch.ones_like(m.similarity), atol=1e-4)
    assert bool(m.mutual.all())
    assert torch.equal(m.position.flatten(), torch.arange(m.position.numel()))
    assert m.grids == ((16, 24),)


def test_overlapping_crops_match_at_the_shift(encoder, scene):
    _, target, reference = scene
    with torch.inference_mode():
        m = match(content_descriptors(encoder, lab_of(target)[:, :1]), [content_descriptors(encoder, lab_of(reference)[:, :1])])
    confident = m.confident(0.7)
    h, w = confident.shape
    # The reference starts 48 px = 6 cells into the target: cells from column 6 on can be matched.
    assert confident[:, 8:-2].float().mean() > 0.8
    assert confident[:, :4].float().mean() < 0.2
    ys, xs = torch.nonzero(confident[:, 8:-2], as_tuple=True)
    xs = xs + 8
    ref_y, ref_x = m.position[ys, xs] // m.grids[0][1], m.position[ys, xs] % m.grids[0][1]
    assert (ref_y == ys).float().mean() > 0.95 and (ref_x == xs - 6).float().mean() > 0.95


def test_each_cell_takes_the_reference_that_shows_it(encoder, scene):
    image, _, _ = scene
    left, right = image[:, :96], image[:, 96:]
    with torch.inference_mode():
        d = content_descriptors(encoder, lab_of(image)[:, :1])
        m = match(d, [content_descriptors(encoder, lab_of(left)[:, :1]), content_descriptors(encoder, lab_of(right)[:, :1])])
    assert (m.reference[:, 1:10] == 0).float().mean() > 0.9
    assert (m.reference[:, 14:23] == 1).float().mean() > 0.9


def test_match_refuses_bad_shapes():
    with pytest.raises(ValueError):
        match(torch.zeros(1, 4, 2, 2), [])
    with pytest.raises(ValueError):
        match(torch.zeros(1, 4, 2, 2), [torch.zeros(1, 5, 2, 2)])
    with pytest.raises(ValueError):
        match(torch.zeros(4, 2, 2), [torch.zeros(1, 4, 2, 2)])


def test_content_strength_ramps_between_the_bounds():
    s = content_strength(torch.tensor([[0.2, 0.55, 0.65, 0.75, 0.9]]), 0.55, 0.75)
    assert s.shape == (1, 1, 1, 5)
    assert s.flatten().tolist() == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.0])
    with pytest.raises(ValueError):
        content_strength(torch.zeros(2, 2), 0.7, 0.7)


def test_correspondence_hints_copy_the_matched_cell_colour():
    # A 2 x 2 target grid over 16 x 16 pixels; a 2 x 3 reference grid over 16 x 24 pixels.
    ref_ab = torch.zeros(2, 16, 24)
    ref_ab[0, 8:, 16:] = 40.0  # reference cell (1, 2) is red
    ref_ab[1, :8, :8] = -30.0  # reference cell (0, 0) is blue
    matches = Matches(
        similarity=torch.tensor([[0.9, 0.9], [0.5, 0.95]]),
        reference=torch.zeros(2, 2, dtype=torch.long),
        position=torch.tensor([[5, 0], [0, 0]]),  # target (0, 0) -> ref (1, 2); others -> ref (0, 0)
        mutual=torch.tensor([[True, False], [True, True]]),
        grids=((2, 3),),
    )
    ab, mask = correspondence_hints(matches, [ref_ab], (16, 16), threshold=0.7, patch=3)
    assert ab.shape == (2, 16, 16) and mask.shape == (1, 16, 16)
    # Confident: (0, 0) (red) and (1, 1) (blue); (0, 1) is not mutual, (1, 0) not similar enough.
    assert mask.sum() == 2 * 9
    assert mask[0, 3:6, 3:6].all() and ab[0, 4, 4] == pytest.approx(40.0) and ab[1, 4, 4] == 0
    assert mask[0, 11:14, 11:14].all() and ab[1, 12, 12] == pytest.approx(-30.0)
    assert not mask[0, 4, 12] and not mask[0, 12, 4]


def test_clearance_covers_the_neighbourhood_of_matched_cells():
    confident = torch.zeros(4, 6, dtype=torch.bool)
    confident[1, 4] = True
    matches = Matches(confident.float(), torch.zeros(4, 6, dtype=torch.long), torch.zeros(4, 6, dtype=torch.long), confident, ((4, 6),))
    near = clearance(matches, 0.5, (32, 48), radius=8)  # 8 px = one cell
    assert near.shape == (1, 32, 48)
    assert near[0, 0:24, 24:48].all()  # cells (0..2, 3..5)
    assert not near[0, 24:, :].any() and not near[0, :, :24].any()
    assert torch.equal(clearance(matches, 0.5, (32, 48), radius=0)[0], confident.repeat_interleave(8, 0).repeat_interleave(8, 1).float())


# --- in the session ---------------------------------------------------------------------------


def session_edit(session: Colorizer, target: np.ndarray, *references: np.ndarray, **fields) -> Edit:
    """An edit of ``target``'s true lightness with ``references``, at the session's working size."""
    photo = session.hold(lab_of(target)[0, 0].numpy(), "target")
    held = tuple(Reference(session.hold(r, f"reference-{i}")) for i, r in enumerate(references))
    return Edit(photo, held, working_size=session.config.working_size, model=session.config.colornet, **fields)


@pytest.mark.parametrize("correspondence", ["warp", "match"])
def test_matching_stages_are_cached(tiny_models, scene, correspondence):
    image, target, reference = scene
    config = ColorizerConfig(working_size=128, device="cpu", allow_random_weights=True, correspondence=correspondence)
    session = Colorizer(config, tiny_models)
    edit = replace(session_edit(session, target, reference), photo=session.hold(target, "grey photo"))
    session.preview(edit)
    calls = session.stage_calls
    assert calls["describe_target"] == 1 and calls["describe_reference"] == 1 and calls[correspondence] == 1
    # Only the warp looks at the mirror image too: one more entry, from the same encoder pass.
    scales = len(session.config.match_scales)
    described = session._pipeline.reference_descriptors(session._job(edit).references[0], 128)
    assert len(described) == scales + (correspondence == "warp")
    preview = session.preview(replace(edit, blend=0.5, hints=()))
    assert calls["describe_target"] == 1 and calls[correspondence] == 1  # the blend does not change what matches
    assert preview.coverage > 0.5


def test_coverage_tells_a_related_from_an_unrelated_reference(tiny_models, scene):
    _, target, reference = scene
    session = Colorizer(ColorizerConfig(working_size=128, device="cpu", allow_random_weights=True), tiny_models)
    assert session.preview(session_edit(session, target)).coverage == 0.0  # no reference
    related = session.preview(session_edit(session, target, reference)).coverage
    unrelated = session.preview(session_edit(session, target, skimage.data.coffee()[::3, ::3].copy())).coverage
    assert related > 0.5 and unrelated < 0.05


def test_matching_at_several_sizes_finds_a_rescaled_reference(tiny_models, scene):
    from PIL import Image

    _, target, reference = scene
    smaller = np.asarray(Image.fromarray(reference).resize((115, 102), Image.Resampling.BICUBIC))  # x0.8
    coverage = {}
    for scales in ((1.0,), (0.8, 1.0, 1.25)):
        config = ColorizerConfig(working_size=128, device="cpu", allow_random_weights=True, match_scales=scales, correspondence="match")
        session = Colorizer(config, tiny_models)
        coverage[scales] = session.preview(session_edit(session, target, smaller)).coverage
    assert coverage[(0.8, 1.0, 1.25)] > coverage[(1.0,)] + 0.1


@pytest.mark.parametrize("correspondence", ["warp", "match"])
def test_content_matching_can_be_switched_off_and_on(tiny_models, scene, correspondence):
    _, target, reference = scene
    config = ColorizerConfig(working_size=128, device="cpu", allow_random_weights=True, correspondence=correspondence)
    session = Colorizer(config, tiny_models)
    edit = session_edit(session, target, reference)
    matched = session.preview(edit).ab
    before = dict(session.stage_calls)
    plain = session.preview(replace(edit, match_content=False))  # the paper's pipeline
    assert plain.coverage == 0.0
    assert not np.allclose(matched, plain.ab)
    assert np.allclose(session.preview(edit).ab, matched, atol=1e-5)
    calls = session.stage_calls
    assert calls["transfer"] == before.get("transfer", 0) + 1 and calls["colorize"] == before["colorize"] + 1  # on again: cached
    assert calls[correspondence] == before[correspondence] and calls["describe_reference"] == before["describe_reference"]


def test_with_the_warp_the_references_hints_are_the_warped_colours_alone(tiny_models, scene):
    # The soft warp's confident colours are the only hints a reference gives (nothing sampled from
    # the transfer, which does not run); at blend 0 there is no warp and the transfer's hints return.
    from core.correspondence import warp_hints

    _, target, reference = scene
    session = Colorizer(ColorizerConfig(working_size=128, device="cpu", allow_random_weights=True), tiny_models)
    edit = session_edit(session, target, reference)
    session.preview(edit)
    assert session.stage_calls["transfer"] == 0
    pipeline = session._pipeline
    job = session._job(edit)
    warp = pipeline.warp(job)
    assert warp.relatedness == 1.0 and warp.coverage() > 0.5
    ab, mask = pipeline.reference_hints(job)
    _, warped_mask = warp_hints(warp, tuple(ab.shape[1:]))
    assert torch.equal(mask.cpu(), warped_mask)
    assert bool((ab.cpu()[:, warped_mask[0] == 0] == 0).all())  # no hint outside the warp's
    session.preview(replace(edit, blend=0.0))
    assert session.stage_calls["transfer"] == 1


@pytest.mark.parametrize(
    "options",
    [
        {"match_threshold": 1.5}, {"similarity_range": (0.8, 0.6)}, {"match_scales": ()}, {"match_scales": (0.1,)},
        {"match_clearance": 2.0}, {"correspondence": "nearest"},
    ],
)
def test_matching_options_are_checked(options):
    with pytest.raises(ValueError):
        ColorizerConfig(**options)


@pytest.fixture(scope="module")
def shipped_session():
    config = ColorizerConfig(
        working_size=256, device="cpu", colornet=str(WEIGHTS / "colornet.pt"), decoder=str(WEIGHTS / "decoder-efficientnet_lite0.pt")
    )
    return Colorizer(config)


def overlap_error(session: Colorizer, target: np.ndarray, reference: np.ndarray) -> float:
    """Mean ab error of the result where the reference shows the target (its right 2/3)."""
    truth = lab_of(target)[0]
    ab = session.preview(session_edit(session, target, reference)).ab
    return float(np.abs(ab - truth[1:].numpy())[:, :, target.shape[1] // 3 :].mean())


def test_a_reference_of_the_same_scene_gives_its_own_colours(shipped_session):
    image = skimage.data.astronaut()[::2, ::2].copy()  # 256 x 256
    target, reference = image[:, :192], image[:, 64:]
    with_matching = overlap_error(shipped_session, target, reference)
    without = overlap_error(Colorizer(replace(shipped_session.config, match_references=False), shipped_session.models), target, reference)
    assert with_matching < 0.6 * without
