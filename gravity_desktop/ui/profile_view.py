"""The profile page: the card and four charts drawn from the same JSON as `gravity profile show`.

OCEAN bars; the ten Schwartz values on a radar (polar) chart; Hofstede person-vs-country bars;
the reader's point on the Inglehart-Welzel map beside their country's. Each chart also says its
values in words (tooltip and accessible description), for readers who cannot see it.
"""

from __future__ import annotations

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QCategoryAxis,
    QChart,
    QChartView,
    QHorizontalBarSeries,
    QLineSeries,
    QPolarChart,
    QScatterSeries,
    QValueAxis,
)
from PySide6.QtCore import QEvent, QMargins, QPointF, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gravity_desktop.profile.instruments import SECTION_ORDER, load_questionnaire
from gravity_desktop.ui.theme import chart_theme

OCEAN_NAMES = {
    "O": "Openness",
    "C": "Conscientiousness",
    "E": "Extraversion",
    "A": "Agreeableness",
    "N": "Neuroticism",
}


def _chart(title: str, chart: QChart | None = None) -> tuple[QChart, QChartView]:
    chart = chart or QChart()
    chart.setTheme(chart_theme())
    chart.setTitle(title)
    chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
    chart.setMargins(QMargins(4, 4, 4, 4))
    chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
    view = QChartView(chart)
    view.setRenderHint(QPainter.RenderHint.Antialiasing)
    view.setMinimumSize(360, 300)  # below this, axis titles get cut short
    view.setAccessibleName(title)
    return chart, view


def _say(view: QChartView, text: str) -> None:
    """The chart's values in words: a tooltip, and the description a screen reader reads."""
    view.setToolTip(text)
    view.setAccessibleDescription(text)


def _number(value: float | None, spec: str = ".0f") -> str:
    return "unknown" if value is None else format(value, spec)


