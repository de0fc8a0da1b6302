#!/usr/bin/env bash
# Build GRAVITY Desktop for macOS: the .app (PyInstaller BUNDLE) and a .dmg.
#
#   installer/macos/build.sh
#
# Run on a Mac of the architecture you ship (arm64 on Apple Silicon, x86_64 on Intel): the
# llama.cpp and Qt wheels are per architecture. Needs Python 3.11 and the Xcode command line
# tools (llama-cpp-python compiles from source, with Metal). Optional:
#   CODESIGN_IDENTITY="Developer ID Application: ..."  sign the .app (hardened runtime)
#   NOTARY_PROFILE=<keychain profile of `xcrun notarytool store-credentials`>  notarize the .dmg
#   USE_CREATE_DMG=1  use create-dmg (brew install create-dmg) for a window with an
#                     Applications shortcut and icon layout, instead of plain hdiutil
# Outputs: installer/dist/GRAVITY Desktop.app and installer/dist/GRAVITY-Desktop-<version>-<arch>.dmg
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
source "$ROOT/installer/build_env.sh"
PYTHON="${PYTHON:-python3.11}"
BUILD_VENV="${BUILD_VENV:-$ROOT/installer/build/venv}"
PYINSTALLER_VERSION="${PYINSTALLER_VERSION:-6.22.3}"
DIST="$ROOT/installer/dist"
APP="$DIST/GRAVITY Desktop.app"
ARCH="$(uname -m)"

build_env "$BUILD_VENV" "$ROOT/installer/build/base-requirements.txt"
"$BUILD_VENV/bin/python" -m pip install --quiet \
    -r "$ROOT/installer/build/base-requirements.txt" "pyinstaller==$PYINSTALLER_VERSION"
refuse_training_stack "$BUILD_VENV"

"$BUILD_VENV/bin/pyinstaller" --noconfirm --log-level WARN \
    --distpath "$DIST" --workpath "$ROOT/installer/build/pyinstaller" \
    "$ROOT/installer/gravity-desktop.spec"
VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$ROOT/gravity_desktop/__init__.py")"

if [[ -n "${CODESIGN_IDENTITY:-}" ]]; then
    codesign --force --deep --options runtime --timestamp \
        --entitlements "$HERE/entitlements.plist" --sign "$CODESIGN_IDENTITY" "$APP"
    codesign --verify --strict --verbose=2 "$APP"
fi

# Headless check before packing: the app opens its window on the bundled model.
QT_QPA_PLATFORM=offscreen GRAVITY_HOME="$(mktemp -d)" \
    "$APP/Contents/MacOS/gravity-desktop" --smoke-test

DMG="$DIST/GRAVITY-Desktop-$VERSION-$ARCH.dmg"
rm -f "$DMG"
if [[ "${USE_CREATE_DMG:-0}" == "1" ]]; then
    create-dmg --volname "GRAVITY Desktop" --volicon "$ROOT/resources/icons/gravity-desktop.icns" \
        --window-size 540 360 --icon-size 96 --icon "GRAVITY Desktop.app" 140 170 \
        --app-drop-link 400 170 "$DMG" "$APP"
else
    STAGE="$(mktemp -d)"
    cp -R "$APP" "$STAGE/"
    ln -s /Applications "$STAGE/Applications"
    hdiutil create -volname "GRAVITY Desktop" -srcfolder "$STAGE" -ov -format UDZO "$DMG"
    rm -rf "$STAGE"
fi
if [[ -n "${CODESIGN_IDENTITY:-}" ]]; then
    codesign --sign "$CODESIGN_IDENTITY" --timestamp "$DMG"
fi
if [[ -n "${NOTARY_PROFILE:-}" ]]; then
    xcrun notarytool submit "$DMG" --keychain-profile "$NOTARY_PROFILE" --wait
    xcrun stapler staple "$DMG"
fi
echo "app: $APP ($(du -sh "$APP" | cut -f1)); disk image: $DMG ($(du -h "$DMG" | cut -f1))"
