"""An evaluation as a person reads it: a plain-text table for the terminal, and an HTML
page with ROC and PR curves drawn as inline SVG (no JavaScript, nothing fetched).

The curves are drawn here rather than with review/charts.py: those charts plot values
over dates, and services may not import the review pages (the layers in pyproject.toml).
Every text from the file is escaped: the sets hold whatever people wrote."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from moderation.services.evaluation import Evaluation, LabelFigures, WrongText, share
from moderation.types import CommentStatus

SIZE, PAD = 260, 34
MAX_POINTS = 400
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#111111")


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _figure_rows(evaluation: Evaluation) -> list[list[str]]:
    rows = []
    for f in evaluation.figures:
        row = [f.label, f.scored_by, str(f.positives), _number(f.roc_auc), _number(f.pr_auc)]
        for at in (f.hold, f.hide):
            if at is None:
                row += ["off", "", "", ""]
            else:
                row += [f"{at.threshold:.2f}", _number(at.precision), _number(at.recall),
                        _number(at.f1)]  # fmt: skip
        rows.append(row)
    return rows


FIGURE_HEADER = ["label", "scored by", "n+", "ROC-AUC", "PR-AUC", "hold at", "P", "R", "F1",
                 "hide at", "P", "R", "F1"]  # fmt: skip
OUTCOME_HEADER = ["texts", "n", "visible", "held", "hidden", "held or hidden"]


def _outcome_rows(evaluation: Evaluation) -> list[list[str]]:
    rows = []
    for group, counts in evaluation.outcomes.items():
        total = sum(counts.values())
        rows.append(
            [group, str(total)]
            + [f"{counts[s.value]} ({_percent(share(counts, s))})" for s in _STATUSES]
            + [_percent(share(counts, CommentStatus.HELD, CommentStatus.HIDDEN))]
        )
    return rows


_STATUSES = (CommentStatus.VISIBLE, CommentStatus.HELD, CommentStatus.HIDDEN)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _one_line(text: str, width: int = 110) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def text_report(evaluation: Evaluation, policy_name: str) -> str:
    """The figures as plain-text tables, with a few wrong texts of each kind."""
    e = evaluation
    parts = [
        f"{e.path}: {e.n} texts ({e.format} format"
        + (f", {e.skipped} unlabelled rows skipped" if e.skipped else "")
        + f"), scorer {e.scorer}, policy of {policy_name}",
        "",
        _table(FIGURE_HEADER, _figure_rows(e)),
        "",
        "what the policy did (suspect and banned words included):",
        _table(OUTCOME_HEADER, _outcome_rows(e)),
    ]
    for title, count, texts in (
        ("abusive texts left visible", e.missed_count, e.missed),
        ("acceptable texts held or hidden", e.false_alarm_count, e.false_alarms),
    ):
        parts += ["", f"{title}: {count}" + (f" (first {len(texts)})" if texts else "")]
        parts += [f"  [{_one_line(w.reason, 60)}] {_one_line(w.text)}" for w in texts]
    return "\n".join(parts)


# ------------------------------------------------------------------ HTML


def curve_chart(
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    title: str,
    x_label: str,
    y_label: str,
    diagonal: bool = False,
) -> Markup:
    """Lines over the unit square, one per named series, with a legend: ROC and PR
    curves. Every string is escaped here."""
    span = SIZE - 2 * PAD

    def point(x: float, y: float) -> str:
        return f"{PAD + x * span:.1f},{SIZE - PAD - y * span:.1f}"

    body = [
        f'<rect x="{PAD}" y="{PAD}" width="{span}" height="{span}" fill="none" stroke="#999"/>',
        f'<text x="{SIZE / 2}" y="{SIZE - 6}" text-anchor="middle" font-size="11">'
        f"{escape(x_label)}</text>",
        f'<text x="10" y="{SIZE / 2}" text-anchor="middle" font-size="11" '
        f'transform="rotate(-90 10 {SIZE / 2})">{escape(y_label)}</text>',
    ]
    for tick in (0.0, 0.5, 1.0):
        body.append(f'<text x="{PAD + tick * span:.1f}" y="{SIZE - PAD + 12}" font-size="9" '
                    f'text-anchor="middle">{tick:g}</text>')  # fmt: skip
        body.append(f'<text x="{PAD - 4}" y="{SIZE - PAD - tick * span + 3:.1f}" font-size="9" '
                    f'text-anchor="end">{tick:g}</text>')  # fmt: skip
    if diagonal:
        body.append(f'<line x1="{PAD}" y1="{SIZE - PAD}" x2="{SIZE - PAD}" y2="{PAD}" '
                    'stroke="#ccc" stroke-dasharray="4 3"/>')  # fmt: skip
    for index, (name, all_points) in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        # A curve over tens of thousands of scores has as many points; a few hundred draw
        # the same line at this size.
        step = max(1, len(all_points) // MAX_POINTS)
        points = list(all_points[::step]) + list(all_points[-1:])
        coords = " ".join(point(x, y) for x, y in points)
        body.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.5">'
            f"<title>{escape(name)}</title></polyline>"
        )
        # The legend goes under the plot, where it hides no part of a curve.
        body.append(
            f'<text x="{PAD}" y="{SIZE + 8 + 13 * index}" font-size="10" '
            f'fill="{colour}">{escape(name)}</text>'
        )
    height = SIZE + 12 + 13 * len(series)
    return Markup(  # noqa: S704 - every interpolated string is escaped above
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {height}" '
        f'width="{SIZE}" height="{height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
                   for row in rows)  # fmt: skip
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _shortened(text: str, limit: int = 800) -> str:
    return text if len(text) <= limit else text[:limit] + " […]"


def _wrong_list(texts: Sequence[WrongText]) -> str:
    if not texts:
        return "<p>none</p>"
    items = "".join(
        f"<li><p class=why>{escape(w.status.value)} · top score {w.top_score:.2f} · "
        f"{escape(w.reason)}{' · ' + escape(', '.join(w.labels)) if w.labels else ''}</p>"
        f"<blockquote>{escape(_shortened(w.text))}</blockquote></li>"
        for w in texts
    )
    return f"<ol>{items}</ol>"


def _label_name(f: LabelFigures) -> str:
    return f"{f.label} (AUC {_number(f.roc_auc)})"


def html_report(evaluation: Evaluation, policy_name: str) -> str:
    """A standalone HTML page: the curves, the tables and the wrong texts."""
    e = evaluation
    roc = curve_chart([(_label_name(f), f.roc) for f in e.figures], "ROC curves",
                      "false positive rate", "true positive rate", diagonal=True)  # fmt: skip
    pr = curve_chart([(f"{f.label} (AP {_number(f.pr_auc)})", f.pr) for f in e.figures],
                     "precision-recall curves", "recall", "precision")  # fmt: skip
    title = f"Evaluation of {e.scorer} on {e.path}"
    skipped = f", {e.skipped} unlabelled rows skipped" if e.skipped else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 72em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: .2em .5em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
.curves svg {{ margin-right: 2em; }}
blockquote {{ margin: .2em 0 1em; white-space: pre-wrap; background: #f6f6f6; padding: .4em; }}
.why {{ margin: 0; color: #555; }}
</style></head><body>
<h1>{escape(title)}</h1>
<p>{e.n} texts ({escape(e.format)} format{escape(skipped)}), scored with
{escape(e.scorer)}; policy of {escape(policy_name)} (suspect and banned words included).</p>
<div class="curves">{roc}{pr}</div>
<h2>Per label</h2>
{_html_table(FIGURE_HEADER, _figure_rows(e))}
<h2>What the policy did</h2>
{_html_table(OUTCOME_HEADER, _outcome_rows(e))}
<h2>Abusive texts left visible ({e.missed_count})</h2>
{_wrong_list(e.missed)}
<h2>Acceptable texts held or hidden ({e.false_alarm_count})</h2>
{_wrong_list(e.false_alarms)}
</body></html>
"""
