"""The comment widget in Chromium: on the service's demo blog, and embedded with its two
lines in pages of other origins."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import create_app
from moderation.current_scorer import get_scorer
from moderation.db import db
from moderation.models import Comment, Flag, Site
from moderation.services import sites, worker
from moderation.types import CommentStatus, FlagReason
from tests.browser.conftest import LiveServer, PageWatch, serve
from tests.conftest import REPO, app_config, make_site

TOXIC = "you are a fucking idiot"
SCREENSHOT = REPO / "docs" / "screenshots" / "demo.png"


@pytest.fixture
def demo(app: Flask, session: Session) -> Site:
    """The demo site as `make run` creates it."""
    site, _ = sites.ensure_site(
        session,
        app.config["DEMO_SITE_SLUG"],
        "Demo blog",
        allowed_origins=app.config["DEMO_SITE_ORIGINS"],
        suspect_words=app.config["DEFAULT_SUSPECT_WORDS"],
    )
    session.commit()
    return site


def article(page: Page, name: str) -> Locator:
    return page.get_by_role("article", name=name, exact=True)


def write(form: Locator, body: str, name: str | None = None) -> None:
    if name is not None:
        form.get_by_label("Name").fill(name)
    form.get_by_label("Your comment").or_(form.get_by_label("Your reply")).fill(body)


def top_form(page: Page) -> Locator:
    return page.get_by_role("form", name="Write a comment")


def ancestry(item: Locator) -> list[str]:
    """The labels of a comment and the comments it is nested under, innermost first."""
    return item.evaluate(  # type: ignore[no-any-return]
        """el => { const names = []; let li = el.closest('li');
            while (li) { names.push(li.querySelector(':scope > article').ariaLabel);
                         li = li.parentElement.closest('li'); }
            return names; }"""
    )


def unexpected(watch: PageWatch) -> list[str]:
    """Console errors, less the one a new thread brings: the API answers 404 for a thread
    without comments yet, and Chromium logs every 404 it fetches."""
    return [e for e in watch.errors if "status of 404" not in e]


def comment_ids(page: Page) -> dict[str, int]:
    """Comment ids by article label, from the API the widget rendered."""
    return page.evaluate(  # type: ignore[no-any-return]
        """async () => {
            const r = await fetch('/api/v1/sites/demo/comments?thread=demo-post');
            const out = {};
            const walk = (nodes, depth) => nodes.forEach(n => {
                out[(depth ? 'Reply' : 'Comment') + ' by ' + n.author_name] = n.id;
                walk(n.replies, depth + 1); });
            walk((await r.json()).comments, 0);
            return out; }"""
    )


def comments_in_db(session: Session) -> list[Comment]:
    session.expire_all()
    return list(session.scalars(select(Comment).order_by(Comment.id)))


def test_demo_blog_posts_and_nests_replies_with_mouse_and_keyboard(
    app: Flask, page: Page, live_server: LiveServer, demo: Site, watch: PageWatch,
    tmp_path: Path,
) -> None:  # fmt: skip
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Demo blog with the comment widget").click()
    expect(page.get_by_role("heading", name="No comments yet")).to_be_visible()

    form = top_form(page)
    write(form, "Great post, **thanks**! Mine grow on a *west* balcony.", name="Ada")
    form.get_by_role("button", name="Post comment").click()
    ada = article(page, "Comment by Ada")
    expect(ada.locator("strong")).to_have_text("thanks")
    expect(page.get_by_role("heading", name="1 comment")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Your comment was published.")

    ada.get_by_role("button", name="Reply to Ada").click()
    reply = page.get_by_role("form", name="Reply to Ada")
    expect(reply.get_by_label("Your reply")).to_be_focused()  # the name is remembered
    expect(reply.get_by_label("Name")).to_have_value("Ada")
    write(reply, "Which varieties did you try?", name="Bob")
    reply.get_by_role("button", name="Post reply").click()
    bob = article(page, "Reply by Bob")
    expect(bob).to_contain_text("Which varieties")
    expect(reply).to_have_count(0)

    # The keyboard alone: Tab to "Reply to Bob", open it, type, send with Enter on the button.
    bob.get_by_role("button", name="Reply to Bob").focus()
    page.keyboard.press("Enter")
    reply = page.get_by_role("form", name="Reply to Bob")
    expect(reply.get_by_label("Your reply")).to_be_focused()  # the name is remembered
    expect(reply.get_by_label("Name")).to_have_value("Bob")
    reply.get_by_label("Name").fill("Cy")
    reply.get_by_label("Your reply").fill("Sungold, and it worked.")
    reply.get_by_label("Your reply").press("Tab")
    expect(reply.get_by_role("button", name="Post reply")).to_be_focused()
    page.keyboard.press("Enter")
    cy = article(page, "Reply by Cy")
    expect(cy).to_contain_text("Sungold")
    assert ancestry(cy) == ["Reply by Cy", "Reply by Bob", "Comment by Ada"]

    post_as(app, author_name="Sam", body="Mine never ripened. Next year: *Sungold*, then.",
            parent_id=comment_ids(page)["Comment by Ada"])  # fmt: skip
    page.reload()  # what every reader gets from the server, Sam's reply included
    expect(page.get_by_role("heading", name="4 comments")).to_be_visible()
    cy = article(page, "Reply by Cy")
    assert ancestry(cy) == ["Reply by Cy", "Reply by Bob", "Comment by Ada"]
    boxes = [article(page, n).bounding_box() for n in ("Comment by Ada", "Reply by Bob")]
    assert boxes[0] and boxes[1] and cy.bounding_box()
    assert boxes[0]["x"] < boxes[1]["x"] < cy.bounding_box()["x"]  # type: ignore[index]
    expect(cy.locator("time")).to_have_text("just now")

    # The other reader's reply can be reported; the writer's own can be edited.
    sam = article(page, "Reply by Sam")
    expect(sam.get_by_role("button", name="Report comment by Sam")).to_be_visible()
    expect(sam.get_by_role("button", name="Edit your comment")).to_have_count(0)
    expect(cy.get_by_role("button", name="Edit your comment")).to_be_visible()
    # A draft that breaks a guideline, for the screenshot's sake too.
    form = top_form(page)
    write(form, "What a stupid idea, idiot.", name="Dee")
    form.get_by_role("button", name="Post comment").click()
    expect(form.get_by_role("alert").filter(has_text="Before you post")).to_be_visible()

    shot = tmp_path / "demo.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
    # Under the service's own CSP (script-src 'self', no inline style): nothing was blocked.
    assert unexpected(watch) == [] and watch.dialogs == []


def test_a_toxic_draft_warns_and_posting_anyway_awaits_moderation(
    page: Page, browser: Any, live_server: LiveServer, demo: Site, session: Session
) -> None:
    page.goto(live_server.url + "/demo/")
    form = top_form(page)
    write(form, TOXIC, name="Mallory")
    form.get_by_role("button", name="Post comment").click()
    warning = form.get_by_role("alert").filter(has_text="Before you post")
    expect(warning).to_contain_text("Be respectful")
    assert comments_in_db(session) == []  # checking stored nothing

    warning.get_by_role("button", name="Edit my comment").click()
    expect(warning).to_be_hidden()
    expect(form.get_by_label("Your comment")).to_be_focused()
    form.get_by_role("button", name="Post comment").click()
    warning.get_by_role("button", name="Post anyway").click()

    mine = article(page, "Comment by Mallory")
    expect(mine).to_contain_text("Awaiting moderation")
    expect(mine).to_contain_text("only you can see it")
    expect(page.get_by_role("heading", name="No comments yet")).to_be_visible()
    [comment] = comments_in_db(session)
    assert comment.status == CommentStatus.HELD and comment.acknowledged_warning

    page.reload()  # the author token in localStorage brings it back, still marked
    expect(article(page, "Comment by Mallory")).to_contain_text("Awaiting moderation")
    other_reader = browser.new_context().new_page()
    other_reader.goto(live_server.url + "/demo/")
    expect(other_reader.get_by_role("heading", name="No comments yet")).to_be_visible()
    expect(article(other_reader, "Comment by Mallory")).to_have_count(0)
    other_reader.context.close()


def test_the_awaiting_moderation_mark_goes_when_the_worker_publishes_it(
    app: Flask, page: Page, live_server: LiveServer, demo: Site, session: Session
) -> None:
    app.config["SCORE_BUDGET_MS"] = 0  # the model is slow today: the worker decides
    page.goto(live_server.url + "/demo/")
    form = top_form(page)
    write(form, "Lovely tomatoes!", name="Ada")
    form.get_by_role("button", name="Post comment").click()
    mine = article(page, "Comment by Ada")
    expect(mine).to_contain_text("Awaiting moderation")
    expect(mine.get_by_role("button", name="Edit your comment")).to_have_count(0)

    result = worker.process_batch(session, get_scorer(), "w1", batch_size=10, lease_seconds=60,
                                  max_attempts=3)  # fmt: skip
    assert result.scored == 1
    expect(mine).not_to_contain_text("Awaiting moderation", timeout=10_000)
    expect(page.get_by_role("heading", name="1 comment")).to_be_visible()
    expect(mine.get_by_role("button", name="Edit your comment")).to_be_visible()


def post_as(app: Flask, site: str = "demo", thread: str = "demo-post", **fields: Any) -> Any:
    payload = {"thread": thread, "author_name": "Someone", "body": "A reader's comment."}
    payload.update(fields)
    response = app.test_client().post(f"/api/v1/sites/{site}/comments", json=payload)
    assert response.status_code == 201, response.json
    return response.json


def test_a_reader_reports_a_comment_with_a_reason_and_a_note(
    app: Flask, page: Page, live_server: LiveServer, demo: Site, session: Session
) -> None:
    spam = post_as(app, author_name="Spammer", body="Buy cheap seeds at example.com")
    page.goto(live_server.url + "/demo/")
    item = article(page, "Comment by Spammer")
    item.get_by_role("button", name="Report comment by Spammer").click()
    report = page.get_by_role("form", name="Report comment by Spammer")
    report.get_by_role("button", name="Send report").click()
    expect(report.get_by_role("group")).to_contain_text("Is required.")  # the API's words
    report.get_by_label("Spam").check()
    report.get_by_label("Note for the moderators (optional)").fill("Seed spam, third time")
    report.get_by_role("button", name="Send report").click()
    expect(page.get_by_text("Thank you for your report.")).to_be_visible()
    expect(item.get_by_role("button", name="Reported")).to_be_disabled()
    session.expire_all()
    [flag] = session.scalars(select(Flag)).all()
    assert (flag.comment_id, flag.reason, flag.note) == (
        spam["id"], FlagReason.SPAM, "Seed spam, third time"
    )  # fmt: skip


def test_the_author_edits_and_deletes_their_comment_which_leaves_a_tombstone(
    app: Flask, page: Page, live_server: LiveServer, demo: Site, session: Session
) -> None:
    page.goto(live_server.url + "/demo/")
    form = top_form(page)
    write(form, "First thoughts: nice.", name="Ada")
    form.get_by_role("button", name="Post comment").click()
    mine = article(page, "Comment by Ada")
    mine.get_by_role("button", name="Edit your comment").click()
    edit = page.get_by_role("form", name="Edit your comment")
    expect(edit.get_by_label("Your comment")).to_have_value("First thoughts: nice.")
    edit.get_by_label("Your comment").fill("Second thoughts: **very** nice.")
    edit.get_by_role("button", name="Save").click()
    expect(mine.locator("strong")).to_have_text("very")
    expect(mine).to_contain_text("(edited)")
    expect(mine).not_to_contain_text("Awaiting moderation", timeout=10_000)

    [comment] = comments_in_db(session)
    post_as(app, author_name="Bob", body="Agreed!", parent_id=comment.id)
    page.reload()
    mine = article(page, "Comment by Ada")
    mine.get_by_role("button", name="Delete your comment").click()
    page.get_by_role("form", name="Delete your comment").get_by_role(
        "button", name="Delete"
    ).click()
    expect(page.get_by_role("article", name="Removed comment")).to_have_text(
        "This comment was removed."
    )
    expect(article(page, "Reply by Bob")).to_contain_text("Agreed!")
    expect(page.get_by_role("heading", name="1 comment")).to_be_visible()
    session.expire_all()
    assert session.get(Comment, comment.id).status == CommentStatus.HIDDEN  # type: ignore[union-attr]


def test_api_errors_appear_next_to_their_fields_and_the_honeypot_drops_bots(
    page: Page, live_server: LiveServer, demo: Site, session: Session
) -> None:
    page.goto(live_server.url + "/demo/")
    form = top_form(page)
    form.get_by_role("button", name="Post comment").click()
    name, body = form.get_by_label("Name"), form.get_by_label("Your comment")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(body).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description("Must not be empty.")
    write(form, "Hello", name="Ada")
    form.get_by_label("Email (optional, never shown)").fill("ada@nowhere")
    form.get_by_role("button", name="Post comment").click()
    email = form.get_by_label("Email (optional, never shown)")
    expect(email).to_have_accessible_description("Is not a valid email address.")
    expect(name).not_to_have_attribute("aria-invalid", "true")
    assert comments_in_db(session) == []

    # A bot fills every field it finds, the hidden one included.
    email.fill("")
    form.locator("input[name=website]").fill("http://spam.example", force=True)
    form.get_by_role("button", name="Post comment").click()
    expect(page.get_by_role("status")).to_have_text("Thank you.")
    assert comments_in_db(session) == []
    expect(page.locator("#comments").get_by_role("article")).to_have_count(0)


def test_ticking_email_me_on_replies_sends_notify_replies_with_the_email(
    page: Page, live_server: LiveServer, demo: Site, session: Session
) -> None:
    page.goto(live_server.url + "/demo/")
    form = top_form(page)
    write(form, "Tell me when someone answers", name="Ada")
    box = form.get_by_label("Email me when someone replies")
    box.check()
    form.get_by_role("button", name="Post comment").click()  # no email: refused, said why
    expect(box).to_have_accessible_description(re.compile("^Needs author_email"))
    form.get_by_label("Email (optional, never shown)").fill("ada@example.org")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/comments")) as sent:
        form.get_by_role("button", name="Post comment").click()
    assert sent.value.post_data_json["notify_replies"] is True
    assert sent.value.post_data_json["author_email"] == "ada@example.org"
    expect(article(page, "Comment by Ada")).to_be_visible()
    [comment] = comments_in_db(session)
    assert comment.notify_replies and comment.author_email == "ada@example.org"
    # A reply mail links to the page with #comment-ID: the widget shows that comment.
    page.goto(f"{live_server.url}/demo/#comment-{comment.id}")
    expect(article(page, "Comment by Ada")).to_be_focused()


def test_a_rate_limited_writer_is_told_when_to_try_again(
    database_url: str, page: Page, watch: PageWatch
) -> None:
    limited = create_app(
        app_config(database_url, RATELIMIT_ENABLED=True, RATELIMIT_POST="1/minute")
    )
    with limited.app_context():
        db.create_all()
        # The page is the service's own demo: its origin is the site's, as `make run` sets.
        make_site(db.session, "demo", allowed_origins=["http://127.0.0.1:*"])  # type: ignore[arg-type]
    server = serve(limited)
    try:
        page.goto(server.url + "/demo/")
        form = top_form(page)
        write(form, "One", name="Ada")
        form.get_by_role("button", name="Post comment").click()
        expect(article(page, "Comment by Ada")).to_be_visible()
        write(form, "Two")
        form.get_by_role("button", name="Post comment").click()
        expect(form.get_by_role("alert").filter(has_text="too fast")).to_contain_text(
            "Please try again in"
        )
    finally:
        server.server.shutdown()


# ---------------------------------------------------------------- other origins

HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Someone else's blog</title>
<link rel="stylesheet" href="/hostile.css"></head>
<body><h1>A post on another site</h1><p class="probe">Host text</p><h2 class="probe">Host h2</h2>
<p>On this page: <a href="#comments" data-comment-count="{thread}" data-site="{site}">…</a></p>
<div id="comments" data-site="{site}" data-thread="{thread}"{extra}></div>
<script src="{service}/embed.js" async></script>
</body></html>"""

