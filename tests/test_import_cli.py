"""`flask moderation import`: what an operator sees, from the progress bar to the last line."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moderation.models import Comment, ImportedComment, Site
from moderation.types import ImportScoring
from tests.conftest import SHARED_DATA, database_state

THEME = SHARED_DATA / "wxr" / "wptrt_themeunittestdata.wordpress.xml"
MALFORMED = SHARED_DATA / "disqus" / "remark42_disqus.xml"


def run(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["moderation", "import", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_import_prints_progress_and_the_closing_summary_then_adds_nothing_again(
    app: Flask, session: Session, site: Site
) -> None:
    code, output = run(app, "wxr", str(THEME), "--site", "blog")
    assert code == 0, output
    assert "comments/s" in output  # the bar's postfix and the rate line
    assert (
        "imported 28 comments in 6 threads (0 already imported, 4 skipped: "
        "2 pingbacks, 2 trackbacks)\n"
    ) in output
    assert "import-backlog --site blog" in output
    assert session.scalar(select(func.count(Comment.id))) == 28
    scoring = session.scalars(select(ImportedComment.scoring)).all()
    assert set(scoring) == {ImportScoring.RECORD}

    code, output = run(app, "wxr", str(THEME), "--site", "blog")
    assert code == 0, output
    assert "imported 0 comments in 0 threads (28 already imported, 4 skipped" in output
    assert session.scalar(select(func.count(Comment.id))) == 28

    backlog = app.test_cli_runner().invoke(args=["moderation", "import-backlog", "--site", "blog"])
    assert backlog.exit_code == 0, backlog.output
    assert backlog.output == (
        "0 of 0 scored visible imported comments would be held today "
        "(25 visible imported, 25 still to score)\n"
    )


def test_no_score_and_apply_policy_choose_what_the_workers_owe(
    app: Flask, session: Session, site: Site
) -> None:
    path = str(SHARED_DATA / "wxr" / "isso_wordpress.xml")
    code, output = run(app, "wxr", path, "--site", "blog", "--no-score")
    assert code == 0, output
    assert set(session.scalars(select(ImportedComment.scoring))) == {None}
    code, output = run(app, "wxr", path, "--site", "blog", "--no-score", "--apply-policy")
    assert code == 2 and "--apply-policy needs the comments scored" in output


def test_apply_policy_marks_comments_for_a_new_decision(
    app: Flask, session: Session, site: Site
) -> None:
    path = str(SHARED_DATA / "disqus" / "isso_disqus.xml")
    code, output = run(app, "disqus", path, "--site", "blog", "--apply-policy")
    assert code == 0, output
    assert "the site's policy then decides each again" in output
    assert set(session.scalars(select(ImportedComment.scoring))) == {ImportScoring.DECIDE}


def test_a_dry_run_reports_the_counts_and_writes_nothing(
    app: Flask, session: Session, site: Site
) -> None:
    before = database_state(session)
    code, output = run(app, "disqus", str(SHARED_DATA / "disqus" / "isso_disqus.xml"),
                       "--site", "blog", "--dry-run")  # fmt: skip
    assert code == 0, output
    assert (
        "dry run, nothing written: imported 5 comments in 2 threads (0 already imported, "
        "1 skipped: 1 post in a missing thread)"
    ) in output
    assert database_state(session) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["disqus", str(MALFORMED)],
         f"Error: {MALFORMED}: not well-formed XML at line 1, column 1: Start tag expected"),
        (["wxr", str(SHARED_DATA / "disqus" / "isso_disqus.xml")],
         "not a WordPress export (WXR): the file starts with <disqus>, not <rss>"),
        (["disqus", str(THEME)], "not a Disqus export: the file starts with <rss>"),
        (["isso", str(THEME)], "not an Isso database: file is not a database"),
        (["wxr", "/no/such/export.xml"], "'/no/such/export.xml' does not exist"),
        (["xml", str(THEME)], "'xml' is not one of 'wxr', 'disqus', 'isso'"),
    ],
    ids=["malformed", "disqus-as-wxr", "wxr-as-disqus", "xml-as-isso", "missing", "format"],
)  # fmt: skip
def test_a_bad_file_is_one_clear_line_and_imports_nothing(
    app: Flask, session: Session, site: Site, args: list[str], message: str
) -> None:
    before = database_state(session)
    code, output = run(app, *args, "--site", "blog")
    assert code != 0
    assert message in output
    if code == 1:
        assert output.rstrip().endswith("nothing was imported")
    assert database_state(session) == before


def test_an_unknown_site_is_named(app: Flask, session: Session) -> None:
    code, output = run(app, "wxr", str(THEME), "--site", "nosuch")
    assert code == 1 and "nosuch" in output


def test_the_file_bytes_drive_the_bar_of_a_stream(app: Flask, site: Site, tmp_path: Path) -> None:
    code, output = run(app, "wxr", str(THEME), "--site", "blog", "--no-score")
    assert code == 0, output
    assert "564k/564k" in output  # the file's size is the bar's total: an ETA for a stream


def test_an_sqlite_file_that_is_not_isso_is_one_clear_line(
    app: Flask, session: Session, site: Site, tmp_path: Path
) -> None:
    """Tables named like Isso's, of another shape: refused in one line, not a traceback."""
    import sqlite3

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE threads (id INTEGER PRIMARY KEY, name TEXT)")
        connection.execute("CREATE TABLE comments (id INTEGER PRIMARY KEY, body TEXT)")
    connection.close()
    before = database_state(session)
    code, output = run(app, "isso", str(other), "--site", "blog")
    assert code == 1 and "Traceback" not in output
    assert "not an Isso database" in output and output.rstrip().endswith("nothing was imported")
    assert database_state(session) == before
