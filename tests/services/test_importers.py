"""Importing a blog's history: every WXR and Disqus file in shared/data and a real Isso
database, checked against what the files contain (counted here with plain XPath, not
with the importer's own reader)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.models import (
    Comment,
    ImportedComment,
    ModerationAction,
    OutboxEvent,
    Score,
    Site,
    Thread,
)
from moderation.services import comments, worker
from moderation.services.importers import (
    ImportFileError,
    ImportResult,
    disqus,
    import_records,
    imported_backlog,
    isso,
    wxr,
)
from moderation.services.importers.markup import (
    html_to_markdown,
    wordpress_autop,
    wordpress_to_markdown,
)
from moderation.types import (
    Actor,
    CommentStatus,
    EventType,
    ImportScoring,
    ImportSource,
    Rule,
    utcnow,
)
from tests.conftest import SHARED_DATA, database_state, make_site

WXR_FILES = sorted((SHARED_DATA / "wxr").glob("*.xml"))
DISQUS_DATA = SHARED_DATA / "disqus"
STATUS = {"1": CommentStatus.VISIBLE, "0": CommentStatus.HELD,
          "spam": CommentStatus.HIDDEN, "trash": CommentStatus.HIDDEN}  # fmt: skip


def run_import(
    session: Session,
    site: Site,
    source: ImportSource,
    data: bytes | Path,
    scoring: ImportScoring | None = None,
) -> ImportResult:
    if source == ImportSource.ISSO:
        assert isinstance(data, Path)
        records = isso.parse(data)
    else:
        stream = io.BytesIO(data if isinstance(data, bytes) else data.read_bytes())
        records = (wxr if source == ImportSource.WXR else disqus).parse(stream)
    try:
        result = import_records(session, site, source, records, scoring=scoring,
                                ip_secret="test-secret", now=utcnow())  # fmt: skip
    except ImportFileError:
        session.rollback()
        raise
    session.commit()
    return result


def by_source_id(session: Session, site: Site) -> dict[str, Comment]:
    rows = session.execute(
        select(ImportedComment.source_id, Comment)
        .join(Comment, Comment.id == ImportedComment.comment_id)
        .where(ImportedComment.site_id == site.id)
    ).all()
    return {source_id: comment for source_id, comment in rows}


# ---------------------------------------------------------------- WordPress


def wxr_comments(path: Path) -> list[dict[str, Any]]:
    """Every wp:comment of the file with its fields and its post, by plain XPath."""
    tree = etree.parse(str(path))
    found = []
    for element in tree.xpath("//*[local-name()='item']/*[local-name()='comment']"):
        fields = {child.xpath("local-name()"): (child.text or "").strip() for child in element}
        item = element.getparent()
        post = (item.xpath("string(*[local-name()='post_id'])") or "").strip()
        link = item.findtext("link") or ""
        found.append({**fields, "post": post or re.sub(r"^https?://[^/]+|\?.*$", "", link)})
    return found


@pytest.mark.parametrize("path", WXR_FILES, ids=lambda p: p.name)
def test_every_wordpress_file_imports_its_comments_trees_statuses_and_dates(
    session: Session, site: Site, path: Path
) -> None:
    expected = wxr_comments(path)
    kinds = [c.get("comment_type") or "comment" for c in expected]
    real = [c for c, kind in zip(expected, kinds, strict=True) if kind == "comment"]

    result = run_import(session, site, ImportSource.WXR, path)

    assert result.imported == len(real)
    assert result.skipped["pingback"] == kinds.count("pingback")
    assert result.skipped["trackback"] == kinds.count("trackback")
    assert result.already == 0
    imported = by_source_id(session, site)
    assert len(imported) == len(real)
    ids = {f"{c['post']}/{c['comment_id']}" for c in real}
    for source in real:
        source_id = f"{source['post']}/{source['comment_id']}"
        comment = imported[source_id]
        assert comment.status == STATUS[source["comment_approved"]]
        parent_id = f"{source['post']}/{source.get('comment_parent', '0')}"
        if source.get("comment_parent", "0") not in ("", "0") and parent_id in ids:
            assert comment.parent is not None
            assert comment.parent.id == imported[parent_id].id
            assert comment.depth == comment.parent.depth + 1
            assert comment.root_id == (comment.parent.root_id or comment.parent.id)
        else:  # top level, or a reply to a pingback (kept, at the top)
            assert (comment.parent_id, comment.root_id, comment.depth) == (None, None, 0)
        if source.get("comment_date_gmt"):
            assert comment.created_at == datetime.strptime(
                source["comment_date_gmt"], "%Y-%m-%d %H:%M:%S"
            ).replace(tzinfo=UTC)
        if source.get("comment_author"):
            assert comment.author_name == source["comment_author"][:100]
        assert comment.author_email == (source.get("comment_author_email") or None)


def test_the_theme_unit_test_keeps_its_ten_deep_chain_and_skips_pings(
    session: Session, site: Site
) -> None:
    path = SHARED_DATA / "wxr" / "wptrt_themeunittestdata.wordpress.xml"
    result = run_import(session, site, ImportSource.WXR, path)

    assert result.summary() == (
        "imported 28 comments in 6 threads (0 already imported, 4 skipped: "
        "2 pingbacks, 2 trackbacks)"
    )
    chain = session.scalars(
        select(Comment).where(Comment.body.like("Comment Depth%")).order_by(Comment.depth)
    ).all()
    assert [c.depth for c in chain] == list(range(10))
    assert [c.body[:16] for c in chain] == [f"Comment Depth {n:02}" for n in range(1, 11)]
    assert all(c.root_id == chain[0].id for c in chain[1:])
    assert all(c.parent_id == p.id for p, c in zip(chain, chain[1:], strict=False))
    statuses = {
        status: count
        for status, count in session.execute(
            select(Comment.status, func.count()).group_by(Comment.status)
        )
    }
    assert statuses == {CommentStatus.VISIBLE: 25, CommentStatus.HELD: 3}
    # Threads keep the post's URL and title; their key is the path the widget sends.
    thread = session.scalar(select(Thread).join(Comment).where(Comment.id == chain[0].id))
    assert thread is not None and thread.title and thread.url
    assert thread.url.endswith(thread.key) and thread.key.startswith("/")


def test_html_comments_become_markdown_and_only_sanitized_html_is_shown(
    session: Session, site: Site
) -> None:
    path = SHARED_DATA / "wxr" / "wptrt_themeunittestdata.wordpress.xml"
    run_import(session, site, ImportSource.WXR, path)
    html_heavy = session.scalar(select(Comment).where(Comment.body.like("%Headings%")))
    assert html_heavy is not None
    assert "**Headings**" in html_heavy.body
    image = session.scalar(select(Comment).where(Comment.body.like("Image comment%")))
    assert image is not None and "<img" not in image.body_html and "<img" not in image.body
    for comment in session.scalars(select(Comment)):
        assert "<script" not in comment.body_html and "<h1" not in comment.body_html


def test_plain_comments_skip_the_html_parser_and_come_out_the_same() -> None:
    for source in wxr_comments(SHARED_DATA / "wxr" / "wptrt_themeunittestdata.wordpress.xml"):
        content = source.get("comment_content", "")
        assert wordpress_to_markdown(content) == html_to_markdown(wordpress_autop(content))


def test_spam_and_trash_are_hidden_and_the_rule_says_imported_as_what(
    session: Session, site: Site
) -> None:
    path = SHARED_DATA / "wxr" / "waline_transformImport_spec_wxr.xml"
    result = run_import(session, site, ImportSource.WXR, path)
    assert result.imported == 3 and result.skipped["pingback"] == 1
    actions = {
        a.detail["as"]: a
        for a in session.scalars(select(ModerationAction))  # type: ignore[index]
    }
    assert set(actions) == {"approved", "spam", "trash"}
    for source_status, action in actions.items():
        assert action.rule == Rule.IMPORT and action.actor == Actor.SYSTEM
        assert action.moderator_id is None and action.from_status is None
        assert action.reason == f"imported from wxr as {source_status}"
        assert action.comment.status == (
            CommentStatus.VISIBLE if source_status == "approved" else CommentStatus.HIDDEN
        )
    # The history is recorded in the outbox but handed to no one: no mail, no webhook.
    events = session.scalars(select(OutboxEvent)).all()
    assert [e.type for e in events] == [EventType.CREATED] * 3
    assert all(e.published_at is not None for e in events)


def test_importing_again_adds_nothing_and_a_newer_export_only_the_new_comments(
    session: Session, site: Site
) -> None:
    full = (SHARED_DATA / "wxr" / "waline_transformImport_spec_wxr.xml").read_bytes()
    # The same blog a year earlier: the reply to comment 10, and the trash, not yet there.
    earlier = re.sub(rb"<wp:comment>\s*<wp:comment_id>1[12]</wp:comment_id>.*?</wp:comment>",
                     b"", full, flags=re.DOTALL)  # fmt: skip
    assert earlier.count(b"<wp:comment>") == 2

    first = run_import(session, site, ImportSource.WXR, earlier)
    assert (first.imported, first.already) == (1, 0)
    newer = run_import(session, site, ImportSource.WXR, full)
    assert (newer.imported, newer.already) == (2, 1)
    again = run_import(session, site, ImportSource.WXR, full)
    assert (again.imported, again.already) == (0, 3)
    assert again.summary() == (
        "imported 0 comments in 0 threads (3 already imported, 1 skipped: 1 pingback)"
    )

    imported = by_source_id(session, site)
    assert len(imported) == 3 == session.scalar(select(func.count(Comment.id)))
    # The reply of the newer export hangs under the comment the first import brought.
    reply = imported["/posts/hello//11"]
    assert reply.parent_id == imported["/posts/hello//10"].id and reply.depth == 1
    # Another site is another blog: the same file imports there in full.
    other = make_site(session, "other")
    assert run_import(session, other, ImportSource.WXR, full).imported == 3


def test_a_reply_listed_before_its_parent_still_hangs_under_it(
    session: Session, site: Site
) -> None:
    full = (SHARED_DATA / "wxr" / "waline_transformImport_spec_wxr.xml").read_bytes()
    parent, reply = re.findall(rb"<wp:comment>.*?</wp:comment>", full, flags=re.DOTALL)[:2]
    swapped = full.replace(parent, b"@@").replace(reply, parent).replace(b"@@", reply)
    assert swapped.index(b"<wp:comment_id>11") < swapped.index(b"<wp:comment_id>10")
    result = run_import(session, site, ImportSource.WXR, swapped)
    assert result.orphans == 0
    imported = by_source_id(session, site)
    assert imported["/posts/hello//11"].parent_id == imported["/posts/hello//10"].id


def test_a_large_threaded_export_imports_whole_across_batches(session: Session, site: Site) -> None:
    """Past 1,000 comments PostgreSQL's statistics are refreshed mid-import, and replies
    span batches: every comment still lands once, under its parent."""
    parts = ['<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel>']
    for post in range(1, 5):
        parts.append(f"<item><link>https://blog.example/p{post}/</link>"
                     f"<wp:post_id>{post}</wp:post_id>")  # fmt: skip
        for n in range(1, 301):
            parent = n - 1 if n % 3 else 0  # chains of two replies under every third one
            parts.append(
                f"<wp:comment><wp:comment_id>{n}</wp:comment_id>"
                f"<wp:comment_date_gmt>2020-01-01 00:00:00</wp:comment_date_gmt>"
                f"<wp:comment_content>c{post}.{n}</wp:comment_content>"
                f"<wp:comment_approved>1</wp:comment_approved>"
                f"<wp:comment_parent>{parent}</wp:comment_parent></wp:comment>"
            )
        parts.append("</item>")
    parts.append("</channel></rss>")
    result = run_import(session, site, ImportSource.WXR, "".join(parts).encode())
    assert (result.imported, result.threads, result.orphans) == (1200, 4, 0)
    imported = by_source_id(session, site)
    assert imported["2/5"].parent_id == imported["2/4"].id
    assert imported["2/5"].root_id == imported["2/3"].id and imported["2/5"].depth == 2
    assert imported["4/300"].parent_id is None
    again = run_import(session, site, ImportSource.WXR, "".join(parts).encode())
    assert (again.imported, again.already) == (0, 1200)


def test_a_truncated_or_foreign_file_is_an_error_naming_the_line_and_imports_nothing(
    session: Session, site: Site
) -> None:
    data = (SHARED_DATA / "wxr" / "wptrt_themeunittestdata.wordpress.xml").read_bytes()
    before = database_state(session)
    with pytest.raises(ImportFileError, match=r"not well-formed XML at line \d+, column \d+"):
        run_import(session, site, ImportSource.WXR, data[: len(data) * 2 // 3])
    assert database_state(session) == before
    with pytest.raises(ImportFileError, match="not a WordPress export"):
        run_import(session, site, ImportSource.WXR, DISQUS_DATA / "isso_disqus.xml")
    bad_flag = data.replace(b"<wp:comment_approved>0<", b"<wp:comment_approved>maybe<", 1)
    assert bad_flag != data
    with pytest.raises(ImportFileError, match=r"line \d+: <wp:comment> \d+: .*'maybe'"):
        run_import(session, site, ImportSource.WXR, bad_flag)
    assert database_state(session) == before


# ---------------------------------------------------------------- Disqus


def test_the_isso_disqus_file_imports_with_its_awkward_cases(session: Session, site: Site) -> None:
    path = DISQUS_DATA / "isso_disqus.xml"
    tree = etree.parse(str(path))
    ns = {"d": "http://disqus.com", "dsq": "http://disqus.com/disqus-internals"}
    posts = tree.xpath("/d:disqus/d:post", namespaces=ns)
    thread_ids = set(tree.xpath("/d:disqus/d:thread/@dsq:id", namespaces=ns))
    orphans = [p for p in posts if p.xpath("string(d:thread/@dsq:id)", namespaces=ns)
               not in thread_ids]  # fmt: skip
    assert (len(posts), len(orphans)) == (6, 1)

    result = run_import(session, site, ImportSource.DISQUS, path)

    assert result.summary() == (
        "imported 5 comments in 2 threads (0 already imported, 1 skipped: "
        "1 post in a missing thread)"
    )
    imported = by_source_id(session, site)
    for post in posts:
        post_id = post.get("{http://disqus.com/disqus-internals}id")
        if post in orphans:
            assert post_id not in imported
            continue
        comment = imported[post_id]
        deleted = post.findtext("d:isDeleted", namespaces=ns) == "true"
        assert comment.status == (CommentStatus.HIDDEN if deleted else CommentStatus.VISIBLE)
        parent = post.xpath("string(d:parent/@dsq:id)", namespaces=ns)
        assert comment.parent_id == (imported[parent].id if parent else None)
        assert comment.created_at == datetime.strptime(
            post.findtext("d:createdAt", namespaces=ns), "%Y-%m-%dT%H:%M:%SZ"
        ).replace(tzinfo=UTC)
    # The thread with an empty id and an empty title takes its key from its link.
    empty = session.scalar(
        select(Thread).where(Thread.key == "/blog/2013/02/12/redacted/index.html")
    )
    assert empty is not None and empty.title is None
    assert imported["8"].thread_id == empty.id
    assert imported["5"].body_html == "<p>Hello, World.</p>"
    # A reply under a deleted post: the deleted one is hidden, its reply kept under it.
    assert imported["11"].parent_id == imported["9"].id


def test_the_malformed_remark42_export_is_refused_with_its_line_and_imports_nothing(
    session: Session, site: Site
) -> None:
    before = database_state(session)
    with pytest.raises(ImportFileError, match="at line 1, column 1"):
        run_import(session, site, ImportSource.DISQUS, DISQUS_DATA / "remark42_disqus.xml")
    # Without the stray backtick, the unquoted attribute is still malformed XML.
    with pytest.raises(ImportFileError, match=r"at line 147, column \d+"):
        run_import(session, site, ImportSource.DISQUS, DISQUS_DATA / "remark42_disqus.cleaned.xml")
    # Quoted, the same file reaches its invalid spam flag: an error, nothing imported.
    quoted = (
        (DISQUS_DATA / "remark42_disqus.cleaned.xml")
        .read_bytes()
        .replace(b"dsq:id=247937687/>", b'dsq:id="247937687"/>')
    )
    expected = r"line 135: <post dsq:id='x299986073'>: <isSpam> is '123'; expected true or false"
    with pytest.raises(ImportFileError, match=expected):
        run_import(session, site, ImportSource.DISQUS, quoted)
    assert database_state(session) == before


def test_the_remark42_posts_import_with_cyrillic_intact_once_the_bad_post_is_gone(
    session: Session, site: Site
) -> None:
    data = (DISQUS_DATA / "remark42_disqus.cleaned.xml").read_bytes()
    data = re.sub(rb'<post dsq:id="x299986073">.*?</post>', b"", data, flags=re.DOTALL)
    result = run_import(session, site, ImportSource.DISQUS, data)
    assert result.summary() == (
        "imported 4 comments in 2 threads (0 already imported, 1 skipped: 1 post without an id)"
    )
    imported = by_source_id(session, site)
    assert "Microsoft показал проводник Windows 8" in imported["299744309"].body
    assert "Google App Engine скоро выходит из превью статуса." in imported["299986072"].body_html
    assert imported["299986073"].status == CommentStatus.HIDDEN  # isSpam true
    thread = session.get(Thread, imported["299986072"].thread_id)
    assert thread is not None and thread.title == "Радио-Т: Радио-Т 229"


def test_an_id_twice_in_one_file_is_an_error_naming_it(session: Session, site: Site) -> None:
    data = (DISQUS_DATA / "isso_disqus.xml").read_bytes()
    twice = data.replace(b'<post dsq:id="8">', b'<post dsq:id="5">')
    before = database_state(session)
    with pytest.raises(ImportFileError, match=r"line \d+: <post dsq:id='5'>: .*appears twice"):
        run_import(session, site, ImportSource.DISQUS, twice)
    assert database_state(session) == before


# ---------------------------------------------------------------- Isso


@pytest.fixture
def isso_database(tmp_path: Path) -> Path:
    """A real Isso database, made by Isso's own code."""
    from isso import config as isso_config
    from isso.db import SQLite3

    path = tmp_path / "comments.db"
    conf = isso_config.new({"general": {"dbpath": str(path), "max-age": "1h"}})
    db = SQLite3(str(path), conf)
    db.threads.new("/2019/hello/", "Hello, Isso")
    db.threads.new("/about/", None)

    def add(uri: str, **fields: Any) -> int:
        values = {"mode": 1, "remote_addr": "192.0.2.0", "text": "...", "author": None,
                  "email": None, "website": None, "parent": None}  # fmt: skip
        values.update(fields)
        return int(db.comments.add(uri, values)["id"])

    first = add("/2019/hello/", text="First! *really*", author="Ann", email="ann@example.org",
                created=1_550_000_000.5)  # fmt: skip
    add("/2019/hello/", text="Привет, **мир**", author="Борис", parent=first, created=1_550_000_100)
    add("/2019/hello/", text="waiting for a moderator", mode=2, created=1_550_000_200)
    doomed = add("/about/", text="about to go", author="Cy", created=1_550_000_300)
    add("/about/", text="reply under a deleted one", parent=doomed, created=1_550_000_400)
    db.comments.delete(doomed)  # it has a reply: Isso keeps it with mode 4
    return path