# Rules a blog's theme might have, aimed at the elements the widget uses.
HOSTILE_CSS = """
p { color: rgb(255, 0, 0) !important; }
button, textarea, input, label, form { display: none !important; }
li { float: right; } ol { list-style: upper-roman; } article { opacity: 0.1; }
h2:not(.probe) { font-size: 60px; }
"""


def host_app(service: str, site: str, thread: str, extra: str = "") -> Flask:
    """Another site's blog: its own origin, a strict CSP that allows the service, and a
    theme with rules that would break the widget if they reached it."""
    host = Flask("someone-elses-blog")

    @host.get("/post")
    def post() -> str:
        return HOST_PAGE.format(service=service, site=site, thread=thread, extra=extra)

    @host.get("/hostile.css")
    def css() -> Response:
        return Response(HOSTILE_CSS, mimetype="text/css")

    @host.after_request
    def policy(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' {service}; connect-src 'self' {service}"
        )
        return response

    return host


@pytest.fixture
def other_origin(live_server: LiveServer) -> Iterator[Any]:
    started: list[LiveServer] = []

    def start(site: str, thread: str = "elsewhere", extra: str = "") -> str:
        server = serve(host_app(live_server.url, site, thread, extra))
        started.append(server)
        return server.url + "/post"

    yield start
    for server in started:
        server.server.shutdown()


