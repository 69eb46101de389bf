"""``heirloom colorize`` end to end, in-process, on real photos turned grey."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import skimage.color
import skimage.data
import torch
from PIL import Image

from core import cli
from core.cli import main, parse_hint, read_hints_file
from core.hints import Hint
from core.imageio import load_photo

REPO = Path(__file__).resolve().parents[2]


def to_grey(rgb: np.ndarray) -> np.ndarray:
    return (skimage.color.rgb2gray(rgb) * 255 + 0.5).astype(np.uint8)


@pytest.fixture(scope="module")
def photo_library(tmp_path_factory) -> Path:
    """Four real photos, grey, as a family archive would hold them (PNG and JPEG)."""
    from sklearn.datasets import load_sample_image

    folder = tmp_path_factory.mktemp("library")
    Image.fromarray(to_grey(skimage.data.astronaut())).save(folder / "astronaut.png")
    Image.fromarray(to_grey(skimage.data.coffee())).save(folder / "coffee.jpg", quality=92)
    Image.fromarray(to_grey(skimage.data.chelsea())).save(folder / "chelsea.png")
    Image.fromarray(to_grey(load_sample_image("china.jpg"))).save(folder / "china.jpg", quality=92)
    Image.fromarray(skimage.data.coffee()).save(folder / "reference.png")  # colour, for --reference
    return folder


@pytest.fixture
def photos(photo_library, tmp_path) -> Path:
    """A private copy of the grey photos (results are written beside them)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut.png", "coffee.jpg", "chelsea.png", "china.jpg"):
        shutil.copy(photo_library / name, folder / name)
    return folder


@pytest.fixture
def reference(photo_library) -> Path:
    return photo_library / "reference.png"


@pytest.fixture(autouse=True)
def random_weights(monkeypatch):
    monkeypatch.setenv(cli.RANDOM_WEIGHTS_ENV, "1")


def run(*args: str) -> int:
    return main(["colorize", *map(str, args)])


def lightness(path: Path) -> np.ndarray:
    return load_photo(path).lightness()


def test_colorizes_real_photos_beside_the_originals(photos, capsys):
    inputs = sorted(photos.iterdir())
    originals = {p.name: p.read_bytes() for p in inputs}
    assert run(*inputs, "--size", 64) == 0
    for path in inputs:
        out = path.with_name(f"{path.stem}-colour{path.suffix}")
        assert out.is_file(), out
        with Image.open(out) as image:
            assert image.mode == "RGB"
            assert image.size == Image.open(path).size
        assert path.read_bytes() == originals[path.name]  # never touched
        if path.suffix == ".png":  # lossless: the photo's lightness is kept
            assert np.abs(lightness(out) - lightness(path)).mean() < 0.5
    captured = capsys.readouterr()
    assert "Colorized 4 photos" in captured.out
    assert re.search(r"^\[-{20}\] 1/4 astronaut\.png$", captured.err, re.MULTILINE)
    assert re.search(r"^\[#{15}-{5}\] 4/4 coffee\.jpg$", captured.err, re.MULTILINE)
    assert "random networks" in captured.err  # the developer option is never silent


