#!/usr/bin/env bash
# Build the one-folder package dist/Heirloom/ and check it with its own --self-test.
#
#     bash packaging/build.sh
#
# The interpreter is $PYTHON if set, else the active virtual environment, else .venv (created when
# missing). Heirloom and PyInstaller are installed into it from the 'package' extra when absent.
# The package holds whatever is in resources/weights at build time; without trained weights the
# self-test fails unless HEIRLOOM_ALLOW_RANDOM_WEIGHTS=1 (development only).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

if [ -z "${PYTHON:-}" ]; then
    if [ -n "${VIRTUAL_ENV:-}" ]; then
        PYTHON="$VIRTUAL_ENV/bin/python"
    else
        [ -x .venv/bin/python ] || python3 -m venv .venv
        PYTHON=.venv/bin/python
    fi
fi

# Heirloom must be installed at this checkout's version (the package reads its version from the
# installed metadata), and PyInstaller 6 or later must be there.
if ! "$PYTHON" - <<'EOF'
import importlib.metadata, pathlib, re, sys
want = re.search(r'^version\s*=\s*"([^"]+)"', pathlib.Path("pyproject.toml").read_text(), re.M).group(1)
try:
    ready = importlib.metadata.version("heirloom") == want
    ready = ready and int(importlib.metadata.version("pyinstaller").split(".")[0]) >= 6
except importlib.metadata.PackageNotFoundError:
    ready = False
sys.exit(0 if ready else 1)
EOF
then
    echo "+ $PYTHON -m pip install -e '.[package]'"
    "$PYTHON" -m pip install -e '.[package]'
fi

echo "+ pyinstaller packaging/heirloom.spec"
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/heirloom.spec
built=$SECONDS

app=dist/Heirloom/heirloom
expected="Heirloom $("$PYTHON" -c 'import importlib.metadata as m; print(m.version("heirloom"))')"
actual=$("$app" --version)
if [ "$actual" != "$expected" ]; then
    echo "FAILED: '$app --version' printed '$actual', expected '$expected'." >&2
    exit 1
fi
echo "+ $app --self-test"
"$app" --self-test

size=$(du -sh dist/Heirloom | cut -f1)
echo "package: dist/Heirloom, $size; built in $((built - started)) s, checked in $((SECONDS - built)) s"
