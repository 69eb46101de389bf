"""core.output: the one policy for where results go and what is never written over."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from core.output import OutputError, OutputPlan, TargetExistsError, is_earlier_result


@pytest.fixture
def album(tmp_path: Path) -> Path:
    for name in ("a.jpg", "a.png", "b.tif", "ref.jpg"):
        (tmp_path / name).write_bytes(name.encode())
    return tmp_path


def write_text(path: Path, replace: bool) -> Path:
    """A writer with the contract OutputPlan.save expects: exclusive unless replacing."""
    with open(path, "w" if replace else "x") as stream:
        stream.write("result")
    return path


def test_results_go_beside_each_photo_under_the_colour_name(album):
    photos = [album / "a.jpg", album / "b.tif"]
    targets = OutputPlan.create(None, photos).targets(photos)
    assert [t.path.name for t in targets] == ["a-colour.jpg", "b-colour.tif"]
    assert not any(t.replaces or t.collision for t in targets)


def test_two_photos_mapping_to_one_name_both_keep_their_result_and_the_collision_is_named(album, tmp_path):
    photos = [album / "a.jpg", album / "a.png"]
    plan = OutputPlan.create(tmp_path / "out", photos, suffix=".png")
    first, second = plan.targets(photos)
    assert first.path.name == "a-colour.png" and not first.collision
    assert second.path.name == "a-colour-1.png"
    assert "a.png" in second.collision and "a.jpg" in second.collision and "a-colour.png" in second.collision


def test_overwrite_does_not_resolve_a_collision_inside_one_run(album, tmp_path):
    photos = [album / "a.jpg", album / "a.png"]
    targets = OutputPlan.create(tmp_path, photos, suffix=".png", overwrite=True).targets(photos)
    assert len({t.path for t in targets}) == 2 and targets[1].collision


def test_existing_files_take_the_next_free_name_unless_overwrite(album):
    (album / "a-colour.jpg").write_text("earlier")
    photos = [album / "a.jpg"]
    (target,) = OutputPlan.create(None, photos).targets(photos)
    assert target.path.name == "a-colour-1.jpg" and not target.replaces
    (target,) = OutputPlan.create(None, photos, overwrite=True).targets(photos)
    assert target.path.name == "a-colour.jpg" and target.replaces


def test_an_existing_named_file_is_refused_unless_overwrite(album):
    precious = album / "precious.png"
    precious.write_text("keep me")
    photos = [album / "a.jpg"]
    with pytest.raises(TargetExistsError, match="--overwrite"):
        OutputPlan.create(precious, photos).targets(photos)
    (target,) = OutputPlan.create(precious, photos, overwrite=True).targets(photos)
    assert target.path == precious and target.replaces


@pytest.mark.parametrize("overwrite", [False, True])
def test_an_input_is_never_a_target_even_with_overwrite(album, overwrite):
    photos = [album / "a.jpg"]
    for output in (album / "ref.jpg", album / "a.jpg"):
        plan = OutputPlan.create(output, photos, [album / "ref.jpg"], overwrite=overwrite)
        with pytest.raises(OutputError, match="never writes over an original"):
            plan.targets(photos)


def test_an_input_named_like_a_result_is_skipped_in_a_folder(album):
    original = album / "b-colour.tif"
    original.write_text("an original photo")
    photos = [album / "b.tif", original]
    targets = OutputPlan.create(None, photos, overwrite=True).targets(photos)
    assert targets[0].path.name == "b-colour-1.tif"  # never the input, even with overwrite


@pytest.mark.skipif(not hasattr(os, "link"), reason="needs hard links")
def test_another_name_for_an_input_is_still_the_input(album):
    alias = album / "alias.jpg"
    os.link(album / "ref.jpg", alias)
    plan = OutputPlan.create(alias, [album / "a.jpg"], [album / "ref.jpg"], overwrite=True)
    with pytest.raises(OutputError):
        plan.targets([album / "a.jpg"])


def test_a_file_named_for_several_photos_or_an_unknown_format_is_refused(album):
    with pytest.raises(OutputError, match="2 photos"):
        OutputPlan.create(album / "x.png", [album / "a.jpg", album / "b.tif"])
    with pytest.raises(OutputError, match=".png, .jpg or .tif"):
        OutputPlan.create(album / "x.gif", [album / "a.jpg"])
    with pytest.raises(OutputError, match=".jpg"):
        OutputPlan.create(album / "x.png", [album / "a.jpg"], suffix=".jpg")


def test_save_moves_on_when_another_run_took_the_name_meanwhile(album):
    photos = [album / "a.jpg"]
    plan = OutputPlan.create(None, photos)
    (target,) = plan.targets(photos)
    target.path.write_text("the other run's result")  # appears between planning and writing
    written = plan.save(target, write_text)
    assert written.name == "a-colour-1.jpg"
    assert target.path.read_text() == "the other run's result"


def test_save_to_a_named_file_taken_meanwhile_fails_without_replacing_it(album):
    photos = [album / "a.jpg"]
    plan = OutputPlan.create(album / "out.png", photos)
    (target,) = plan.targets(photos)
    target.path.write_text("appeared")
    with pytest.raises(TargetExistsError):
        plan.save(target, write_text)
    assert target.path.read_text() == "appeared"


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="needs POSIX permissions, not root")
def test_an_unwritable_folder_is_found_before_anything_is_computed(album):
    locked = album / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        plan = OutputPlan.create(locked, [album / "a.jpg"])
        with pytest.raises(OutputError, match="cannot be written"):
            plan.check_writable([album / "a.jpg"])
    finally:
        locked.chmod(0o700)


def test_the_output_folder_is_created_by_the_check(album):
    out = album / "new" / "deeper"
    OutputPlan.create(out, [album / "a.jpg"]).check_writable([album / "a.jpg"])
    assert out.is_dir() and not list(out.iterdir())


def test_earlier_results_are_recognised():
    assert is_earlier_result("x-colour.png") and is_earlier_result("x-colour-12.jpg")
    assert not is_earlier_result("x-colourful.png")


def test_save_image_never_replaces_a_file_that_appears_while_it_writes(tmp_path, monkeypatch):
    import numpy as np

    from core import imageio

    target = tmp_path / "x-colour.png"
    real = imageio._exif_for_saving

    def another_run_wins(exif):  # runs after the exists-check, before the file is written
        target.write_bytes(b"the other run's result")
        return real(exif)

    monkeypatch.setattr(imageio, "_exif_for_saving", another_run_wins)
    with pytest.raises(imageio.ImageExistsError):
        imageio.save_image(target, np.zeros((4, 4, 3), np.uint8), overwrite=False)
    assert target.read_bytes() == b"the other run's result"
    assert [p.name for p in tmp_path.iterdir()] == ["x-colour.png"]  # no temporary file left


def test_plan_save_with_save_image_takes_the_next_name_after_a_race(album, monkeypatch):
    import numpy as np

    from core import imageio

    photos = [album / "a.jpg"]
    plan = OutputPlan.create(None, photos)
    (target,) = plan.targets(photos)
    real = imageio._exif_for_saving
    raced = []

    def another_run_wins(exif):
        if not raced:
            raced.append(True)
            target.path.write_bytes(b"theirs")
        return real(exif)

    monkeypatch.setattr(imageio, "_exif_for_saving", another_run_wins)
    pixels = np.zeros((4, 4, 3), np.uint8)
    written = plan.save(target, lambda path, replace: imageio.save_image(path, pixels, overwrite=replace))
    assert written.name == "a-colour-1.jpg" and target.path.read_bytes() == b"theirs"


def test_a_chosen_folder_with_a_dot_in_its_name_is_a_folder(album):
    photos = [album / "a.jpg", album / "b.tif"]
    plan = OutputPlan.create(album / "scans.1962", photos, folder=True)
    assert plan.folder == album / "scans.1962" and plan.file is None


def test_a_folder_that_cannot_be_made_is_found_before_anything_is_computed(album):
    blocker = album / "a.jpg"  # a file where a folder would have to be
    plan = OutputPlan.create(blocker / "out", [album / "b.tif"])
    with pytest.raises(OutputError, match="cannot be written"):
        plan.check_writable([album / "b.tif"])