def test_a_folder_with_a_corrupt_file_reports_it_and_goes_on(photos, capsys):
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    assert run(photos, "--size", 64) == 1
    err = capsys.readouterr()
    error_lines = [line for line in err.err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert error_lines[0].startswith(f"error: {photos / 'broken.jpg'}: ") and "Traceback" not in err.err
    for stem, suffix in [("astronaut", ".png"), ("coffee", ".jpg"), ("chelsea", ".png"), ("china", ".jpg")]:
        assert (photos / f"{stem}-colour{suffix}").is_file()
    assert "1 failed" in err.out and "4 of 5" in err.out


def test_earlier_results_in_a_folder_are_not_colorized_again(photos, capsys):
    assert run(photos / "chelsea.png", "--size", 64) == 0
    assert run(photos, "--size", 64) == 0
    assert not list(photos.glob("*-colour-colour*"))
    assert (photos / "chelsea-colour-1.png").is_file()  # the first result is kept, not replaced
    assert "skipped 1 earlier result" in capsys.readouterr().err


def test_existing_results_are_never_overwritten(photos):
    photo = photos / "chelsea.png"
    assert run(photo, "--size", 64) == 0
    first = (photos / "chelsea-colour.png").read_bytes()
    assert run(photo, "--size", 64) == 0
    assert run(photo, "--size", 64) == 0
    assert (photos / "chelsea-colour.png").read_bytes() == first
    assert (photos / "chelsea-colour-1.png").is_file() and (photos / "chelsea-colour-2.png").is_file()


def test_output_file_for_a_single_photo(photos, tmp_path):
    target = tmp_path / "out" / "result.tif"
    assert run(photos / "coffee.jpg", "-o", target, "--size", 64) == 0
    assert target.is_file()
    assert load_photo(target).size == (600, 400)
    assert not list(photos.glob("*-colour*"))


def test_output_folder_and_format(photos, tmp_path, capsys):
    out = tmp_path / "coloured" / "1962"
    assert run(photos / "astronaut.png", photos / "chelsea.png", "-o", out, "--format", "jpg", "--quality", "80", "--size", 64) == 0
    assert sorted(p.name for p in out.iterdir()) == ["astronaut-colour.jpg", "chelsea-colour.jpg"]
    with Image.open(out / "chelsea-colour.jpg") as image:
        assert image.format == "JPEG" and image.size == (451, 300)
    assert str(out) in capsys.readouterr().out


def test_glob_patterns_are_expanded(photos, tmp_path):
    assert run(str(photos / "c*.png"), "--size", 64) == 0
    assert sorted(p.name for p in photos.glob("*-colour*")) == ["chelsea-colour.png"]


def test_folders_are_searched_recursively_only_when_asked(photos, tmp_path, capsys):
    nested = photos / "album"
    nested.mkdir()
    shutil.move(photos / "chelsea.png", nested / "chelsea.png")
    for name in ("astronaut.png", "coffee.jpg", "china.jpg"):
        (photos / name).unlink()
    assert run(photos, "--size", 64) == 1
    assert "no photos" in capsys.readouterr().err
    assert run(photos, "--recursive", "--size", 64) == 0
    assert (nested / "chelsea-colour.png").is_file()


def test_references_and_hints_reach_the_colorizer(photos, reference, tmp_path, monkeypatch):
    seen = {}
    original_export = cli.Colorizer.export

    def spy(self, edit, path, *args, **kwargs):
        seen["edit"] = edit
        seen["matching"] = (self.config.match_references, self.config.content_aware)
        seen["hints"] = (self.config.correspondence, self.config.user_edit)
        seen["precision"] = self.config.precision
        return original_export(self, edit, path, *args, **kwargs)

    monkeypatch.setattr(cli.Colorizer, "export", spy)
    hints_file = tmp_path / "hints.json"
    hints_file.write_text(json.dumps({"hints": [{"x": 30, "y": 40, "ab": [10, -20], "radius": 5}, {"x": 1, "y": 2, "color": "#00ff00"}]}))
    code = run(photos / "chelsea.png", "-r", reference, "--blend", "0.6", "--hint", "100,120,#ff0000,6", "--hints-file", hints_file, "--size", 64)
    assert code == 0
    edit = seen["edit"]
    assert edit.reference_paths == (str(reference),) and edit.blend == 0.6
    hints = [replace(h, id=0) for h in edit.hints]
    assert hints[0] == Hint.from_rgb(100, 120, "#ff0000", 6)
    assert hints[1] == Hint(30, 40, (10.0, -20.0), 5)
    assert hints[2] == Hint.from_rgb(1, 2, "#00ff00")
    assert seen["matching"] == (True, True) and seen["hints"] == ("warp", True)
    assert run(photos / "chelsea.png", "-r", reference, "--no-matching", "--uniform-blend", "--size", 64, "-o", tmp_path / "plain.png") == 0
    assert seen["matching"] == (False, False)
    paper = ("--correspondence", "match", "--hints-everywhere", "--size", 64, "-o", tmp_path / "paper.png")
    assert run(photos / "chelsea.png", "-r", reference, *paper) == 0
    assert seen["hints"] == ("match", False) and seen["precision"] == "auto"
    assert run(photos / "chelsea.png", "--precision", "float32", "--size", 64, "-o", tmp_path / "exact.png") == 0
    assert seen["precision"] == "float32"
    assert run(photos / "chelsea.png", "--correspondence", "nearest") == 2
    assert run(photos / "chelsea.png", "--precision", "half") == 2


def test_parse_hint():
    assert parse_hint("12,34,#3a5fcd") == Hint.from_rgb(12, 34, "#3a5fcd", 2.0)
    assert parse_hint(" 1.5, 2 ,ff0000, 7").radius == 7.0
    assert parse_hint("1,2,#ff0000,3,0.9").reach == 0.9 and parse_hint("1,2,#ff0000").reach == 0.5
    for bad in ("12,34", "12,34,#ff00", "a,b,#ff0000", "1,2,#ff0000,-3", "1,2,#ff0000,3,4", "1,2,#ff0000,3,0.5,1", "1,2,blue"):
        with pytest.raises(Exception, match="X,Y,#RRGGBB"):
            parse_hint(bad)


@pytest.mark.parametrize(
    "content, problem",
    [
        ("{broken", "not valid JSON"),
        ('{"points": []}', "expected"),
        ('{"hints": [{"x": 1, "color": "#ff0000"}]}', "hint 1 lacks 'y'"),
        ('{"hints": [{"x": 1, "y": 2, "color": "#ff00"}]}', "hint 1 is invalid"),
        ('{"hints": [{"x": 1, "y": 2, "ab": [1, 2]}, {"x": 1, "y": 2, "ab": 5}]}', "hint 2 is invalid"),
        ('{"hints": [3]}', "hint 1 is invalid"),
    ],
)
def test_bad_hints_files_are_usage_errors(tmp_path, photos, capsys, content, problem):
    path = tmp_path / "hints.json"
    path.write_text(content)
    with pytest.raises(cli.UsageError, match=re.escape(problem)):
        read_hints_file(path)
    assert run(photos / "chelsea.png", "--hints-file", path) == 2
    assert problem in capsys.readouterr().err
    assert not list(photos.glob("*-colour*"))


def test_hints_files_say_picked_in_either_colour_form(tmp_path):
    path = tmp_path / "hints.json"
    path.write_text('[{"x": 5, "y": 6, "color": "#3a5fcd", "picked": true}, {"x": 1, "y": 2, "ab": [1, 2], "picked": true}, {"x": 1, "y": 2, "color": "#3a5fcd"}]')
    assert [hint.picked for hint in read_hints_file(path)] == [True, True, False]
    path.write_text('[{"x": 5, "y": 6, "color": "#3a5fcd", "picked": "yes"}]')
    with pytest.raises(cli.UsageError, match="hint 1 is invalid"):
        read_hints_file(path)


def test_hints_file_accepts_a_bare_list(tmp_path):
    path = tmp_path / "hints.json"
    path.write_text('[{"x": 5, "y": 6, "ab": [1, 2]}]')
    assert read_hints_file(path) == [Hint(5, 6, (1.0, 2.0))]


@pytest.mark.parametrize(
    "args",
    [
        ["--hint", "10,20,red"],
        ["--blend", "1.5"],
        ["--size", "16"],
        ["--quality", "0"],
        ["--format", "gif"],
        ["--device", "tpu"],
        ["--encoder", "resnet"],
        ["--hints-file", "/nonexistent/hints.json"],
        ["-o", "result.gif"],
    ],
)
def test_usage_errors_exit_2(photos, args, capsys):
    assert run(photos / "chelsea.png", *args) == 2
    assert capsys.readouterr().err.strip()
    assert not list(photos.glob("*-colour*"))


def test_output_file_with_several_photos_is_a_usage_error(photos, tmp_path, capsys):
    assert run(photos / "chelsea.png", photos / "astronaut.png", "-o", tmp_path / "one.png") == 2
    assert "folder" in capsys.readouterr().err


def test_no_command_or_photos_is_a_usage_error(capsys):
    assert main([]) == 2
    assert main(["colorize"]) == 2
    assert main(["paint", "x.jpg"]) == 2
    assert main(["colorize", "--help"]) == 0
    assert "--reference" in capsys.readouterr().out


def test_missing_photos_are_reported_per_file(photos, tmp_path, capsys):
    assert run(photos / "chelsea.png", tmp_path / "nowhere.jpg", str(tmp_path / "*.tif"), "--size", 64) == 1
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'nowhere.jpg'}: " in err
    assert "no photos match" in err
    assert (photos / "chelsea-colour.png").is_file()