def test_the_two_line_embed_works_on_a_page_of_another_origin(
    page: Page, live_server: LiveServer, demo: Site, other_origin: Any, watch: PageWatch,
    session: Session,
) -> None:  # fmt: skip
    url = other_origin("demo")
    assert url.split("/")[2] != live_server.url.split("/")[2]
    page.goto(url)
    form = top_form(page)
    write(form, "Hello from another origin", name="Ada")
    form.get_by_role("button", name="Post comment").click()
    ada = article(page, "Comment by Ada")
    expect(ada).to_contain_text("Hello from another origin")
    ada.get_by_role("button", name="Reply to Ada").click()
    reply = page.get_by_role("form", name="Reply to Ada")
    write(reply, "And a reply")
    reply.get_by_role("button", name="Post reply").click()
    expect(article(page, "Reply by Ada")).to_contain_text("And a reply")
    [comment, _] = comments_in_db(session)
    assert comment.thread.key == "elsewhere" and comment.thread.title == "Someone else's blog"
    page.reload()  # the author's tokens travel cross-origin (a preflighted header)
    expect(
        article(page, "Reply by Ada").get_by_role("button", name="Edit your comment")
    ).to_be_visible()
    ada = article(page, "Comment by Ada")

    # The host's theme did not reach the widget, and the widget's styles stayed inside.
    assert ada.evaluate("e => getComputedStyle(e.querySelector('p')).color") != "rgb(255, 0, 0)"
    assert page.locator("p.probe").evaluate("e => getComputedStyle(e).color") == "rgb(255, 0, 0)"
    assert page.locator("h2.probe").evaluate("e => getComputedStyle(e).fontSize") == "24px"
    # The page's own CSP (no inline styles, scripts only from itself and the service) held.
    assert unexpected(watch) == [] and watch.dialogs == []


