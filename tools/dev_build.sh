#!/usr/bin/env bash
# Development build of the C++ core next to the Python sources, for working
# from the source tree (PYTHONPATH=python, or a .pth file pointing there).
# Usage: tools/dev_build.sh [extra cmake args...]   (PYTHON selects the interpreter)
# The extension is swapped in atomically so running processes are not disturbed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
BUILD=${BUILD_DIR:-build/dev}
cmake -S . -B "$BUILD" -G Ninja -DPython_EXECUTABLE="$(command -v "$PY")" "$@" >/dev/null
cmake --build "$BUILD" -j 2
so=$(ls "$BUILD"/_core*.so | head -n1)
dest=${DEST_DIR:-python/radonml}
cp "$so" "$dest/.$(basename "$so").tmp"
mv -f "$dest/.$(basename "$so").tmp" "$dest/$(basename "$so")"
echo "built $dest/$(basename "$so")"
