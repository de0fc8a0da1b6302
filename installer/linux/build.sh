#!/usr/bin/env bash
# Build the Linux bundle: installer/dist/gravity-desktop/ (one folder, no system Python needed).
#
#   installer/linux/build.sh            # build venv + PyInstaller bundle
#   installer/linux/build.sh --appdir   # ... and the AppDir (and the AppImage if appimagetool is found)
#
# The build environment is a separate virtual environment (BUILD_VENV, default
# installer/build/venv) holding the project's base dependencies and PyInstaller, never the
# training extra: whatever is importable there may end up in the bundle. pip reuses its cached
# llama-cpp-python wheel; a first build compiles it (about 5 minutes on 2 cores).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
source "$ROOT/installer/build_env.sh"
PYTHON="${PYTHON:-python3}"
BUILD_VENV="${BUILD_VENV:-$ROOT/installer/build/venv}"
PYINSTALLER_VERSION="${PYINSTALLER_VERSION:-6.22.3}"
DIST="$ROOT/installer/dist"
WORK="$ROOT/installer/build/pyinstaller"
# Same llama.cpp instruction sets as the top-level Makefile (no -march=native: a bundle runs on
# other machines). Overridable, e.g. CMAKE_ARGS="-DGGML_NATIVE=OFF" for the most portable build.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"

start=$(date +%s)
build_env "$BUILD_VENV" "$ROOT/installer/build/base-requirements.txt"
"$BUILD_VENV/bin/python" -m pip install --quiet \
    -r "$ROOT/installer/build/base-requirements.txt" "pyinstaller==$PYINSTALLER_VERSION"
refuse_training_stack "$BUILD_VENV"
deps_done=$(date +%s)

"$BUILD_VENV/bin/pyinstaller" --noconfirm --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" "$ROOT/installer/gravity-desktop.spec"
built=$(date +%s)

if [[ "${1:-}" == "--appdir" ]]; then
    "$HERE/appimage/build_appdir.sh"
fi

size=$(du -sh "$DIST/gravity-desktop" | cut -f1)
echo "bundle: $DIST/gravity-desktop ($size)"
echo "time: dependencies $((deps_done - start)) s, PyInstaller $((built - deps_done)) s"
