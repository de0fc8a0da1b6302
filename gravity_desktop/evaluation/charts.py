"""PNG charts of the results (matplotlib, Agg backend: no display, no Qt).

Each chart is drawn from the JSON summaries of one judge and names that judge in its title;
error bars are the bootstrap 95% intervals, and the paper's headline figure is drawn as a line.
"""

from __future__ import annotations

from pathlib import Path

PAPER_GAIN_PERCENT = 4.0  # "over 4% higher preference gains" than every baseline
PAPER_PREFERRED = 0.86  # "users preferred GRAVITY outputs over 86% of the time"


def _bars(
    path: Path,
    title: str,
    ylabel: str,
    scopes: list[str],
    series: dict[str, list[dict[str, float | None]]],
    lines: list[tuple[float, str, str]],
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(max(7.5, 1.6 * len(scopes) + 4), 4.2))
    width = 0.8 / max(1, len(series))
    for number, (label, estimates) in enumerate(series.items()):
        xs = [i + (number - (len(series) - 1) / 2) * width for i in range(len(scopes))]
        values = [e["value"] if e["value"] is not None else 0.0 for e in estimates]
        below = [
            v - e["low"] if e["low"] is not None else 0.0
            for v, e in zip(values, estimates, strict=True)
        ]
        above = [
            e["high"] - v if e["high"] is not None else 0.0
            for v, e in zip(values, estimates, strict=True)
        ]
        axes.bar(xs, values, width, label=label, yerr=[below, above], capsize=3)
    for y, label, style in lines:
        axes.axhline(y, color="black", linestyle=style, linewidth=1, label=label)
    axes.set_xticks(range(len(scopes)), scopes)
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the bars
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _scopes(summaries: dict[str, dict]) -> list[str]:
    return [s for s, summary in summaries.items() if summary.get("items")]


def win_rate_chart(path: Path, judge: str, summaries: dict[str, dict]) -> Path | None:
    """Pairwise win rate of GRAVITY against each baseline, overall and per country."""
    scopes = _scopes(summaries)
    baselines = list(summaries["all"].get("gravity_vs", {}))
    if not scopes or not baselines:
        return None
    series = {
        f"vs {b}": [summaries[s]["gravity_vs"][b]["pairwise_win_rate"] for s in scopes]
        for b in baselines
    }
    lines = [(PAPER_PREFERRED, "paper: preferred >86%", "-"), (0.5, "no preference", ":")]
    title = f"GRAVITY's pairwise win rate by country (judge: {judge})"
    return _bars(path, title, "share of items GRAVITY wins", scopes, series, lines)


def gain_chart(path: Path, judge: str, summaries: dict[str, dict]) -> Path | None:
    """Preference gain of GRAVITY over each baseline (%), overall and per country."""
    scopes = _scopes(summaries)
    baselines = list(summaries["all"].get("gravity_vs", {}))
    if not scopes or not baselines:
        return None
    series = {
        f"over {b}": [summaries[s]["gravity_vs"][b]["preference_gain_percent"] for s in scopes]
        for b in baselines
    }
    lines = [(PAPER_GAIN_PERCENT, "paper: >4% over every baseline", "-"), (0.0, "no gain", ":")]
    title = f"Preference gain of GRAVITY by country (judge: {judge})"
    return _bars(path, title, "gain in judged preference (%)", scopes, series, lines)


def top1_chart(path: Path, judge: str, summaries: dict[str, dict], methods: list[str]) -> Path:
    """Top-1 win rate of every method among all methods, overall and per country."""
    scopes = _scopes(summaries)
    series = {m: [summaries[s]["methods"][m]["top1_win_rate"] for s in scopes] for m in methods}
    lines = [(1 / len(methods), f"chance (1/{len(methods)})", ":")]
    title = f"Top-1 win rate among all methods (judge: {judge})"
    return _bars(path, title, "share of items ranked first", scopes, series, lines)
