#!/usr/bin/env bash
# Lay out the AppDir around the PyInstaller bundle and, when appimagetool is on PATH (or named by
# APPIMAGETOOL), pack it into an AppImage.
#
#   installer/linux/appimage/build_appdir.sh [BUNDLE_DIR]
#
# Input: installer/dist/gravity-desktop/ (installer/linux/build.sh). Output:
# installer/dist/GRAVITY_Desktop.AppDir/ and, with appimagetool,
# installer/dist/GRAVITY_Desktop-<version>-x86_64.AppImage.
#
#   GRAVITY_Desktop.AppDir/
#     AppRun                       -> usr/lib/gravity-desktop/gravity-desktop (or gravity)
#     gravity-desktop.desktop      the desktop entry (appimagetool reads the one at the top)
#     gravity-desktop.png, .DirIcon
#     usr/bin/{gravity-desktop,gravity}          symlinks into the bundle
#     usr/lib/gravity-desktop/                   the PyInstaller bundle, unchanged
#     usr/share/applications/gravity-desktop.desktop
#     usr/share/icons/hicolor/{16x16..512x512,scalable}/apps/gravity-desktop.{png,svg}
#     usr/share/metainfo/io.github.gravity_desktop.metainfo.xml
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LINUX="$(cd "$HERE/.." && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
BUNDLE="${1:-$ROOT/installer/dist/gravity-desktop}"
APPDIR="$ROOT/installer/dist/GRAVITY_Desktop.AppDir"
ICONS="$ROOT/resources/icons"
VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$ROOT/gravity_desktop/__init__.py")"
ARCH="${ARCH:-$(uname -m)}"

[[ -x "$BUNDLE/gravity-desktop" ]] || { echo "$BUNDLE: no bundle (run installer/linux/build.sh)" >&2; exit 1; }

rm -rf "$APPDIR"
mkdir -p "$APPDIR/usr/bin" "$APPDIR/usr/lib" "$APPDIR/usr/share/applications" \
    "$APPDIR/usr/share/metainfo" "$APPDIR/usr/share/icons/hicolor/scalable/apps"
cp -a "$BUNDLE" "$APPDIR/usr/lib/gravity-desktop"
ln -s ../lib/gravity-desktop/gravity-desktop "$APPDIR/usr/bin/gravity-desktop"
ln -s ../lib/gravity-desktop/gravity "$APPDIR/usr/bin/gravity"
install -m 755 "$HERE/AppRun" "$APPDIR/AppRun"
install -m 644 "$LINUX/gravity-desktop.desktop" "$APPDIR/gravity-desktop.desktop"
install -m 644 "$LINUX/gravity-desktop.desktop" "$APPDIR/usr/share/applications/"
install -m 644 "$LINUX/io.github.gravity_desktop.metainfo.xml" "$APPDIR/usr/share/metainfo/"
cp -a "$ICONS/hicolor/." "$APPDIR/usr/share/icons/hicolor/"
install -m 644 "$ICONS/gravity-desktop.svg" "$APPDIR/usr/share/icons/hicolor/scalable/apps/"
install -m 644 "$ICONS/gravity-desktop.png" "$APPDIR/gravity-desktop.png"
ln -s gravity-desktop.png "$APPDIR/.DirIcon"
echo "AppDir: $APPDIR ($(du -sh "$APPDIR" | cut -f1))"

TOOL="${APPIMAGETOOL:-$(command -v appimagetool || true)}"
if [[ -z "$TOOL" ]]; then
    echo "appimagetool not found: AppDir only. To pack it, get appimagetool"
    echo "(https://github.com/AppImage/appimagetool/releases) and run:"
    echo "  ARCH=$ARCH appimagetool $APPDIR installer/dist/GRAVITY_Desktop-$VERSION-$ARCH.AppImage"
    exit 0
fi
ARCH="$ARCH" "$TOOL" "$APPDIR" \
    "$ROOT/installer/dist/GRAVITY_Desktop-$VERSION-$ARCH.AppImage"
