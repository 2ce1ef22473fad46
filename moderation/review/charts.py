"""Small server-rendered SVG charts: no JavaScript, no chart library, nothing to load.
Each returns markup for a template to include with ``|safe``; every string inside is
escaped here."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 640, 200, 32


def _frame(title: str, body: str, peak: float) -> Markup:
    return Markup(  # noqa: S704 - every interpolated string is escaped above
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + PAD}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<line x1="{PAD}" y1="{HEIGHT}" x2="{WIDTH}" y2="{HEIGHT}" class="axis"/>'
        f'<text x="0" y="{PAD - 12}" class="tick">{peak:g}</text>'
        f'<text x="0" y="{HEIGHT}" class="tick">0</text>{body}</svg>'
    )


def _x(index: int, count: int) -> float:
    return PAD + (WIDTH - PAD - 8) * (index / max(count - 1, 1))


def _y(value: float, peak: float) -> float:
    return HEIGHT - (HEIGHT - PAD) * (value / peak if peak else 0)


def line_chart(points: Sequence[tuple[str, float]], title: str) -> Markup:
    """A line over labelled points (dates, say)."""
    peak = max((v for _, v in points), default=0) or 1
    coords = " ".join(
        f"{_x(i, len(points)):.1f},{_y(v, peak):.1f}" for i, (_, v) in enumerate(points)
    )
    labels = "".join(
        f'<text x="{_x(i, len(points)):.1f}" y="{HEIGHT + 18}" class="tick" '
        f'text-anchor="middle">{escape(label)}</text>'
        for i, (label, _) in enumerate(points)
        if i % max(1, len(points) // 7) == 0
    )
    dots = "".join(
        f'<circle cx="{_x(i, len(points)):.1f}" cy="{_y(v, peak):.1f}" r="3" class="dot">'
        f"<title>{escape(label)}: {v:g}</title></circle>"
        for i, (label, v) in enumerate(points)
    )
    return _frame(title, f'<polyline points="{coords}" class="line"/>{dots}{labels}', peak)


def bar_chart(bars: Sequence[tuple[str, dict[str, float]]], title: str) -> Markup:
    """Stacked bars per label (a day), one colour per series (approve, hide...)."""
    totals = [sum(series.values()) for _, series in bars]
    peak = max(totals, default=0) or 1
    slot = (WIDTH - PAD) / max(len(bars), 1)
    body = []
    for i, (label, series) in enumerate(bars):
        base: float = HEIGHT
        for name, value in sorted(series.items()):
            height = (HEIGHT - PAD) * value / peak
            base -= height
            body.append(
                f'<rect x="{PAD + i * slot + 2:.1f}" y="{base:.1f}" width="{slot - 4:.1f}" '
                f'height="{height:.1f}" class="bar bar-{escape(name)}">'
                f"<title>{escape(label)} {escape(name)}: {value:g}</title></rect>"
            )
        if i % max(1, len(bars) // 7) == 0:
            body.append(
                f'<text x="{PAD + i * slot + slot / 2:.1f}" y="{HEIGHT + 18}" '
                f'class="tick" text-anchor="middle">{escape(label)}</text>'
            )
    return _frame(title, "".join(body), peak)


def histogram_chart(groups: dict[str, list[int]], title: str) -> Markup:
    """Side-by-side histograms over ten score bins (0–0.1 … 0.9–1), one per status."""
    names = list(groups)
    peak = max((c for counts in groups.values() for c in counts), default=0) or 1
    slot = (WIDTH - PAD) / 10
    width = (slot - 4) / max(len(names), 1)
    body = []
    for b in range(10):
        for n, name in enumerate(names):
            value = groups[name][b]
            height = (HEIGHT - PAD) * value / peak
            body.append(
                f'<rect x="{PAD + b * slot + 2 + n * width:.1f}" y="{HEIGHT - height:.1f}" '
                f'width="{width:.1f}" height="{height:.1f}" class="bar bar-{escape(name)}">'
                f"<title>{escape(name)} {b / 10:.1f}–{(b + 1) / 10:.1f}: {value}</title></rect>"
            )
        body.append(
            f'<text x="{PAD + b * slot + slot / 2:.1f}" y="{HEIGHT + 18}" class="tick" '
            f'text-anchor="middle">{b / 10:.1f}</text>'
        )
    return _frame(title, "".join(body), peak)