def test_a_page_of_an_origin_the_site_does_not_allow_is_refused(
    page: Page, app: Flask, live_server: LiveServer, session: Session, other_origin: Any
) -> None:
    make_site(session, "private", allowed_origins=["https://private.example"])
    post_as(app, site="private", thread="elsewhere", author_name="Insider")
    page.goto(other_origin("private"))
    expect(page.get_by_text("Comments could not be loaded")).to_be_visible()
    expect(article(page, "Comment by Insider")).to_have_count(0)
    form = top_form(page)
    write(form, "Let me in", name="Mallory")
    form.get_by_role("button", name="Post comment").click()
    expect(form.get_by_role("alert").filter(has_text="Could not reach")).to_be_visible()
    assert [c.author_name for c in comments_in_db(session)] == ["Insider"]


def test_deep_threads_tombstones_times_and_load_more(
    app: Flask, page: Page, live_server: LiveServer, demo: Site, session: Session,
    other_origin: Any,
) -> None:  # fmt: skip
    first = post_as(app, thread="deep", author_name="Level 0")
    parent = first["id"]
    for depth in range(1, 9):
        parent = post_as(app, thread="deep", author_name=f"Level {depth}", parent_id=parent)["id"]
    removed = post_as(app, thread="deep", author_name="Gone")
    post_as(app, thread="deep", author_name="Answer", parent_id=removed["id"])
    post_as(app, thread="deep", author_name="Third")
    gone = session.get(Comment, removed["id"])
    assert gone is not None
    gone.status = CommentStatus.HIDDEN
    first_comment = session.get(Comment, first["id"])
    assert first_comment is not None
    first_comment.created_at -= timedelta(hours=2)
    session.commit()

    page.goto(other_origin("demo", "deep", ' data-page-size="2"'))
    expect(page.get_by_role("heading", name="11 comments")).to_be_visible()
    expect(page.get_by_role("link", name="11 comments")).to_be_visible()  # a count in the page
    expect(article(page, "Comment by Level 0").locator("time")).to_have_text("2 hours ago")
    x = {d: article(page, f"Reply by Level {d}").bounding_box()["x"] for d in (1, 5, 6, 7, 8)}  # type: ignore[index]
    assert x[1] < x[5] < x[6] == x[7] == x[8]  # indentation stops at 6 levels
    expect(page.get_by_role("article", name="Removed comment")).to_have_text(
        "This comment was removed."
    )
    expect(article(page, "Reply by Answer")).to_be_visible()
    expect(article(page, "Comment by Third")).to_have_count(0)
    page.get_by_role("button", name="Show more comments").click()
    expect(article(page, "Comment by Third")).to_be_visible()
    expect(page.get_by_role("button", name="Show more comments")).to_be_hidden()


