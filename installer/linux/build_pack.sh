#!/usr/bin/env bash
# Build the training pack for Linux: installer/dist/gravity-training-pack-<version>-linux-<arch>.tar.gz
#
#   installer/linux/build_pack.sh
#
# A separate build environment (PACK_VENV, default installer/build/pack-venv) gets the base
# dependencies, the `train` extra and PyInstaller. torch comes from TORCH_INDEX_URL when it is set
# (for example https://download.pytorch.org/whl/cpu for the CPU build; an unpinned index pulls the
# CUDA build, several GB). The archive holds pack.json and gravity-worker/; readers install it with
# `gravity pack install FILE`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
source "$ROOT/installer/build_env.sh"
PYTHON="${PYTHON:-python3}"
PACK_VENV="${PACK_VENV:-$ROOT/installer/build/pack-venv}"
PYINSTALLER_VERSION="${PYINSTALLER_VERSION:-6.22.3}"
DIST="$ROOT/installer/dist"
STAGE="$DIST/pack"
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON}"

start=$(date +%s)
build_env "$PACK_VENV" "$ROOT/installer/build/pack-requirements.txt" train
if [[ -n "${TORCH_INDEX_URL:-}" ]]; then
    torch_pin="$(grep '^torch' "$ROOT/installer/build/pack-requirements.txt")"
    "$PACK_VENV/bin/python" -m pip install --quiet "$torch_pin" --index-url "$TORCH_INDEX_URL"
fi
"$PACK_VENV/bin/python" -m pip install --quiet \
    -r "$ROOT/installer/build/pack-requirements.txt" "pyinstaller==$PYINSTALLER_VERSION"
deps_done=$(date +%s)

rm -rf "$STAGE"
"$PACK_VENV/bin/pyinstaller" --noconfirm --log-level WARN \
    --distpath "$STAGE" --workpath "$ROOT/installer/build/pack" "$ROOT/installer/training-pack.spec"
built=$(date +%s)

# pack.json: the app accepts the pack only for the same version, platform and source digest.
read -r VERSION PLATFORM BUILD < <("$PACK_VENV/bin/python" -c "
import sys; from pathlib import Path; sys.path.insert(0, '$ROOT')
from gravity_desktop import __version__, packs
print(__version__, packs.platform_tag(), packs.source_digest(Path('$ROOT')))")
cat > "$STAGE/pack.json" <<JSON
{
  "name": "gravity-training-pack",
  "version": "$VERSION",
  "platform": "$PLATFORM",
  "build": "$BUILD",
  "executable": "gravity-worker/gravity-worker"
}
JSON
ARCHIVE="$DIST/gravity-training-pack-$VERSION-$PLATFORM.tar.gz"
tar -C "$STAGE" -czf "$ARCHIVE" pack.json gravity-worker
done_at=$(date +%s)

echo "pack: $STAGE ($(du -sh "$STAGE" | cut -f1)); archive: $ARCHIVE ($(du -h "$ARCHIVE" | cut -f1))"
echo "time: dependencies $((deps_done - start)) s, PyInstaller $((built - deps_done)) s," \
    "archive $((done_at - built)) s"
