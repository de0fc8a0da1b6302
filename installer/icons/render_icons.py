"""Render the app icon from its SVG into the raster formats the installers need.

    python installer/icons/render_icons.py

Reads `resources/icons/gravity-desktop.svg` and writes beside it:
- `gravity-desktop.png` (256 px: the window icon and the Linux desktop entry's icon),
- `hicolor/<size>x<size>/apps/gravity-desktop.png` for the Linux icon theme (AppDir, packages),
- `gravity-desktop.ico` (Windows: the executables and the Inno Setup installer),
- `gravity-desktop.icns` (macOS: the .app bundle).

Only PySide6 is needed (QtSvg draws the SVG; Qt's image plugins write ICO and ICNS), so this runs
headless with QT_QPA_PLATFORM=offscreen. The outputs are committed; run it again after editing the
SVG.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QImageWriter, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parents[2] / "resources" / "icons"
SVG = ICONS / "gravity-desktop.svg"
THEME_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(renderer: QSvgRenderer, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def save(image: QImage, path: Path, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = QImageWriter(str(path), fmt.encode())
    if not writer.write(image):
        raise SystemExit(f"{path}: cannot write {fmt}: {writer.errorString()}")


def main() -> int:
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"{SVG}: not a valid SVG for QtSvg")
    save(render(renderer, 256), ICONS / "gravity-desktop.png", "png")
    for size in THEME_SIZES:
        target = ICONS / "hicolor" / f"{size}x{size}" / "apps" / "gravity-desktop.png"
        save(render(renderer, size), target, "png")
    # Qt's ICO writer stores one image per file; 256 px is what Windows scales down from.
    save(render(renderer, 256), ICONS / "gravity-desktop.ico", "ico")
    save(render(renderer, 512), ICONS / "gravity-desktop.icns", "icns")
    print(f"icons written under {ICONS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