XSS_NAME = '<img src=x onerror=alert("name")>'
XSS_BODY = """<script>alert("script")</script>
<svg onload=alert("svg")><circle r=5></circle></svg>
<a href="javascript:alert('raw')">raw link</a> [md link](javascript:alert('md'))
<iframe src="javascript:alert('frame')"></iframe> <b onmouseover=alert("b")>bold?</b>"""


def test_xss_in_name_and_body_renders_as_text_and_never_runs(
    app: Flask, page: Page, live_server: LiveServer, demo: Site, watch: PageWatch,
    other_origin: Any,
) -> None:  # fmt: skip
    post_as(app, author_name=XSS_NAME + " by API", body=XSS_BODY)
    page.goto(live_server.url + "/demo/")
    form = top_form(page)
    write(form, XSS_BODY, name=XSS_NAME)
    form.get_by_role("button", name="Post comment").click()
    for target in (page, None):
        if target is None:  # the same comments on a page of another origin
            page.goto(other_origin("demo", "demo-post"))
        mine = article(page, f"Comment by {XSS_NAME}")
        expect(mine.locator(".author")).to_have_text(XSS_NAME)
        expect(mine).to_contain_text('<script>alert("script")</script>')
        expect(article(page, f"Comment by {XSS_NAME} by API")).to_contain_text("<svg onload")
        widget = page.locator("#comments")
        for tag in ("script", "svg", "img", "iframe", "b"):
            expect(widget.locator(tag)).to_have_count(0)
        for link in widget.get_by_role("link").all():
            assert not (link.get_attribute("href") or "").lower().startswith("javascript")
        mine.get_by_text("bold?").first.hover()
    assert watch.dialogs == []


