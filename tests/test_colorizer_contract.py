"""One contract for every colorizer the app can be given: ``core.api.ColorizerLike``.

The real ``Colorizer`` and the desktop tests' ``FakeColorizer`` are checked member by member against
the protocol: the same names, and methods with the same parameters (names, kinds, defaults), so a
test that passes against the fake exercises calls the real colorizer accepts.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest

from core.api import Colorizer, ColorizerLike

TESTS = Path(__file__).resolve().parent


def fake_colorizer() -> type:
    sys.path.insert(0, str(TESTS / "desktop"))
    try:
        return importlib.import_module("desktop_fakes").FakeColorizer
    finally:
        sys.path.remove(str(TESTS / "desktop"))


COLORIZERS = {"Colorizer": lambda: Colorizer, "FakeColorizer": fake_colorizer}


def protocol_members() -> tuple[list[str], dict[str, inspect.Signature]]:
    data = sorted(getattr(ColorizerLike, "__annotations__", {}))
    methods = {
        name: inspect.signature(member)
        for name, member in vars(ColorizerLike).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }
    return data, methods


def declares(cls: type, name: str) -> bool:
    """``cls`` has ``name`` as a class attribute or property, an annotation, or sets it in a method."""
    if hasattr(cls, name) or name in getattr(cls, "__annotations__", {}):
        return True
    return re.search(rf"\bself\.{re.escape(name)}\s*(:[^=]*)?=", inspect.getsource(cls)) is not None


def shape(signature: inspect.Signature) -> list[tuple[str, object, object]]:
    """What a caller depends on: parameter names, kinds and defaults (not annotations)."""
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_the_protocol_lists_the_public_surface():
    data, methods = protocol_members()
    assert data == ["device_description", "metadata", "stage_calls"]
    assert sorted(methods) == ["check_reference", "export", "hold", "open", "palette", "prepare", "preview", "probe", "render"]


@pytest.mark.parametrize("name", sorted(COLORIZERS))
def test_colorizer_satisfies_the_protocol(name):
    cls = COLORIZERS[name]()
    data, methods = protocol_members()
    missing = [member for member in data if not declares(cls, member)]
    assert not missing, f"{name} lacks {', '.join(missing)}"
    for method, expected in methods.items():
        actual = getattr(cls, method, None)
        assert callable(actual), f"{name} lacks the method {method}()"
        assert shape(inspect.signature(actual)) == shape(expected), (
            f"{name}.{method}{inspect.signature(actual)} differs from the protocol's {method}{expected}"
        )
