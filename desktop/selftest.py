"""``heirloom --self-test``: prove an installation (or a packaged build) works, without a window.

Loads the weights, colorizes the bundled demo photo with the bundled reference, and checks that the
result is a colour image of the photo's full size. Prints one line per step; returns 0 on success and
1 with a sentence saying what is wrong otherwise. No Qt is imported.
"""

from __future__ import annotations

import sys
import time


def _fail(message: str) -> int:
    print(f"FAILED: {message}", file=sys.stderr)
    return 1


def run_self_test(allow_random_weights: bool = False, out=print) -> int:
    started = time.perf_counter()
    try:
        from core.api import Colorizer, ColorizerConfig, ImageError, WeightsError, load_photo, photo_from_array, resources_dir
        from core.edit import Edit, Reference
    except Exception as error:  # a broken install fails in many ways; report it in one line
        return _fail(f"Heirloom's core could not be imported ({error}); reinstall Heirloom.")

    demo = resources_dir() / "demo"
    photo_path, reference_path = demo / "demo_photo.jpg", demo / "demo_reference.jpg"
    try:
        photo = load_photo(photo_path)
        out(f"photo      {photo_path.name} {photo.width}x{photo.height}")
        colorizer = Colorizer(ColorizerConfig.from_options(allow_random_weights=allow_random_weights))
        metadata = colorizer.metadata
        untrained = [name for name, m in metadata.items() if isinstance(m, dict) and m.get("random")]
        note = f" (UNTRAINED {', '.join(untrained)}: development only)" if untrained else ""
        out(f"model      loaded on {colorizer.device_description}{note}")
        edit = Edit(str(photo_path), (Reference(str(reference_path)),))
        preview = colorizer.preview(edit)
        out(f"preview    {preview.rgb.shape[1]}x{preview.rgb.shape[0]} in {preview.seconds:.2f} s")
        rgb = colorizer.render(edit)
    except WeightsError as error:
        return _fail(str(error))
    except ImageError as error:
        return _fail(f"{error} (the bundled demo files are part of the installation; reinstall Heirloom)")
    except Exception as error:  # noqa: BLE001 - the self-test reports everything as one line
        return _fail(f"colorizing the demo photo raised {type(error).__name__}: {error}")

    if rgb.shape[:2] != (photo.height, photo.width) or rgb.ndim != 3 or rgb.shape[2] != 3:
        return _fail(f"the result is {rgb.shape}, expected ({photo.height}, {photo.width}, 3)")
    if not photo_from_array(rgb).has_colour:
        return _fail("the result has no colour; the model weights may be damaged, so reinstall Heirloom")
    out(f"result     {rgb.shape[1]}x{rgb.shape[0]} colour, {rgb.dtype}")
    out(f"OK         self-test passed in {time.perf_counter() - started:.1f} s")
    return 0