class ProfileView(QWidget):
    """Shows one profile (as its JSON) and offers to retake a section."""

    retake_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data: dict | None = None
        self.summary = QLabel("No profile yet.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retake = QPushButton("Retake a section…")
        self.retake.setAccessibleName("Retake a section of the questionnaire")
        menu = QMenu(self.retake)
        q = load_questionnaire()
        for section in SECTION_ORDER:
            action = menu.addAction(q.instruments[section].title)
            action.triggered.connect(lambda _=False, s=section: self.retake_requested.emit(s))
        self.retake.setMenu(menu)
        header = QHBoxLayout()
        header.addWidget(self.summary, 1)
        header.addWidget(self.retake, 0, Qt.AlignmentFlag.AlignTop)
        charts = QWidget()
        self.grid = QGridLayout(charts)
        self.grid.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(charts)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(scroll, 1)
        self.charts: dict[str, QChart] = {}
        self.views: dict[str, QChartView] = {}

    def show_profile(self, data: dict) -> None:
        self.data = data
        version = f" (profile version {data['version']})" if data.get("version") else ""
        self.summary.setText(data["summary"].replace("\n", "<br>") + version)
        while self.grid.count():
            self.grid.takeAt(0).widget().deleteLater()
        builders = (self._ocean, self._schwartz, self._hofstede, self._wvs)
        for index, build in enumerate(builders):
            name, chart, view = build(data)
            self.charts[name] = chart
            self.views[name] = view
            self.grid.addWidget(view, index // 2, index % 2)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange and self.data is not None:
            self.show_profile(self.data)  # redrawn in the chart theme of the new scheme
        super().changeEvent(event)

    # -- charts -----------------------------------------------------------------------------

    def _ocean(self, data: dict) -> tuple[str, QChart, QChartView]:
        chart, view = _chart("Personality (Big Five, 0-100)")
        # Horizontal, so the trait names are never cut short; categories run from the bottom
        # up, so N comes first and Openness ends on top.
        top_down = list(OCEAN_NAMES)[::-1]
        bars = QBarSet("You")
        for trait in top_down:
            value = data["ocean"][trait]
            bars.append(0.0 if value is None else value)
        series = QHorizontalBarSeries()
        series.append(bars)
        chart.addSeries(series)
        traits = QBarCategoryAxis()
        traits.append([OCEAN_NAMES[t] for t in top_down])
        scores = QValueAxis()
        scores.setRange(0, 100)
        scores.setLabelFormat("%d")
        chart.addAxis(traits, Qt.AlignmentFlag.AlignLeft)
        chart.addAxis(scores, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(traits)
        series.attachAxis(scores)
        chart.legend().hide()
        _say(view, "Personality, 0 to 100: " + ", ".join(
            f"{name} {_number(data['ocean'][trait])}" for trait, name in OCEAN_NAMES.items()
        ))  # fmt: skip
        return "ocean", chart, view

    def _schwartz(self, data: dict) -> tuple[str, QChart, QChartView]:
        chart, view = _chart("Values (Schwartz, centered on your mean)", QPolarChart())
        names = list(data["schwartz"])
        step = 360.0 / len(names)
        series = QLineSeries()
        series.setName("You")
        points = [
            QPointF(i * step, 0.0 if data["schwartz"][n] is None else data["schwartz"][n])
            for i, n in enumerate(names)
        ]
        for point in [*points, QPointF(360.0, points[0].y())]:
            series.append(point)
        chart.addSeries(series)
        angular = QCategoryAxis()
        angular.setRange(0, 360)
        angular.setLabelsPosition(QCategoryAxis.AxisLabelsPosition.AxisLabelsPositionOnValue)
        for i, name in enumerate(names):
            angular.append(name.replace("_", "-"), i * step)
        radial = QValueAxis()
        low = min([-2.0, *(p.y() for p in points)])
        high = max([2.0, *(p.y() for p in points)])
        radial.setRange(low, high)
        radial.setLabelFormat("%+.1f")
        chart.addAxis(angular, QPolarChart.PolarOrientation.PolarOrientationAngular)
        chart.addAxis(radial, QPolarChart.PolarOrientation.PolarOrientationRadial)
        series.attachAxis(angular)
        series.attachAxis(radial)
        chart.legend().hide()
        _say(view, "Values, above or below your own average: " + ", ".join(
            f"{name.replace('_', '-')} {_number(value, '+.1f')}"
            for name, value in data["schwartz"].items()
        ))  # fmt: skip
        return "schwartz", chart, view

    def _hofstede(self, data: dict) -> tuple[str, QChart, QChartView]:
        chart, view = _chart(f"Culture (Hofstede): you and {data['country']['name']}")
        you, country = QBarSet("You"), QBarSet(data["country"]["name"])
        dims = list(data["hofstede"])
        for dim in dims:
            entry = data["hofstede"][dim]
            you.append(0.0 if entry["person"] is None else entry["person"])
            country.append(0.0 if entry["country"] is None else entry["country"])
        series = QBarSeries()
        series.append(you)
        series.append(country)
        chart.addSeries(series)
        axis_x = QBarCategoryAxis()
        axis_x.append(dims)
        axis_y = QValueAxis()
        axis_y.setRange(0, max([100.0, *(country.at(i) for i in range(len(dims)))]))
        chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(axis_x)
        series.attachAxis(axis_y)
        _say(view, f"Culture, 0 to 100, you and {data['country']['name']}: " + "; ".join(
            f"{dim} {_number(entry['person'])} and {_number(entry['country'])}"
            for dim, entry in data["hofstede"].items()
        ))  # fmt: skip
        return "hofstede", chart, view

    def _wvs(self, data: dict) -> tuple[str, QChart, QChartView]:
        chart, view = _chart("Beliefs (World Values Survey map)")
        axis_x = QValueAxis()
        axis_x.setRange(-2.5, 2.5)
        axis_x.setTitleText("survival ↔ self-expression")
        axis_y = QValueAxis()
        axis_y.setRange(-2.5, 2.5)
        axis_y.setTitleText("traditional ↔ secular")
        for axis in (axis_x, axis_y):
            axis.setTitleFont(axis.labelsFont())
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignRight)  # leaves the axes their height
        chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
        wvs = data["wvs"]
        for who, name in (("person", "You"), ("country", data["country"]["name"])):
            x = wvs["survival_self_expression"][who]
            y = wvs["traditional_secular"][who]
            if x is None or y is None:
                continue
            series = QScatterSeries()
            series.setName(name)
            series.setMarkerSize(14)
            series.append(x, y)
            chart.addSeries(series)
            series.attachAxis(axis_x)
            series.attachAxis(axis_y)
        _say(view, "World Values Survey map (survival to self-expression, traditional to"
             " secular): " + "; ".join(
                 f"{name} {_number(wvs['survival_self_expression'][who], '+.1f')},"
                 f" {_number(wvs['traditional_secular'][who], '+.1f')}"
                 for who, name in (("person", "you"), ("country", data["country"]["name"]))
             ))  # fmt: skip
        return "wvs", chart, view
