"""Tests for the evaluation tool: metrics, baselines, data preparation, reports and the CLI."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from core.color import lab_to_rgb, rgb_to_lab
from training import evaluate as ev
from training.baselines import GrayMethod, NearestHintMethod, PatchHint, ReinhardMethod
from training.metrics import PSNR_CAP_DB, colorfulness, psnr, ssim
from training.reference_modes import AutomaticMethod, transformed_reference

SAMPLE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def lab_of(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_lab(torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)).numpy()


def rgb_of(lab: np.ndarray) -> np.ndarray:
    return lab_to_rgb(torch.from_numpy(lab.astype(np.float32))).permute(1, 2, 0).numpy()


def make_photo(name: str, seed: int, size: int = 32) -> ev.EvalPhoto:
    """A smooth random colour photo (coarse noise, upsampled), as the evaluation would load it."""
    coarse = np.random.default_rng(seed).random((4, 4, 3))
    rgb = np.kron(coarse, np.ones((size // 4, size // 4, 1))).astype(np.float32)
    return ev.EvalPhoto(name=name, rgb=rgb, lab=lab_of(rgb))


class RecordingMethod:
    """Remembers every input it was given; predicts a constant colour."""

    def __init__(self, name: str = "recorder", ab: tuple[float, float] = (5.0, -5.0)):
        self.name = name
        self.ab = ab
        self.calls: list[tuple[np.ndarray, np.ndarray | None, tuple[PatchHint, ...]]] = []

    def predict(self, L, reference_rgb, hints):
        self.calls.append((L.copy(), reference_rgb, tuple(hints)))
        ab = np.empty((2, *L.shape), dtype=np.float32)
        ab[0], ab[1] = self.ab
        return ab


class FakeHeirloom:
    """Stands in for the app's pipeline: reference transfer when it has a reference, else hints."""

    name = "heirloom"

    def predict(self, L, reference_rgb, hints):
        if reference_rgb is not None:
            return ReinhardMethod().predict(L, reference_rgb, hints)
        return NearestHintMethod().predict(L, reference_rgb, hints)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """These conversions run on small images, where extra threads only contend on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for name in SAMPLE_PHOTOS:
        Image.fromarray(getattr(skdata, name)()).save(folder / f"{name}.png")
    (folder / "notes.txt").write_text("not a photo")
    return folder


# --- metrics ---------------------------------------------------------------------------------


def test_psnr_matches_its_formula():
    target = np.zeros((8, 8, 3))
    assert psnr(target + 0.1, target) == pytest.approx(20.0)  # MSE 0.01
    assert psnr(target + 0.5, target, data_range=2.0) == pytest.approx(10 * np.log10(4 / 0.25))


def test_psnr_of_identical_images_is_capped_not_infinite():
    image = np.random.default_rng(1).random((8, 8, 3))
    assert psnr(image, image) == pytest.approx(PSNR_CAP_DB) == pytest.approx(100.0)
    with pytest.raises(ValueError):
        psnr(image, image[:4])


def test_ssim_is_one_for_identical_images_and_lower_for_noise():
    image = np.random.default_rng(2).random((32, 32, 3))
    noisy = np.clip(image + np.random.default_rng(3).normal(0, 0.2, image.shape), 0, 1)
    assert ssim(image, image) == pytest.approx(1.0)
    assert ssim(noisy, image) < 0.9
    with pytest.raises(ValueError):
        ssim(image[..., 0], image[..., 0])


def test_colorfulness_is_zero_for_grey_and_positive_for_colour():
    grey = np.repeat(np.random.default_rng(4).random((16, 16, 1)), 3, axis=2)
    assert colorfulness(grey) == pytest.approx(0.0, abs=1e-9)
    red = np.zeros((4, 4, 3))
    red[..., 0] = 1.0
    # rg = 255, yb = 127.5 everywhere: no spread, so M = 0.3 * hypot(255, 127.5).
    assert colorfulness(red) == pytest.approx(0.3 * np.hypot(255, 127.5))
    halves = np.zeros((4, 4, 3))
    halves[:, :2, 0] = 1.0  # red | blue
    halves[:, 2:, 2] = 1.0
    assert colorfulness(halves) > colorfulness(red)


# --- baselines -------------------------------------------------------------------------------


def test_gray_method_predicts_zero_ab():
    L = np.full((5, 7), 40.0, dtype=np.float32)
    hints = [PatchHint(y=2, x=3, ab=(20.0, 30.0))]
    ab = GrayMethod().predict(L, np.ones((4, 4, 3), dtype=np.float32), hints)
    assert ab.shape == (2, 5, 7) and ab.dtype == np.float32
    assert not ab.any()


def test_nearest_without_hints_is_gray():
    ab = NearestHintMethod().predict(np.zeros((6, 6), dtype=np.float32), None, [])
    assert ab.shape == (2, 6, 6) and not ab.any()


def test_nearest_fills_each_pixel_with_its_closest_hint():
    height, width = 40, 50
    rng = np.random.default_rng(5)
    ys, xs = rng.integers(0, height, 12), rng.integers(0, width, 12)
    colours = rng.normal(0, 40, (12, 2))
    hints = [
        PatchHint(y=int(y), x=int(x), ab=(float(a), float(b)))
        for y, x, (a, b) in zip(ys, xs, colours)
    ]
    ab = NearestHintMethod().predict(np.zeros((height, width), dtype=np.float32), None, hints)
    assert ab.shape == (2, height, width) and ab.dtype == np.float32
    for hint in hints:
        np.testing.assert_allclose(ab[:, hint.y, hint.x], hint.ab, rtol=1e-6)
    centres = np.array([(h.y, h.x) for h in hints], dtype=float)
    colours = np.array([h.ab for h in hints], dtype=np.float32)
    for y, x in [(0, 0), (13, 27), (39, 49), (20, 5)]:
        nearest = np.argmin(((centres - (y, x)) ** 2).sum(axis=1))  # ties: first hint
        np.testing.assert_allclose(ab[:, y, x], colours[nearest], rtol=1e-6)


def test_nearest_splits_along_the_bisector_and_ties_go_to_the_earlier_hint():
    hints = [PatchHint(y=5, x=10, ab=(10.0, 0.0)), PatchHint(y=5, x=50, ab=(-10.0, 0.0))]
    ab = NearestHintMethod().predict(np.zeros((11, 61), dtype=np.float32), None, hints)
    assert (ab[0, :, :30] == 10).all()
    assert (ab[0, :, 30] == 10).all()  # equidistant column
    assert (ab[0, :, 31:] == -10).all()
    assert not ab[1].any()


def test_reinhard_reproduces_the_reference_mean_ab():
    rng = np.random.default_rng(6)
    reference = rng.random((20, 30, 3)).astype(np.float32)
    L = (rng.random((16, 24)) * 100).astype(np.float32)
    ab = ReinhardMethod().predict(L, reference, [])
    assert ab.shape == (2, 16, 24) and ab.dtype == np.float32
    expected = lab_of(reference)[1:].reshape(2, -1).mean(axis=1)
    np.testing.assert_allclose(ab.reshape(2, -1).mean(axis=1), expected, atol=1e-3)


def test_reinhard_follows_how_colour_varies_with_lightness_in_the_reference():
    # Reference: dark blue below, light yellow above. A grey ramp should go from blue to yellow.
    lab = np.zeros((3, 20, 20), dtype=np.float32)
    lab[0, :10], lab[2, :10] = 85.0, 60.0
    lab[0, 10:], lab[2, 10:] = 30.0, -40.0
    reference = rgb_of(lab)
    ramp = np.tile(np.linspace(10, 90, 16, dtype=np.float32), (8, 1))
    ab = ReinhardMethod().predict(ramp, reference, [])
    assert ab[1, :, -1].mean() > 20 and ab[1, :, 0].mean() < -20
    assert np.all(np.diff(ab[1, 0]) > 0)


def test_reinhard_gives_mean_colour_to_a_flat_target_and_grey_without_reference():
    reference = np.zeros((6, 6, 3), dtype=np.float32)
    reference[..., 0] = 0.8
    flat = np.full((5, 5), 50.0, dtype=np.float32)
    ab = ReinhardMethod().predict(flat, reference, [])
    np.testing.assert_allclose(ab[:, 2, 2], lab_of(reference)[1:, 0, 0], atol=1e-3)
    assert np.isfinite(ab).all() and np.ptp(ab, axis=(1, 2)).max() < 1e-4
    assert not ReinhardMethod().predict(flat, None, [PatchHint(1, 1, (9.0, 9.0))]).any()


# --- data preparation ------------------------------------------------------------------------


def test_hint_positions_are_fixed_by_seed_zero():
    positions = ev.sample_hint_positions(256, 256, 10)
    assert positions.tolist() == [
        [82, 134], [99, 231], [243, 138], [199, 51], [147, 182],
        [121, 231], [32, 18], [192, 86], [11, 112], [91, 123],
    ]  # fmt: skip
    np.testing.assert_array_equal(ev.sample_hint_positions(256, 256, 10), positions)
    hundred = ev.sample_hint_positions(256, 256, 100)
    np.testing.assert_array_equal(hundred[:10], positions)  # smaller sets nest in larger ones
    assert len({tuple(p) for p in hundred}) == 100
    assert hundred.min() >= 1 and hundred.max() <= 254  # every 3x3 patch inside the image
    with pytest.raises(ValueError):
        ev.sample_hint_positions(4, 4, 5)


def test_hints_carry_the_mean_ab_of_their_patch():
    photo = make_photo("p", seed=7)
    hints = ev.sample_hints(photo.lab, 10)
    assert len(hints) == 10
    for hint in hints:
        patch = photo.lab[1:, hint.y - 1 : hint.y + 2, hint.x - 1 : hint.x + 2]
        np.testing.assert_allclose(hint.ab, patch.mean(axis=(1, 2)), rtol=1e-5, atol=1e-5)
        assert hint.size == 3


def test_make_cases_builds_every_mode_from_the_right_pixels():
    photo, other = make_photo("a", seed=8), make_photo("b", seed=9)
    cases = {case.mode: case for case in ev.make_cases(photo, other)}
    assert list(cases) == list(ev.MODES)
    assert cases["auto"].reference_rgb is None and cases["auto"].hints == ()
    for count in (1, 10, 100):
        assert len(cases[f"hints_{count}"].hints) == count
        assert cases[f"hints_{count}"].reference_rgb is None
    related = cases["ref_related"]
    np.testing.assert_array_equal(related.rgb, photo.rgb[:, :24])  # left 75 % of 32
    np.testing.assert_array_equal(related.reference_rgb, photo.rgb[:, 8:])  # right 75 %
    np.testing.assert_array_equal(related.L, photo.lab[0][:, :24])
    unrelated = cases["ref_unrelated"]
    assert unrelated.reference_rgb is other.rgb and unrelated.rgb is photo.rgb


def test_photos_are_listed_by_name_scaled_to_256_and_centre_cropped(tmp_path):
    wide = np.zeros((300, 600, 3), dtype=np.uint8)
    wide[:, :150] = (255, 0, 0)  # cropped away
    wide[:, 150:450] = (0, 200, 0)  # the centre
    wide[:, 450:] = (0, 0, 255)  # cropped away
    Image.fromarray(wide).save(tmp_path / "b.png")
    Image.fromarray(np.full((64, 32, 3), 128, dtype=np.uint8)).save(tmp_path / "A.JPG")
    (tmp_path / "c.txt").write_text("x")
    assert [p.name for p in ev.list_photos(tmp_path)] == ["A.JPG", "b.png"]

    photos = ev.load_eval_photos(tmp_path)
    assert [p.name for p in photos] == ["A.JPG", "b.png"]
    small, big = photos
    assert small.rgb.shape == big.rgb.shape == (256, 256, 3)  # small photos are scaled up
    assert small.rgb.dtype == np.float32 and small.lab.shape == (3, 256, 256)
    green = np.broadcast_to((0, 200 / 255, 0), (256, 246, 3))
    np.testing.assert_allclose(big.rgb[:, 5:-5], green, atol=0.02)
    np.testing.assert_allclose(big.lab, lab_of(big.rgb), atol=1e-4)
    assert len(ev.load_eval_photos(tmp_path, limit=1)) == 1


def test_true_colours_rebuild_the_photo_almost_exactly():
    photo = make_photo("p", seed=10)
    scores = ev.score(photo.lab[0], photo.lab[1:], photo.rgb)
    assert scores["psnr"] > 50 and scores["ssim"] > 0.999
    assert scores["colorfulness"] == pytest.approx(colorfulness(photo.rgb), rel=1e-3)


# --- evaluation and reports ------------------------------------------------------------------


def test_evaluate_returns_exactly_the_specified_shape(photo_dir):
    methods = [FakeHeirloom(), GrayMethod(), NearestHintMethod(), ReinhardMethod()]
    result = ev.evaluate(photo_dir, methods, limit=2)
    assert result["n_images"] == 2
    assert result["photos"] == ["astronaut.png", "chelsea.png"]
    assert list(result["results"]) == [
        "auto", "hints_1", "hints_10", "hints_100", "ref_related", "ref_unrelated", "ref_transformed",
    ]  # fmt: skip
    for by_method in result["results"].values():
        assert list(by_method) == ["heirloom", "gray", "nearest", "reinhard"]
        for scores in by_method.values():
            assert list(scores) == ["psnr", "ssim", "colorfulness"]
            assert all(isinstance(v, float) and np.isfinite(v) for v in scores.values())
    json.loads(json.dumps(result, allow_nan=False))
    gray = [result["results"][mode]["gray"] for mode in ev.MODES]
    # Lab -> sRGB greys carry float rounding of a few thousandths of a level: colourfulness ~ 0.004.
    assert all(s["colorfulness"] == pytest.approx(0.0, abs=0.05) for s in gray)
    hints = result["results"]
    assert hints["hints_100"]["nearest"]["psnr"] > hints["hints_1"]["nearest"]["psnr"]
    assert hints["auto"]["reinhard"] == hints["auto"]["gray"]  # no reference: reinhard is grey


def test_every_method_sees_the_same_inputs_and_unrelated_references_wrap():
    photos = [make_photo(name, seed) for seed, name in enumerate("abc")]
    first, second = RecordingMethod("first"), RecordingMethod("second")
    ticks = []
    result = ev.evaluate_photos(photos, [first, second], progress=lambda *a: ticks.append(a))
    assert ticks == [(1, 3, "a"), (2, 3, "b"), (3, 3, "c")]
    assert len(first.calls) == len(second.calls) == 3 * len(ev.MODES)
    for (L1, ref1, hints1), (L2, ref2, hints2) in zip(first.calls, second.calls):
        np.testing.assert_array_equal(L1, L2)
        assert ref1 is ref2 and hints1 == hints2
    unrelated_refs = [ref for _, ref, _ in first.calls[ev.MODES.index("ref_unrelated") :: len(ev.MODES)]]
    assert [r is p.rgb for r, p in zip(unrelated_refs, photos[1:] + photos[:1])] == [True] * 3
    assert set(result["results"]["auto"]) == {"first", "second"}


def test_evaluate_averages_per_photo_scores():
    photos = [make_photo("a", 1), make_photo("b", 2)]
    result = ev.evaluate_photos(photos, [GrayMethod()])
    grey = np.zeros((2, 32, 32), np.float32)
    per_photo = [ev.score(p.lab[0], grey, p.rgb)["psnr"] for p in photos]
    assert result["results"]["auto"]["gray"]["psnr"] == pytest.approx(np.mean(per_photo))


def test_evaluate_rejects_bad_methods_and_empty_input():
    photos = [make_photo("a", 1)]
    with pytest.raises(ValueError, match="distinct"):
        ev.evaluate_photos(photos, [GrayMethod(), GrayMethod()])
    with pytest.raises(ValueError, match="no photos"):
        ev.evaluate_photos([], [GrayMethod()])

    class WrongShape:
        name = "wrong"

        def predict(self, L, reference_rgb, hints):
            return np.zeros((2, 3, 3), dtype=np.float32)

    with pytest.raises(ValueError, match="'wrong'"):
        ev.evaluate_photos(photos, [WrongShape()])


def test_markdown_has_a_row_per_mode_and_a_column_per_method():
    result = ev.evaluate_photos([make_photo("a", 1)], [GrayMethod(), ReinhardMethod()])
    text = ev.format_markdown(result)
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert lines[0] == "| mode | gray | reinhard | ground truth |"
    assert [line.split(" | ")[0] for line in lines[2:]] == [f"| {mode}" for mode in ev.MODES]
    gray_auto = result["results"]["auto"]["gray"]
    assert f"{gray_auto['psnr']:.2f} / {gray_auto['ssim']:.3f} / 0.0" in lines[2]


# --- the app's pipeline adapter --------------------------------------------------------------


def test_heirloom_method_drives_the_colorizer_interface():
    from core.api import Hint, Reference

    log = []

    class FakeColorizer:
        config = types.SimpleNamespace(working_size=64, colornet="colornet")

        def hold(self, photo, name=None):
            log.append(("hold", name, getattr(photo, "shape", None) or photo.pixels.shape))
            return f"memory:{name}"

        def preview(self, edit):
            log.append(("preview", edit))
            return types.SimpleNamespace(ab=np.ones((2, 8, 6), dtype=np.float32))

    builds = []
    method = ev.HeirloomMethod(lambda: builds.append(1) or FakeColorizer())
    assert builds == []  # the model loads on first use
    L = np.full((16, 12), 50.0, dtype=np.float32)
    ab = method.predict(L, np.full((4, 4, 3), 200, np.uint8), [PatchHint(y=3, x=4, ab=(1.0, 2.0))])
    ab_again = method.predict(L, None, [])
    assert builds == [1]
    assert ab.shape == ab_again.shape == (2, 16, 12)  # resized from the working size
    np.testing.assert_allclose(ab, 1.0)
    held = [entry[1:] for entry in log if entry[0] == "hold"]
    assert held == [("evaluated-reference", (4, 4, 3)), ("evaluated-photo", (16, 12)), ("evaluated-photo", (16, 12))]
    first, second = (entry[1] for entry in log if entry[0] == "preview")
    assert first.photo == "memory:evaluated-photo" and first.references == (Reference("memory:evaluated-reference"),)
    assert [(h.x, h.y, h.ab, h.radius) for h in first.hints] == [(4.0, 3.0, (1.0, 2.0), 1.0)]
    assert first.working_size == 64 and first.model == "colornet"
    assert second.references == () and second.hints == ()
    assert isinstance(first.hints[0], Hint)


# --- command line ----------------------------------------------------------------------------


def test_cli_writes_json_markdown_and_contact_sheet(photo_dir, tmp_path, capsys):
    out_json, out_md, out_png = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "sheet.png"
    methods = [FakeHeirloom(), GrayMethod(), NearestHintMethod(), ReinhardMethod()]
    argv = [str(photo_dir), "--json", str(out_json), "--markdown", str(out_md),
            "--contact-sheet", str(out_png), "--limit", "3"]  # fmt: skip
    assert ev.main(argv, methods=methods) == 0

    report = json.loads(out_json.read_text())
    assert report["n_images"] == 3
    assert set(report["results"]) == set(ev.MODES)
    for by_method in report["results"].values():
        assert set(by_method) == {"heirloom", "gray", "nearest", "reinhard"}
    assert 15 < report["results"]["auto"]["gray"]["psnr"] < 40
    assert out_md.read_text() == capsys.readouterr().out
    assert "| ref_related |" in out_md.read_text()
    with Image.open(out_png) as sheet:
        width, height = sheet.size
        assert width >= 4 * 256 and height >= 3 * 256
        assert sheet.mode == "RGB"


def test_cli_scores_only_the_named_baselines(photo_dir, tmp_path):
    out_json = tmp_path / "r.json"
    argv = [str(photo_dir), "--limit", "1", "--methods", "gray,reinhard", "--json", str(out_json)]
    assert ev.main(argv) == 0
    report = json.loads(out_json.read_text())
    assert list(report["results"]["auto"]) == ["gray", "reinhard"]
    assert "model" not in report


def test_cli_explains_bad_input_in_one_sentence(tmp_path, capsys):
    assert ev.main([str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert ev.main([str(tmp_path)]) == 2
    assert "no photos" in capsys.readouterr().err
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    assert ev.main([str(tmp_path)]) == 1
    assert "could not read a photo" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        ev.main([str(tmp_path), "--methods", "magic"])


def test_cli_reports_a_model_that_will_not_load(photo_dir, capsys, monkeypatch):
    def failing_factory(device=None, colornet=None, decoder=None, hint_density=None, precision="auto"):
        def build():
            raise FileNotFoundError("no weights in /nowhere")

        return build

    monkeypatch.setattr(ev, "heirloom_factory", failing_factory)
    assert ev.main([str(photo_dir), "--limit", "1"]) == 1
    err = capsys.readouterr().err
    assert "could not load the Heirloom model" in err and "--methods gray,nearest,reinhard" in err


def test_ref_transformed_sees_the_photo_differently_and_ref_retrieved_needs_a_pool():
    photo, other = make_photo("a", seed=8), make_photo("b", seed=9)
    cases = {case.mode: case for case in ev.make_cases(photo, other)}
    transformed = cases["ref_transformed"]
    assert transformed.rgb is photo.rgb and ev.RETRIEVED_MODE not in cases
    np.testing.assert_array_equal(transformed.reference_rgb, transformed_reference(photo.rgb, "a"))
    retrieved = np.zeros((16, 16, 3), dtype=np.float32)
    cases = {case.mode: case for case in ev.make_cases(photo, other, retrieved)}
    assert cases[ev.RETRIEVED_MODE].reference_rgb is retrieved and cases[ev.RETRIEVED_MODE].rgb is photo.rgb


def test_evaluate_scores_ref_retrieved_with_a_retriever_and_automatic_ignores_references():
    photos = [make_photo("a", 1), make_photo("b", 2)]
    inner = RecordingMethod("heirloom")
    asked = []

    def retrieve(photo):
        asked.append(photo.name)
        return photos[0].rgb

    result = ev.evaluate_photos(photos, [AutomaticMethod(inner)], retrieve=retrieve)
    assert asked == ["a", "b"]
    assert list(result["results"]) [: len(ev.MODES) + 1] == [*ev.MODES, ev.RETRIEVED_MODE]
    assert all(reference is None for _, reference, _ in inner.calls)
    assert "automatic" in result["results"][ev.RETRIEVED_MODE]


def test_cli_retrieves_references_from_a_pool(photo_dir, tmp_path):
    out_json = tmp_path / "r.json"
    argv = [str(photo_dir), "--json", str(out_json), "--limit", "2", "--pool", str(photo_dir),
            "--pool-cache", str(tmp_path / "cache")]  # fmt: skip
    assert ev.main(argv, methods=[GrayMethod(), ReinhardMethod()]) == 0
    report = json.loads(out_json.read_text())
    assert ev.RETRIEVED_MODE in report["results"] and report["pool"]["dir"] == str(photo_dir)
    assert len(list((tmp_path / "cache").glob("pool-*.npz"))) == 1
    assert ev.main([str(photo_dir), "--pool", str(tmp_path / "missing")], methods=[GrayMethod()]) == 2