def test_a_real_isso_database_imports_with_modes_parents_dates_and_markdown(
    session: Session, site: Site, isso_database: Path
) -> None:
    result = run_import(session, site, ImportSource.ISSO, isso_database)
    assert result.summary() == "imported 5 comments in 2 threads (0 already imported, 0 skipped)"
    imported = by_source_id(session, site)
    assert imported["1"].body_html == "<p>First! <em>really</em></p>"
    assert imported["1"].created_at == datetime.fromtimestamp(1_550_000_000.5, UTC)
    assert imported["1"].ip_hash == comments.hash_ip("192.0.2.0", "test-secret")
    assert imported["2"].parent_id == imported["1"].id
    assert imported["2"].author_name == "Борис"
    assert "<strong>мир</strong>" in imported["2"].body_html
    assert imported["3"].status == CommentStatus.HELD and imported["3"].author_name == "Anonymous"
    assert imported["4"].status == CommentStatus.HIDDEN
    assert imported["5"].parent_id == imported["4"].id
    thread = session.get(Thread, imported["1"].thread_id)
    assert thread is not None and (thread.key, thread.title) == ("/2019/hello/", "Hello, Isso")
    again = run_import(session, site, ImportSource.ISSO, isso_database)
    assert (again.imported, again.already) == (0, 5)