def test_posting_again_after_a_lost_answer_stores_the_comment_once(
    page: Page, live_server: LiveServer, demo: Site, session: Session
) -> None:
    """The server stores the comment but its answer never reaches the reader (the
    connection dropped). The reader presses Post again: the widget sends the same
    Idempotency-Key, and the server answers with the comment it has instead of a copy."""
    keys: list[str] = []

    def lose_the_first_answer(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            route.fetch()  # the server stores it...
            route.abort("connectionreset")  # ...and the answer is lost on the way
        else:
            route.continue_()

    page.route("**/api/v1/sites/demo/comments", lose_the_first_answer)
    page.goto(live_server.url + "/demo/")
    form = top_form(page)
    write(form, "Only once, please.", name="Ada")
    form.get_by_role("button", name="Post comment").click()
    expect(form.get_by_role("alert")).to_be_visible()  # the widget says it failed
    assert len(comments_in_db(session)) == 1  # but the server has it

    form.get_by_role("button", name="Post comment").click()
    expect(article(page, "Comment by Ada")).to_be_visible()
    assert len(keys) == 2 and keys[0] == keys[1] and len(keys[0]) == 32
    assert [c.body for c in comments_in_db(session)] == ["Only once, please."]

    # A different comment afterwards is a new post with a new key.
    write(form, "A second thought.")
    form.get_by_role("button", name="Post comment").click()
    expect(article(page, "Comment by Ada").nth(1)).to_be_visible()
    assert len(keys) == 3 and keys[2] != keys[0]
    assert len(comments_in_db(session)) == 2
