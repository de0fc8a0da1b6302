"""Light or dark, as the system says.

Qt 6 follows the system's color scheme on its own (the Fusion style reads QStyleHints
.colorScheme); the app sets no palette or style sheet that would pin it to light. Qt Charts do not
follow by themselves (they draw with their own light theme), so charts ask here which theme
matches and are redrawn when the palette changes.
"""

from __future__ import annotations

from PySide6.QtCharts import QChart
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication


def color_scheme() -> Qt.ColorScheme:
    return QGuiApplication.styleHints().colorScheme()


def scheme_name() -> str:
    """The system's scheme in words, for the Appearance note."""
    return {Qt.ColorScheme.Dark: "dark", Qt.ColorScheme.Light: "light"}.get(
        color_scheme(), "light, as your system does not say"
    )


def chart_theme() -> QChart.ChartTheme:
    if color_scheme() == Qt.ColorScheme.Dark:
        return QChart.ChartTheme.ChartThemeDark
    return QChart.ChartTheme.ChartThemeLight