def test_a_file_that_is_not_an_isso_database_is_refused(
    session: Session, site: Site, tmp_path: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ImportFileError, match="not an Isso database"):
        run_import(session, site, ImportSource.ISSO, text)


# ---------------------------------------------------------------- readers and scoring


def test_imported_emails_never_reach_the_public_api(
    client: FlaskClient, session: Session, site: Site
) -> None:
    run_import(session, site, ImportSource.DISQUS, DISQUS_DATA / "isso_disqus.xml")
    page = client.get("/api/v1/sites/blog/comments?thread=/")
    assert page.status_code == 200, page.json
    body = page.get_data(as_text=True)
    assert "peter" in body and "user" in body
    assert "@" not in body and "foo@bar.com" not in body


def score_all(session: Session) -> int:
    return worker.Worker(session, get_scorer(), batch_size=8, lease_seconds=60, poll_seconds=0,
                         max_attempts=3).run(once=True)  # fmt: skip


def test_the_workers_score_imported_comments_without_deciding_them_again(
    app: Flask, session: Session
) -> None:
    site = make_site(session, "blog", banned_words=["erster"])
    run_import(session, site, ImportSource.WXR, SHARED_DATA / "wxr" / "isso_wordpress.xml",
               scoring=ImportScoring.RECORD)  # fmt: skip
    posted = comments.submit(session, site_slug="blog", thread_key="/new/", author_name="N",
                             body="a comment posted today", now=utcnow())  # fmt: skip
    session.commit()
    statuses = {c.id: c.status for c in session.scalars(select(Comment))}
    before = imported_backlog(session, site, get_scorer().default_thresholds)
    assert (before.visible, before.scored, before.waiting) == (8, 0, 8)

    assert score_all(session) == 9
    session.expire_all()
    assert session.get(Comment, posted.id).status != CommentStatus.PENDING  # type: ignore[union-attr]
    for comment_id, status in statuses.items():
        if comment_id != posted.id:
            assert session.get(Comment, comment_id).status == status  # type: ignore[union-attr]
    assert session.scalar(select(func.count(Score.id))) == 9
    assert (
        session.scalar(
            select(func.count())
            .select_from(ImportedComment)
            .where(ImportedComment.scoring.is_not(None))
        )
        == 0
    )
    # "Erster!1" breaks the site's banned words: it stays visible, and is counted.
    after = imported_backlog(session, site, get_scorer().default_thresholds)
    assert (after.visible, after.scored, after.waiting) == (8, 8, 0)
    assert after.would_hold >= 1
    assert score_all(session) == 0  # scored once


def test_apply_policy_lets_the_policy_decide_imported_comments_again(
    app: Flask, session: Session
) -> None:
    site = make_site(session, "blog", banned_words=["erster"])
    run_import(session, site, ImportSource.WXR, SHARED_DATA / "wxr" / "isso_wordpress.xml",
               scoring=ImportScoring.DECIDE)  # fmt: skip
    score_all(session)
    first = session.scalar(select(Comment).where(Comment.body.like("Erster%")))
    assert first is not None and first.status == CommentStatus.HIDDEN
    actions = [(a.rule, a.actor) for a in first.actions]
    assert actions == [(Rule.IMPORT, Actor.SYSTEM), (Rule.BANNED_WORD, Actor.SYSTEM)]
