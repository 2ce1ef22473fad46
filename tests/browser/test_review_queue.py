"""The moderators' review queue in Chromium: signing in, reading why a comment was held,
deciding with the keyboard and in bulk, undo, two moderators at once, live counts, and
pages that run under the Content-Security-Policy without a single console error.

Comments come in through the services and are scored by the real lite model through the
worker, as in production; decisions go through the pages, and the public API says what
readers see afterwards."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.models import Comment, Moderator, Site
from moderation.services import comments, flags, moderators, worker
from moderation.types import FlagReason, Role, utcnow
from tests.browser.conftest import LiveServer, PageWatch

PASSWORD = "correct horse battery staple"
ADMIN = "ada@example.org"

# The first four are held (insults aimed at someone; most also score ≥ 0.9 with the lite
# model), the others pass.
TOXIC = "Go back to school, moron."
RUDE = "Shut up, nobody asked you"
INSULT = "You are a clown and your opinion is worthless"
STUPID = "you are a stupid idiot"
FINE = "Lovely photos of the coast, thank you."
QUESTION = "Which lens did you use?"


@pytest.fixture(autouse=True)
def no_page_errors(page: Page, watch: PageWatch) -> Iterator[None]:
    """Every test ends without console errors (a CSP violation is one), uncaught
    exceptions or JavaScript dialogs."""
    page.on("pageerror", lambda error: watch.errors.append(f"uncaught: {error}"))
    yield
    assert watch.errors == []
    assert watch.dialogs == []


@pytest.fixture
def admin(session: Session) -> Moderator:
    person, _ = moderators.ensure_admin(session, ADMIN, PASSWORD)
    session.commit()
    return person


def post(
    session: Session,
    body: str,
    *,
    thread: str = "harbour-walk",
    parent: Comment | None = None,
    author: str = "Reader",
    url: str | None = None,
) -> Comment:
    comment = comments.submit(
        session,
        site_slug="blog",
        thread_key=thread,
        thread_title=thread.replace("-", " ").capitalize(),
        thread_url=url,
        author_name=author,
        body=body,
        now=utcnow(),
        parent_id=parent.id if parent else None,
    )
    session.commit()
    return comment


def score_pending(session: Session) -> None:
    """What the worker does in production: score every pending comment, apply the policy."""
    worker.process_batch(
        session, get_scorer(), "browser-test", batch_size=100, lease_seconds=60, max_attempts=3
    )


def sign_in(page: Page, server: LiveServer, email: str = ADMIN) -> None:
    page.goto(server.url + "/moderation/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(server.url + "/moderation/")
    page.wait_for_load_state()  # review.js (deferred) listens for keys from here on


def item(page: Page, comment: Comment) -> Any:
    return page.locator(f"#item-{comment.id}")


def public_status(page: Page, server: LiveServer, comment: Comment) -> str | None:
    """The status readers get from the public API; None when it does not exist for them."""
    response = page.request.get(f"{server.url}/api/v1/comments/{comment.id}")
    if response.status == 404:
        return None
    assert response.ok, response.status
    return str(response.json()["status"])


def public_thread_ids(page: Page, server: LiveServer, thread: str) -> set[int]:
    response = page.request.get(f"{server.url}/api/v1/sites/blog/comments?thread={thread}")
    assert response.ok, response.status
    found: set[int] = set()
    stack = list(response.json()["comments"])
    while stack:
        node = stack.pop()
        found.add(node["id"])
        stack.extend(node["replies"])
    return found


def test_a_wrong_password_is_named_at_the_field_and_the_right_one_opens_the_queue(
    page: Page, live_server: LiveServer, admin: Moderator
) -> None:
    page.goto(live_server.url + "/moderation/")
    expect(page).to_have_url(re.compile(r"/moderation/login\?next="))
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Sign in").click()

    password_field = page.locator("p.field").filter(has=page.get_by_label("Password"))
    expect(password_field.get_by_role("alert")).to_have_text("wrong email or password")
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Email")).to_have_value(ADMIN)

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server.url + "/moderation/")
    expect(page.locator(".tabs [aria-current=page]")).to_contain_text("Held")
    expect(page.get_by_text(ADMIN)).to_be_visible()


def test_the_held_tab_shows_the_score_bars_and_why_the_model_held_it(
    page: Page, live_server: LiveServer, session: Session, site: Site, admin: Moderator
) -> None:
    kind = post(session, FINE, author="Mira")
    toxic = post(session, TOXIC, author="Troll")
    score_pending(session)
    sign_in(page, live_server)

    expect(page.locator("article.item")).to_have_count(1)
    held = item(page, toxic)
    expect(held).to_contain_text(TOXIC)
    expect(held.locator(".status")).to_have_text("held")
    bar = held.get_by_role("list", name=re.compile(r"model scores \(lite\)")).locator("li")
    expect(bar).to_have_count(1)
    expect(bar.locator(".label")).to_have_text("toxicity")
    assert float(bar.locator("meter").get_attribute("value") or 0) > 0.9
    expect(held.locator(".reasons")).to_contain_text(
        re.compile(r"toxicity 0\.9\d ≥ hold threshold 0\.90")
    )
    expect(item(page, kind)).to_have_count(0)  # passed the policy: not in Held


def test_each_detoxify_label_gets_its_own_bar(
    page: Page, database_url: str, tiny_detoxify: Any, watch: PageWatch
) -> None:
    from app import create_app
    from moderation.db import db
    from tests.browser.conftest import serve
    from tests.conftest import app_config, make_site

    app: Flask = create_app(
        app_config(
            database_url,
            SCORER="detoxify",
            DETOXIFY_CHECKPOINT=str(tiny_detoxify.checkpoint),
            DETOXIFY_CONFIG_DIR=str(tiny_detoxify.config_dir),
        )
    )
    with app.app_context():
        db.create_all()
        session: Session = db.session  # type: ignore[assignment]
        make_site(session)
        moderators.ensure_admin(session, ADMIN, PASSWORD)
        session.commit()
        toxic = post(session, "you pathetic loser, shut up you moron")
        score_pending(session)
        labels = get_scorer().labels
        server = serve(app)
        try:
            sign_in(page, server)
            bars = item(page, toxic).locator(".scores li")
            expect(bars).to_have_count(len(labels))
            assert len(labels) == 6
            shown = bars.locator(".label").all_text_contents()
            assert sorted(shown) == sorted(labels)
            values = [float(v) for v in bars.locator(".value").all_text_contents()]
            assert values == sorted(values, reverse=True)  # the worst label first
            assert values[0] > 0.5
        finally:
            server.server.shutdown()
            db.session.remove()
            db.engine.dispose()


def test_j_k_move_and_a_approves_so_readers_see_the_comment(
    page: Page, live_server: LiveServer, session: Session, site: Site, admin: Moderator
) -> None:
    worst = post(session, STUPID)
    milder = post(session, INSULT)
    score_pending(session)
    assert public_status(page, live_server, milder) is None  # held: not for readers
    sign_in(page, live_server)

    articles = page.locator("article.item")
    expect(articles).to_have_count(2)
    expect(articles.nth(0)).to_have_attribute("id", f"item-{worst.id}")  # priority order
    expect(articles.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("j")
    expect(articles.nth(1)).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("k")
    expect(articles.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    expect(articles.nth(1)).not_to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("j")
    page.keyboard.press("a")

    expect(page.locator("#messages")).to_contain_text("1 comment approved")
    expect(item(page, milder)).to_have_count(0)
    expect(item(page, worst)).to_be_visible()
    expect(page.locator('[data-count="held"]')).to_have_text("1")
    assert public_status(page, live_server, milder) == "visible"
    assert public_status(page, live_server, worst) is None


def test_a_hidden_comment_offers_only_restore_and_a_restores_it(
    page: Page, live_server: LiveServer, session: Session, site: Site, admin: Moderator
) -> None:
    toxic = post(session, TOXIC)
    score_pending(session)
    sign_in(page, live_server)
    item(page, toxic).get_by_role("button", name="Hide", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("1 comment hidden")

    page.goto(live_server.url + "/moderation/?tab=hidden")
    page.wait_for_load_state()
    hidden = item(page, toxic)
    expect(hidden.locator(".actions button")).to_have_text(["Restore"])
    page.keyboard.press("a")
    expect(page.locator("#messages")).to_contain_text("1 comment restored")
    assert public_status(page, live_server, toxic) == "visible"


def test_hide_with_replies_removes_the_whole_branch_from_the_public_thread(
    page: Page, live_server: LiveServer, session: Session, site: Site, admin: Moderator
) -> None:
    opening = post(session, FINE, author="Mira")
    parent = post(session, "Honestly the whole comment section is a dumpster fire.")
    reply = post(session, QUESTION, parent=parent)
    reply_to_reply = post(session, "The 35mm, I think.", parent=reply)
    score_pending(session)
    branch = {parent.id, reply.id, reply_to_reply.id}
    assert public_thread_ids(page, live_server, "harbour-walk") == branch | {opening.id}
    for _ in range(3):  # enough reader reports send it back to the moderators
        flags.flag_comment(session, parent.id, FlagReason.ABUSIVE, None, None, utcnow())
    session.commit()
    sign_in(page, live_server)

    held = item(page, parent)
    expect(held.locator(".reasons")).to_contain_text("reported by 3 readers")
    expect(held.locator("details.flags summary")).to_have_text("3 reader reports")
    held.get_by_role("button", name="Hide with replies").click()

    expect(page.locator("#messages")).to_contain_text("3 comments hidden with replies")
    expect(held).to_have_count(0)
    assert public_thread_ids(page, live_server, "harbour-walk") == {opening.id}
    page.get_by_role("link", name=re.compile(r"^Hidden")).click()
    for comment_id in branch:
        expect(page.locator(f"#item-{comment_id} .status")).to_have_text("hidden")


def test_bulk_hide_with_a_shift_click_range_and_select_all(
    page: Page, live_server: LiveServer, session: Session, site: Site, admin: Moderator
) -> None:
    for index in range(5):
        post(session, f"{TOXIC} #{index}")
    score_pending(session)
    sign_in(page, live_server)

    boxes = page.locator('article.item input[type=checkbox][name="target"]')
    expect(boxes).to_have_count(5)
    ids = [page.locator("article.item").nth(i).get_attribute("data-id") for i in range(5)]
    boxes.nth(0).click()
    boxes.nth(3).click(modifiers=["Shift"])
    assert [boxes.nth(i).is_checked() for i in range(5)] == [True, True, True, True, False]
    expect(page.locator("#selected-count")).to_have_text("4 selected")
    page.get_by_role("button", name="Hide selected").click()

    expect(page.locator("#messages")).to_contain_text("4 comments hidden")
    expect(page.locator("article.item")).to_have_count(1)
    expect(page.locator("article.item")).to_have_attribute("data-id", str(ids[4]))
    for comment_id in ids[:4]:
        response = page.request.get(f"{live_server.url}/api/v1/comments/{comment_id}")
        assert response.status == 404

    page.wait_for_load_state()
    page.keyboard.press("x")  # the current comment, the one left
    expect(page.locator("#selected-count")).to_have_text("1 selected")
    page.keyboard.press("x")
    expect(page.locator("#selected-count")).to_have_text("0 selected")
    page.get_by_label("select all on page").check()
    expect(page.locator("#selected-count")).to_have_text("1 selected")
    page.get_by_role("button", name="Hide selected").click()
    expect(page.locator("#messages")).to_contain_text("1 comment hidden")
    expect(page.get_by_text("The queue is clear.")).to_be_visible()
    expect(page.locator('[data-count="hidden"]')).to_have_text("5")


def test_undo_with_the_button_and_with_the_u_key(
    page: Page, live_server: LiveServer, session: Session, site: Site, admin: Moderator
) -> None:
    toxic = post(session, TOXIC)
    score_pending(session)
    sign_in(page, live_server)

    page.keyboard.press("h")
    expect(page.locator("#messages")).to_contain_text("1 comment hidden")
    expect(item(page, toxic)).to_have_count(0)
    page.get_by_role("button", name="Undo").click()
    expect(page.locator("#messages")).to_contain_text("undone: 1 comment back as it was")
    expect(item(page, toxic).locator(".status")).to_have_text("held")

    item(page, toxic).get_by_role("button", name="Approve").click()
    expect(page.locator("#messages")).to_contain_text("1 comment approved")
    assert public_status(page, live_server, toxic) == "visible"
    page.wait_for_load_state()
    page.keyboard.press("u")
    expect(page.locator("#messages")).to_contain_text("undone")
    expect(item(page, toxic).locator(".status")).to_have_text("held")
    assert public_status(page, live_server, toxic) is None
    item(page, toxic).locator("details.history summary").click()
    expect(item(page, toxic).locator("details.history li")).to_have_count(5)


def test_the_second_moderator_is_told_who_decided_first(
    browser: Browser,
    page: Page,
    live_server: LiveServer,
    session: Session,
    site: Site,
    admin: Moderator,
    watch: PageWatch,
) -> None:
    moderators.create_moderator(session, "bo@example.org", Role.MODERATOR, [site], PASSWORD)
    session.commit()
    toxic = post(session, RUDE)
    score_pending(session)

    other_context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        other = other_context.new_page()
        other.set_default_timeout(10_000)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                watch.errors.append(message.text)

        other.on("console", on_console)
        sign_in(page, live_server)
        sign_in(other, live_server, "bo@example.org")
        expect(item(other, toxic)).to_be_visible()  # both have it on screen

        item(page, toxic).get_by_role("button", name="Approve").click()
        expect(page.locator("#messages")).to_contain_text("1 comment approved")
        item(other, toxic).get_by_role("button", name="Hide", exact=True).click()

        expect(other.locator(".flash.conflict")).to_have_text(
            f"comment {toxic.id} was already decided by {ADMIN}: it is now visible"
        )
        expect(item(other, toxic)).to_have_count(0)  # the queue reloaded without it
        assert public_status(page, live_server, toxic) == "visible"
    finally:
        other_context.close()


def test_the_question_mark_opens_the_keyboard_help(
    page: Page, live_server: LiveServer, session: Session, site: Site, admin: Moderator
) -> None:
    toxic = post(session, TOXIC)
    score_pending(session)
    sign_in(page, live_server)

    help_dialog = page.get_by_role("dialog", name="Keyboard")
    expect(help_dialog).to_be_hidden()
    page.keyboard.press("?")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("approve the current comment")
    page.keyboard.press("h")  # the help is modal: no decision behind it
    help_dialog.get_by_role("button", name="Close").click()
    expect(help_dialog).to_be_hidden()
    page.keyboard.press("?")
    expect(help_dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    page.reload()
    expect(item(page, toxic).locator(".status")).to_have_text("held")


def test_tab_counts_follow_new_comments_without_a_reload(
    page: Page, live_server: LiveServer, session: Session, site: Site, admin: Moderator
) -> None:
    post(session, TOXIC)
    score_pending(session)
    page.clock.install()  # the 10-second poll runs when the test moves the clock on
    sign_in(page, live_server)
    held_count = page.locator('[data-count="held"]')
    expect(held_count).to_have_text("1")

    post(session, RUDE)
    post(session, QUESTION)
    score_pending(session)
    post(session, FINE)  # not scored yet: pending
    page.clock.run_for(10_000)  # fires the poll (if real time has not already)
    expect(held_count).to_have_text("2")
    expect(page.locator('[data-count="pending"]')).to_have_text("1")
    expect(page.locator('[data-count="all"]')).to_have_text("4")
    expect(page.locator(".tabs [aria-current=page]")).to_contain_text("Held")

    score_pending(session)  # and it keeps polling after the swap
    page.clock.run_for(10_000)  # fires the poll (if real time has not already)
    expect(page.locator('[data-count="pending"]')).to_have_text("0")


def test_every_moderator_page_runs_under_the_csp_without_console_errors(
    page: Page, live_server: LiveServer, session: Session, site: Site, admin: Moderator
) -> None:
    top = post(session, FINE, author="Mira")
    middle = post(session, QUESTION, parent=top, author="Dev")
    reply = post(session, INSULT, parent=middle, author="Troll")
    hostile = post(
        session,
        "<script>alert(1)</script> **bold** [link](javascript:alert(2)) <img src=x onerror=a()>",
        thread="hostile",
    )
    # Posts may no longer name such a URL, but a thread stored before that rule (or
    # brought by an import) may hold one: the queue must still never make it a link.
    hostile.thread.url = "javascript:alert(4)"
    session.commit()
    score_pending(session)
    flags.flag_comment(session, top.id, FlagReason.SPAM, "looks like an ad", None, utcnow())
    session.commit()
    sign_in(page, live_server)

    held = item(page, reply)
    expect(held.locator(".parent")).to_contain_text(f"in reply to Dev: {QUESTION}")
    held.get_by_role("button", name="show the whole branch").click()  # htmx, CSRF header
    branch = held.get_by_role("list", name="the conversation above this comment")
    expect(branch.locator("li")).to_have_text([re.compile("^Mira"), re.compile("^Dev")])
    expect(held.locator(".parent")).to_have_count(0)  # the branch replaced it

    page.goto(f"{live_server.url}/moderation/comments/{reply.id}")
    conversation = page.get_by_role("list", name="the conversation above this comment")
    expect(conversation.locator("li")).to_contain_text([FINE, QUESTION])
    expect(item(page, reply).locator(".parent")).to_have_count(0)  # not shown twice
    expect(item(page, reply).get_by_role("checkbox")).to_have_count(0)  # no bulk form here
    item(page, reply).get_by_role("button", name="Approve").click()
    expect(page).to_have_url(re.compile(rf"/moderation/comments/{reply.id}$"))
    expect(item(page, reply).locator(".status")).to_have_text("visible")

    page.goto(f"{live_server.url}/moderation/?tab=all&thread=hostile")
    expect(item(page, hostile).locator(".body strong")).to_have_text("bold")
    expect(item(page, hostile).locator("a[href^='javascript'], script, img")).to_have_count(0)
    expect(item(page, hostile).locator(".head")).to_contain_text("Hostile")

    for path in [
        "/moderation/?tab=reported",
        "/moderation/?tab=pending",
        "/moderation/?tab=hidden",
        "/moderation/?tab=all&order=newest&q=coast",
        f"/moderation/comments/{reply.id}",
        "/moderation/dashboard",
        "/moderation/audit",
        "/moderation/moderators",
        "/moderation/sites/blog/settings",
        "/moderation/sites",
        "/moderation/sites/blog",
        "/moderation/sites/blog/delete",
    ]:
        response = page.goto(live_server.url + path)
        assert response is not None and response.ok, (path, response and response.status)
        expect(page.locator("main h1, main .tabs").first).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Traceback")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/moderation/login"))


def test_the_settings_checkbox_sits_beside_its_label(
    page: Page, live_server: LiveServer, site: Site, admin: Moderator
) -> None:
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/moderation/sites/blog/settings")
    checkbox = page.get_by_role("checkbox", name=re.compile("Keep the texts sent to the scoring"))
    label = page.locator("label[for=store_analyzed_text]")
    box, text = checkbox.bounding_box(), label.bounding_box()
    assert box is not None and text is not None
    gap = text["x"] - (box["x"] + box["width"])
    assert 0 <= gap < 16, (box, text)  # on its left, next to it
    middle = box["y"] + box["height"] / 2
    assert text["y"] <= middle <= text["y"] + text["height"], (box, text)  # on its line