def test_missing_weights_exit_1_with_a_clear_message(photos, monkeypatch, capsys):
    monkeypatch.delenv(cli.RANDOM_WEIGHTS_ENV)
    assert run(photos / "chelsea.png") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: No weights named 'colornet'") and "Traceback" not in err
    assert not list(photos.glob("*-colour*"))


def test_grey_reference_fails_the_batch(photos, capsys):
    assert run(photos / "chelsea.png", "-r", photos / "astronaut.png", "--size", 64) == 1
    assert "no colour" in capsys.readouterr().err
    assert not list(photos.glob("*-colour*"))


def test_absent_gpu_is_reported(photos, capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    assert run(photos / "chelsea.png", "--device", "cuda") == 2
    assert "No CUDA GPU" in capsys.readouterr().err


def test_python_m_core_cli(photos):
    result = subprocess.run(
        [sys.executable, "-m", "core.cli", "colorize", str(photos / "chelsea.png"), "--size", "64", "--format", "png"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert (photos / "chelsea-colour.png").is_file()
    assert "Colorized 1 photo" in result.stdout


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_redraws_one_line_on_a_terminal():
    stream = _Terminal()
    bar = cli.ProgressBar(2, stream)
    bar.show(0, 1, "a.jpg")
    bar.show(0.5, 1, "a.jpg")  # part of the first photo rendered
    bar.message("error: a.jpg: damaged")
    bar.show(1, 2, "b.jpg")
    bar.close()
    text = stream.getvalue()
    assert text.count("\n") == 2  # the error line, and the end of the bar
    assert "\r[#####---------------] 1/2 a.jpg" in text
    assert "error: a.jpg: damaged\n" in text
    assert text.endswith("\r[##########----------] 2/2 b.jpg\n")


# -- never lose a photo, never crash on a file (issue 11) ------------------------------------------


def one_error_line(capsys) -> str:
    """The command's stderr, which must be exactly one line and no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning: trained weights")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def own_reference(reference, tmp_path) -> Path:
    copy = tmp_path / "ref.png"
    shutil.copy(reference, copy)
    return copy


def test_an_existing_output_file_is_refused_and_kept(photos, tmp_path, capsys):
    precious = tmp_path / "precious.png"
    precious.write_bytes(b"irreplaceable")
    assert run(photos / "chelsea.png", "-o", precious, "--size", 64) == 1
    line = one_error_line(capsys)
    assert line.startswith("error: ") and "precious.png already exists" in line and "--overwrite" in line
    assert precious.read_bytes() == b"irreplaceable"


def test_overwrite_replaces_an_existing_output_file(photos, tmp_path):
    precious = tmp_path / "precious.png"
    precious.write_bytes(b"an older result")
    assert run(photos / "chelsea.png", "-o", precious, "--overwrite", "--size", 64) == 0
    assert load_photo(precious).size == (451, 300)


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_the_reference_is_never_written_over_even_with_overwrite(photos, own_reference, capsys, overwrite):
    original = own_reference.read_bytes()
    assert run(photos / "chelsea.png", "-r", own_reference, "-o", own_reference, *overwrite, "--size", 64) == 1
    assert "never writes over an original" in one_error_line(capsys)
    assert own_reference.read_bytes() == original


def test_the_photo_is_never_written_over_even_with_overwrite(photos, capsys):
    photo = photos / "chelsea.png"
    original = photo.read_bytes()
    assert run(photo, "-o", photo, "--overwrite", "--size", 64) == 1
    assert "never writes over an original" in one_error_line(capsys)
    assert photo.read_bytes() == original


def test_overwrite_replaces_earlier_results_in_a_folder_but_no_input(photos, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "chelsea-colour.png").write_bytes(b"old")
    assert run(photos / "chelsea.png", "-o", out, "--size", 64) == 0
    assert (out / "chelsea-colour.png").read_bytes() == b"old" and (out / "chelsea-colour-1.png").is_file()
    assert run(photos / "chelsea.png", "-o", out, "--overwrite", "--size", 64) == 0
    assert (out / "chelsea-colour.png").read_bytes() != b"old"
    assert not (out / "chelsea-colour-2.png").exists()


def test_two_photos_with_one_result_name_both_keep_their_result(photos, tmp_path, capsys):
    twin = photos / "chelsea.jpg"
    Image.open(photos / "chelsea.png").convert("L").save(twin)
    out = tmp_path / "out"
    assert run(photos / "chelsea.png", twin, "-o", out, "--format", "png", "--size", 64) == 0
    assert sorted(p.name for p in out.iterdir()) == ["chelsea-colour-1.png", "chelsea-colour.png"]
    err = capsys.readouterr().err
    assert "note: " in err and "chelsea.jpg" in err and "chelsea-colour-1.png" in err


def test_an_unwritable_output_folder_is_found_before_anything_is_computed(photos, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    def must_not_run(*args, **kwargs):
        raise AssertionError("the networks were loaded before the output folder was checked")

    monkeypatch.setattr(cli, "load_models", must_not_run)
    assert run(photos / "chelsea.png", "-o", blocker / "out", "--size", 64) == 1
    line = one_error_line(capsys)
    assert line.startswith("error: ") and "cannot be written" in line and str(blocker) in line


@pytest.mark.parametrize(
    "hint, problem",
    [
        ("10,20,#ff0000,nan", "radius"),
        ("10,20,#ff0000,inf", "radius"),
        ("10,20,#ff0000,1e308", "radius"),
        ("nan,20,#ff0000", "x"),
        ("10,1e400,#ff0000", "y"),
    ],
)
def test_hints_that_are_not_finite_or_too_large_are_usage_errors(photos, capsys, hint, problem):
    assert run(photos / "chelsea.png", "--hint", hint, "--size", 64) == 2
    line = one_error_line(capsys)
    assert problem in line and "X,Y,#RRGGBB" in line
    assert not list(photos.glob("*-colour*"))


@pytest.mark.parametrize(
    "content, problem",
    [
        ('{"hints": [{"x": 1, "y": 2, "ab": [1e300, 0]}]}', "hint 1 is invalid"),
        ('{"hints": [{"x": 1, "y": 2, "ab": [NaN, 0]}]}', "NaN"),
        ('{"hints": [{"x": 1, "y": 2, "color": "#ff0000", "radius": Infinity}]}', "Infinity"),
        ('{"hints": [{"x": 1, "y": 2, "color": "#ff0000", "radius": 1e308}]}', "radius"),
        ('{"hints": [{"x": 1, "y": 2, "color": [1, 2, 3]}]}', "colour"),
        ('{"hints": [{"x": 1e400, "y": 2, "ab": [1, 2]}]}', "hint 1 is invalid"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_bad_numbers_and_deep_nesting_in_hints_files_are_usage_errors(tmp_path, photos, capsys, content, problem):
    path = tmp_path / "hints.json"
    path.write_text(content)
    assert run(photos / "chelsea.png", "--hints-file", path, "--size", 64) == 2
    line = one_error_line(capsys)
    assert problem in line and str(path) in line


def test_hints_outside_the_photo_are_named_and_left_out(photos, tmp_path, monkeypatch, capsys):
    seen = {}
    original_export = cli.Colorizer.export

    def spy(self, edit, path, *args, **kwargs):
        seen["hints"] = edit.hints
        return original_export(self, edit, path, *args, **kwargs)

    monkeypatch.setattr(cli.Colorizer, "export", spy)
    args = ["--hint", "10,20,#ff0000", "--hint", "5000,20,#00ff00", "--hint", "10,-3,#0000ff"]
    assert run(photos / "chelsea.png", *args, "--size", 64) == 0
    assert [(h.x, h.y) for h in seen["hints"]] == [(10.0, 20.0)]
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 2
    assert "hint 2 at (5000, 20)" in notes[0] and "451x300" in notes[0] and "chelsea.png" in notes[0]
    assert "hint 3 at (10, -3)" in notes[1]


def _save_colornet(path: Path, model_args: dict, width: float = 0.125) -> Path:
    from core.models import ColorNet
    from core.weights import save_weights

    return save_weights(path, "colornet", model_args, ColorNet(width=width).state_dict()).file


@pytest.mark.parametrize(
    "model_args, width, problem",
    [
        ({"width": 0.25}, 0.125, "does not fit"),
        ({"width": 0.125, "colour_magic": 3}, 0.125, "cannot build"),
    ],
)
def test_a_personal_model_that_does_not_fit_is_one_clear_error(photos, tmp_path, capsys, model_args, width, problem):
    weights = _save_colornet(tmp_path / "mine.pt", model_args, width)
    assert run(photos / "chelsea.png", "--model", weights, "--size", 64) == 1
    line = one_error_line(capsys)
    assert line.startswith("error: ") and problem in line and str(weights) in line


def test_a_malformed_manifest_entry_is_one_clear_error(photos, monkeypatch, capsys, tmp_path):
    from core.weights import user_weights_dir

    folder = user_weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"colornet": {"sha256": "00"}}))
    monkeypatch.delenv(cli.RANDOM_WEIGHTS_ENV)
    assert run(photos / "chelsea.png", "--size", 64) == 1
    line = one_error_line(capsys)
    assert "manifest.json" in line and "'colornet'" in line and "repair" in line
