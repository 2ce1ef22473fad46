"""`flask moderation evaluate`: the table an operator reads, the HTML report, and the
one-line refusals. On a small labelled file written here, scored by the real lite model."""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session

from tests.conftest import database_state, make_site

SCRIPT = "<script>alert('x')</script> This update will kill the battery on older phones."
ROWS = [
    ("Thanks for the thoughtful article, I learned a lot.", "acceptable"),
    (SCRIPT, "acceptable"),
    ("What a lovely photo of the harbour at dawn.", "acceptable"),
    ("You are a stupid worthless idiot and everyone hates you.", "abusive"),
    ("Shut up, you ugly moron, fuck off.", "abusive"),
    ("People like you should be made to disappear.", "abusive"),
]


def labelled_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(ROWS)
    return path


def test_evaluate_prints_the_figures_and_writes_an_escaped_html_report(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    make_site(session, "news", suspect_words=["kill"])
    report = tmp_path / "report"
    result = app.test_cli_runner().invoke(args=[
        "moderation", "evaluate", str(labelled_file(tmp_path)), "--site", "news",
        "--scorer", "lite", "--report", str(report),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.output
    assert "6 texts (simple format), scorer lite, policy of site 'news'" in out
    assert re.search(r"abusive\s+toxicity\s+3\s+\d\.\d{3}\s+\d\.\d{3}\s+0\.90", out), out
    # The suspect word holds the harmless battery remark: a false alarm, shown as such.
    assert "acceptable texts held or hidden: 1" in out
    assert f"[suspect word: 'kill'] {SCRIPT}" in out
    assert re.search(r"acceptable\s+3\s+2 \(66\.7%\)\s+1 \(33\.3%\)", out), out

    html = (report / "index.html").read_text(encoding="utf-8")
    svgs = re.findall(r"<svg .*?</svg>", html, flags=re.S)
    assert len(svgs) == 2
    for svg in svgs:
        root = ET.fromstring(svg)  # noqa: S314 (our own output; raises unless well-formed)
        assert root.find("{http://www.w3.org/2000/svg}polyline") is not None
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "ROC curves" in html and "Acceptable texts held or hidden (1)" in html


def test_without_a_demo_site_the_default_policy_applies(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    result = app.test_cli_runner().invoke(
        args=["moderation", "evaluate", str(labelled_file(tmp_path)), "--limit", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "2 texts (simple format)" in result.output
    assert "policy of the default policy (no site yet)" in result.output
    # No default suspect words: the battery remark is no longer a false alarm.
    assert "acceptable texts held or hidden: 0" in result.output


def test_bad_input_is_one_line_and_changes_nothing(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    make_site(session, "news")
    before = database_state(session)
    bad = tmp_path / "bad.csv"
    bad.write_text("body,verdict\nhello,1\n", encoding="utf-8")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("text,label\ncaf\u00e9 cr\u00e8me,0\n".encode("latin-1"))
    runner = app.test_cli_runner()
    for args, message in [
        ([str(latin1)], f"Error: {latin1}: not UTF-8 text"),
        ([str(bad)], f"Error: {bad}: unknown format: columns body, verdict; expected"),
        ([str(tmp_path / "gone.csv")], f"Error: {tmp_path / 'gone.csv'}: no such file"),
        ([str(labelled_file(tmp_path)), "--site", "nope"], "Error: no site 'nope' (sites: news)"),
        (
            [str(labelled_file(tmp_path)), "--scorer", "onnx"],
            "Error: MODERATION_SCORER=onnx needs MODERATION_ONNX_MODEL_DIR",
        ),
    ]:
        result = runner.invoke(args=["moderation", "evaluate", *args])
        assert result.exit_code != 0
        assert message in result.output and "Traceback" not in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    assert database_state(session) == before
