"""Exporting a site: every thread and comment with parents, statuses and dates, in our
JSON and in WordPress's WXR; emails only when asked; `flask moderation export`."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from moderation.models import Comment, Site
from moderation.services import export
from moderation.services.review import Action
from moderation.types import utcnow
from tests import factories
from tests.conftest import database_state, make_site

WP = "{http://wordpress.org/export/1.2/}"
REFERENCE_WXR = (
    Path(__file__).parents[2] / ".." / "shared" / "data" / "wxr" / "wpimporter_small-export.xml"
)


def _site_with_history(session: Session, site: Site) -> dict[str, Comment]:
    """A thread with a three-deep chain and one comment in each status, plus a second
    thread, with the history the real code writes."""
    root = factories.submit(session, site, "first!", thread="/post-1", author="Ann",
                            author_email="ann@example.org", thread_url="https://blog.example/post-1",
                            thread_title="Post one")  # fmt: skip
    factories.scored(session, root, {"toxicity": 0.01})
    reply = factories.submit(session, site, "a reply with ]]> and <b>tags</b>", thread="/post-1",
                             parent=root, author="Bob ]]> Jr")  # fmt: skip
    factories.scored(session, reply, {"toxicity": 0.02})
    deep = factories.submit(session, site, "the third level", thread="/post-1", parent=reply,
                            author="Кирилл")  # fmt: skip
    factories.scored(session, deep, {"toxicity": 0.03})
    held = factories.submit(session, site, "held for a person", thread="/post-1", author="Cy")
    factories.scored(session, held, {"toxicity": 0.95})
    hidden = factories.submit(session, site, "hidden by a moderator", thread="/post-1", author="Di")
    factories.scored(session, hidden, {"toxicity": 0.5})
    factories.decided(session, hidden, Action.HIDE)
    token = "author-token-for-export-test"
    gone = factories.submit(session, site, "I regret this", thread="/post-1", author="Ed",
                            author_token=token)  # fmt: skip
    factories.scored(session, gone, {"toxicity": 0.01})
    factories.deleted_by_author(session, gone, token)
    pending = factories.submit(session, site, "not scored yet", thread="/post-2", author="Fa")
    return {"root": root, "reply": reply, "deep": deep, "held": held, "hidden": hidden,
            "gone": gone, "pending": pending}  # fmt: skip


def _json(session: Session, site: Site, **kwargs: Any) -> dict[str, Any]:
    out = io.StringIO()
    export.write(session, site, out, utcnow(), format="json", base_url="", **kwargs)
    document: dict[str, Any] = json.loads(out.getvalue())
    return document


def _wxr(session: Session, site: Site, **kwargs: Any) -> ET.Element:
    out = io.StringIO()
    export.write(
        session, site, out, utcnow(), format="wxr", base_url="https://blog.example", **kwargs
    )
    return ET.fromstring(out.getvalue().encode())  # noqa: S314 (our own output)


def test_json_export_has_every_comment_with_its_parent_status_and_date(
    session: Session, site: Site
) -> None:
    made = _site_with_history(session, site)
    document = _json(session, site)

    assert document["format"] == "comment-moderation-export"
    assert document["site"]["slug"] == site.slug
    threads = {t["key"]: t for t in document["threads"]}
    assert set(threads) == {"/post-1", "/post-2"}
    assert threads["/post-1"]["title"] == "Post one"
    assert threads["/post-1"]["url"] == "https://blog.example/post-1"
    by_id = {c["id"]: c for t in document["threads"] for c in t["comments"]}
    assert len(by_id) == 7
    assert by_id[made["reply"].id]["parent_id"] == made["root"].id
    assert by_id[made["deep"].id]["parent_id"] == made["reply"].id
    assert by_id[made["deep"].id]["author_name"] == "Кирилл"
    statuses = {name: by_id[c.id]["status"] for name, c in made.items()}
    assert statuses == {"root": "visible", "reply": "visible", "deep": "visible", "held": "held",
                        "hidden": "hidden", "gone": "hidden", "pending": "pending"}  # fmt: skip
    assert by_id[made["root"].id]["created_at"] == made["root"].created_at.isoformat().replace(
        "+00:00", "Z"
    )


def test_emails_are_left_out_unless_asked_for(session: Session, site: Site) -> None:
    made = _site_with_history(session, site)

    without = _json(session, site)
    assert "ann@example.org" not in json.dumps(without)
    assert without["includes_emails"] is False

    with_emails = _json(session, site, include_emails=True)
    by_id = {c["id"]: c for t in with_emails["threads"] for c in t["comments"]}
    assert by_id[made["root"].id]["author_email"] == "ann@example.org"
    wxr = _wxr(session, site)
    assert all(not (e.text or "") for e in wxr.iter(f"{WP}comment_author_email"))


def test_a_comment_its_author_deleted_keeps_its_place_but_not_its_text(
    session: Session, site: Site
) -> None:
    made = _site_with_history(session, site)
    token = "second-author-token"
    regretted = factories.submit(
        session, site, "said in haste", thread="/post-1", author_token=token
    )
    factories.scored(session, regretted, {"toxicity": 0.01})
    reply_to_gone = factories.submit(session, site, "what did they say?", thread="/post-1",
                                     parent=regretted)  # fmt: skip
    factories.deleted_by_author(session, regretted, token)
    document = _json(session, site)
    by_id = {c["id"]: c for t in document["threads"] for c in t["comments"]}

    for gone in (by_id[made["gone"].id], by_id[regretted.id]):
        assert gone["deleted_by_author"] is True
        assert gone["body"] == "" and gone["body_html"] == ""
    assert "I regret this" not in json.dumps(document)
    assert "said in haste" not in json.dumps(document)
    assert by_id[reply_to_gone.id]["parent_id"] == regretted.id
    # Hidden by a moderator is not the author's deletion: the text stays for the record.
    assert by_id[made["hidden"].id]["deleted_by_author"] is False
    assert by_id[made["hidden"].id]["body"] == "hidden by a moderator"


def test_wxr_export_is_what_wordpress_writes_with_parents_and_statuses(
    session: Session, site: Site
) -> None:
    made = _site_with_history(session, site)
    rss = _wxr(session, site)

    channel = rss.find("channel")
    assert channel is not None
    assert channel.findtext(f"{WP}wxr_version") == "1.2"
    items = {item.findtext("guid"): item for item in channel.iter("item")}
    assert set(items) == {"/post-1", "/post-2"}
    assert items["/post-1"].findtext("title") == "Post one"
    assert items["/post-1"].findtext("link") == "https://blog.example/post-1"
    comments = {
        int(c.findtext(f"{WP}comment_id") or 0): c for c in items["/post-1"].iter(f"{WP}comment")
    }
    assert len(comments) == 6
    parent = comments[made["deep"].id].findtext(f"{WP}comment_parent")
    assert parent == str(made["reply"].id)
    assert comments[made["root"].id].findtext(f"{WP}comment_parent") == "0"
    approved = {name: comments[c.id].findtext(f"{WP}comment_approved")
                for name, c in made.items() if name != "pending"}  # fmt: skip
    assert approved == {"root": "1", "reply": "1", "deep": "1", "held": "0", "hidden": "trash",
                        "gone": "trash"}  # fmt: skip
    # The content is the sanitized HTML, never the raw tags the reader typed; a "]]>"
    # in a name did not end its CDATA section early.
    content = comments[made["reply"].id].findtext(f"{WP}comment_content") or ""
    assert "]]&gt;" in content
    assert "<b>" not in content and "&lt;b&gt;" in content
    assert comments[made["reply"].id].findtext(f"{WP}comment_author") == "Bob ]]> Jr"
    assert comments[made["deep"].id].findtext(f"{WP}comment_author") == "Кирилл"
    date = comments[made["root"].id].findtext(f"{WP}comment_date_gmt")
    assert date == made["root"].created_at.strftime("%Y-%m-%d %H:%M:%S")


def test_wxr_uses_only_the_elements_wordpress_itself_exports(session: Session, site: Site) -> None:
    """What WordPress's importer reads is what its exporter writes: our comments carry
    exactly the elements of comments in an export WordPress made (its importer's test
    data), and our posts only elements its posts carry."""
    _site_with_history(session, site)
    reference = ET.parse(REFERENCE_WXR).getroot()  # noqa: S314 (shared test data)
    old = "{http://wordpress.org/export/1.1/}"

    def names(elements: list[ET.Element]) -> set[str]:
        return {child.tag.replace(old, "wp:").replace(WP, "wp:") for e in elements for child in e}

    ours = _wxr(session, site)
    assert names(list(ours.iter(f"{WP}comment"))) == names(list(reference.iter(f"{old}comment")))
    assert names(list(ours.iter("item"))) <= names(list(reference.iter("item")))


def test_a_site_with_no_threads_exports_an_empty_valid_document(session: Session) -> None:
    empty = make_site(session, "empty")
    assert _json(session, empty)["threads"] == []
    channel = _wxr(session, empty).find("channel")
    assert channel is not None and channel.find("item") is None


# ------------------------------------------------------------------ the command


def test_export_command_writes_the_file_and_says_what_it_wrote(
    app: Flask, session: Session, site: Site, tmp_path: Path
) -> None:
    _site_with_history(session, site)
    before = database_state(session)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "comments.json"
    result = app.test_cli_runner().invoke(
        args=["moderation", "export", "--site", site.slug, "--out", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert "exported 7 comments in 2 threads" in result.output
    assert "without email addresses" in result.output
    assert len([c for t in json.loads(target.read_text())["threads"] for c in t["comments"]]) == 7
    assert [p.name for p in out_dir.iterdir()] == ["comments.json"]  # no temporary left
    assert database_state(session) == before

    wxr = out_dir / "comments.xml"
    result = app.test_cli_runner().invoke(
        args=[
            "moderation",
            "export",
            "--site",
            site.slug,
            "--format",
            "wxr",
            "--out",
            str(wxr),
            "--include-emails",
        ]  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert "ann@example.org" in wxr.read_text()
    assert "with email addresses" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "nope", "--out", "{tmp}/x.json"], "no site 'nope'"),
        (["--site", "blog", "--out", "{tmp}/missing/x.json"], "no directory"),
        (["--site", "blog", "--format", "csv", "--out", "{tmp}/x.csv"], "'csv' is not one of"),
    ],
)
def test_export_command_refuses_clearly(
    app: Flask, site: Site, tmp_path: Path, args: list[str], message: str
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = app.test_cli_runner().invoke(
        args=["moderation", "export", *[a.replace("{tmp}", str(out_dir)) for a in args]]
    )
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert list(out_dir.iterdir()) == []


# ------------------------------------------------------------------ the round trip


def _trees(session: Session, site: Site) -> dict[str, list[tuple[Any, ...]]]:
    """Each thread of the site (by key): its comments in order, each as (author, text as
    readers see it, status, depth, date, parent's author and text), comparable across
    sites whose ids differ."""
    from sqlalchemy import select

    from moderation.models import Thread

    session.expire_all()
    trees: dict[str, list[tuple[Any, ...]]] = {}
    for thread in session.scalars(select(Thread).where(Thread.site_id == site.id)):
        rows = session.scalars(
            select(Comment).where(Comment.thread_id == thread.id).order_by(Comment.created_at)
        ).all()
        by_id = {c.id: c for c in rows}

        def text(comment: Comment) -> str:
            # What readers see: the Markdown may be spelled differently after the trip
            # through HTML (escapes), the rendered comment may not.
            return " ".join(comment.body_html.split())

        trees[thread.key] = [
            (c.author_name, text(c), c.status.value, c.depth, c.created_at.replace(microsecond=0),
             (by_id[c.parent_id].author_name, text(by_id[c.parent_id])) if c.parent_id else None)
            for c in rows
        ]  # fmt: skip
    return trees


def test_a_wxr_export_imports_into_a_new_site_as_the_same_trees(
    session: Session, site: Site
) -> None:
    """Export → import into a new site → the same threads, the same trees, statuses,
    authors, texts and dates (to the second: WXR has no fractions)."""
    from moderation.services.importers import import_records, wxr
    from moderation.types import ImportSource

    made = _site_with_history(session, site)
    # A thread whose key is not its URL's path (data-thread names it on the blog).
    factories.submit(session, site, "keyed by name", thread="post-42", author="Gil",
                     thread_url="https://blog.example/2026/11/a-long-slug")  # fmt: skip
    factories.submit(session, site, "no URL at all", thread="about", author="Hal")
    # The author's deletion is not a thread's text to carry over: leave it out of both.
    source_trees = _trees(session, site)
    for key in source_trees:
        source_trees[key] = [c for c in source_trees[key] if c[0] != "Ed"]

    out = io.StringIO()
    export.write(session, site, out, utcnow(), format="wxr", base_url="https://blog.example")
    copy = make_site(session, "copy")
    records = wxr.parse(io.BytesIO(out.getvalue().encode()))
    result = import_records(session, copy, ImportSource.WXR, records, scoring=None,
                            ip_secret="test-secret", now=utcnow())  # fmt: skip
    session.commit()
    assert result.imported == len(made) + 2

    copied = _trees(session, copy)
    for key in copied:
        copied[key] = [c for c in copied[key] if c[0] != "Ed"]
    # Pending and held both travel as WordPress's "unapproved" and come back held.
    source_trees = {
        key: [(*c[:2], "held" if c[2] == "pending" else c[2], *c[3:]) for c in rows]
        for key, rows in source_trees.items()
    }
    # Compared as sets of (comment, its parent) pairs: the order of equal dates is free.
    assert {k: sorted(v, key=repr) for k, v in copied.items()} == {
        k: sorted(v, key=repr) for k, v in source_trees.items()
    }
